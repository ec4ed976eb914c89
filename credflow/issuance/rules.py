"""Stacked-credential pathways: declarative YAML rules evaluated into badge issue, renew and expire actions.

A pathway (``rubrics/pathways/*.yaml``) names a set of micro-credentials (its *steps*), the
badges it awards and the rules that award them. Two kinds of rule exist:

``certify``
    Earning a step while no certification is valid issues one, valid for the badge's
    ``validity`` from that date. Earning a step while a certification is valid renews it: a
    new credential valid from the renewal date, the older one marked superseded (not revoked).
    With no step earned within the validity, the certification expires.
``complete``
    Awarded once every step is earned. With ``while_holding``, only if the step that completes
    the set was earned while a certification (of that badge) issued or renewed by an *earlier*
    step was valid: OpenSciEd's "third within the second year (or sooner)".

The lapse rule: earning a step after the certification lapsed starts a new certification year
(re-certification). Steps earned before the lapse still count towards completing the set, so a
facilitator who earned step 1, let it lapse, then earned steps 2 and 3 within a year is an
expert; one who completes the set with a step earned while not certified is re-certified but
not an expert (the seed's "within the second year" was missed), and cannot become one later.

Dates are days: a badge is valid on the days ``valid_from <= day < valid_until``; a validity of
``P1Y`` from 29 February ends on 28 February. Steps earned on one day are taken in the order the
pathway lists them. Evaluation is pure and idempotent: :func:`evaluate` replays the earned steps,
compares the result with the badges held and returns only what is missing. It never issues a
credential that would already be expired today: catching up after a long gap records only what is
still current (and intermediate renewals collapse into one).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from credflow.catalog.loader import CatalogProblem, field_path, yaml_problem
from credflow.catalog.models import Record, Slug
from credflow.errors import ConfigurationError

NEVER = "never"
REMIND_DAYS = 60  # Credly reminds 60 days before a badge expires
_DURATION = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?$")


def add_duration(start: date, duration: str) -> date:
    """Add an ISO 8601 duration of years, months and days (``P1Y``, ``P6M``, ``P90D``) to a date.

    Args:
        start: The first day.
        duration: The duration; a day past the end of the target month becomes its last day.

    Returns:
        The date ``duration`` after ``start``.

    Raises:
        ValueError: ``duration`` is not of the form ``P[nY][nM][nD]``.
    """
    match = _DURATION.match(duration)
    if match is None or duration == "P":
        raise ValueError(f"{duration!r} is not a duration like P1Y, P6M or P90D")
    years, months, days = (int(match.group(name) or 0) for name in ("years", "months", "days"))
    index = start.month - 1 + months + 12 * years
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=days)


class PathwayBadge(Record):
    """A badge a pathway awards (distinct from the micro-credentials' own badges)."""

    id: Slug
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    validity: str = Field(description="An ISO 8601 duration (P1Y, P6M, P90D) or 'never'.")

    @field_validator("validity")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value != NEVER:
            add_duration(date(2000, 1, 1), value)
        return value

    @property
    def expires(self) -> bool:
        return self.validity != NEVER

    def valid_until(self, start: date) -> date | None:
        """The first day a credential issued on ``start`` is no longer valid (None: never expires)."""
        return add_duration(start, self.validity) if self.expires else None


class CertifyRule(Record):
    """Issue the badge on a step earned while uncertified; renew it on a step earned while certified."""

    id: Slug
    kind: Literal["certify"]
    badge: Slug


class CompleteRule(Record):
    """Issue the badge once every step is earned (the last one while holding ``while_holding``)."""

    id: Slug
    kind: Literal["complete"]
    badge: Slug
    while_holding: Slug | None = None


Rule = Annotated[CertifyRule | CompleteRule, Field(discriminator="kind")]


def _twice(values: Sequence[str]) -> list[str]:
    return sorted({value for value in values if values.count(value) > 1})


class Pathway(Record):
    """A set of micro-credentials and the rules that award badges for earning them."""

    id: Slug
    title: str = Field(min_length=1)
    issuer: Slug
    steps: tuple[Slug, ...] = Field(min_length=1, description="Micro-credential ids of the set.")
    badges: tuple[PathwayBadge, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: tuple[str, ...]) -> tuple[str, ...]:
        if twice := _twice(steps):
            raise ValueError(f"steps listed twice: {', '.join(twice)}")
        return steps

    @field_validator("badges")
    @classmethod
    def _unique_badges(cls, badges: tuple[PathwayBadge, ...]) -> tuple[PathwayBadge, ...]:
        if twice := _twice([badge.id for badge in badges]):
            raise ValueError(f"badge ids used twice: {', '.join(twice)}")
        return badges

    @field_validator("rules")
    @classmethod
    def _rules_reference_badges(
        cls, rules: tuple[CertifyRule | CompleteRule, ...], info: ValidationInfo
    ) -> tuple[CertifyRule | CompleteRule, ...]:
        if twice := _twice([rule.id for rule in rules]):
            raise ValueError(f"rule ids used twice: {', '.join(twice)}")
        if twice := _twice([rule.badge for rule in rules]):
            raise ValueError(f"badges awarded by more than one rule: {', '.join(twice)}")
        if "badges" not in info.data:
            return rules  # the badges' own error is reported; cross-checks would only add noise
        badges: dict[str, PathwayBadge] = {badge.id: badge for badge in info.data["badges"]}
        certified = {rule.badge for rule in rules if isinstance(rule, CertifyRule)}
        for rule in rules:
            if rule.badge not in badges:
                raise ValueError(
                    f"rule {rule.id!r} awards badge {rule.badge!r}, which is not in badges "
                    f"(defined: {', '.join(sorted(badges))})"
                )
            if isinstance(rule, CertifyRule) and not badges[rule.badge].expires:
                raise ValueError(
                    f"rule {rule.id!r} certifies with badge {rule.badge!r}, which never expires; "
                    "a certification needs a validity such as P1Y"
                )
            if (
                isinstance(rule, CompleteRule)
                and rule.while_holding is not None
                and rule.while_holding not in certified
            ):
                raise ValueError(
                    f"rule {rule.id!r}: while_holding {rule.while_holding!r} is not a badge awarded by a certify rule"
                )
        return rules

    def badge(self, badge_id: str) -> PathwayBadge:
        """The pathway's badge with this id.

        Raises:
            KeyError: The pathway has no such badge.
        """
        for badge in self.badges:
            if badge.id == badge_id:
                return badge
        raise KeyError(f"pathway {self.id!r} has no badge {badge_id!r}")


# -- loading -----------------------------------------------------------------------------------


class PathwayError(ConfigurationError):
    """Pathway files have errors; ``problems`` lists every one with its file and field."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        super().__init__("pathway errors:\n  " + "\n  ".join(str(p) for p in problems))
        self.problems = problems


def _parse(path: Path, known_credentials: Collection[str] | None) -> tuple[Pathway | None, list[CatalogProblem]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [yaml_problem(path, exc)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [CatalogProblem(path, "(file)", f"cannot be read: {exc}")]
    if not isinstance(data, dict):
        return None, [CatalogProblem(path, "(file)", "must be a mapping of fields")]
    try:
        pathway = Pathway.model_validate(data)
    except ValidationError as exc:
        return None, [CatalogProblem(path, field_path(err["loc"]), err["msg"]) for err in exc.errors()]
    if known_credentials is not None:
        known = ", ".join(sorted(known_credentials)) or "none"
        unknown = [
            CatalogProblem(path, f"steps[{index}]", f"no micro-credential {step!r} in the catalog; known: {known}")
            for index, step in enumerate(pathway.steps)
            if step not in known_credentials
        ]
        if unknown:
            return None, unknown
    return pathway, []


def check_pathways(
    folder: Path, *, known_credentials: Collection[str] | None = None
) -> tuple[dict[str, Pathway], list[CatalogProblem]]:
    """Load every pathway file in ``folder`` that loads, and collect every problem.

    A missing folder means no pathways. With ``known_credentials`` (the catalog's ids), every
    step must name one of them.

    Args:
        folder: The pathways folder (``rubrics/pathways``).
        known_credentials: The micro-credential ids the steps may name.

    Returns:
        The pathways by id, and the problems, each naming its file and field.
    """
    pathways: dict[str, Pathway] = {}
    files: dict[str, Path] = {}
    problems: list[CatalogProblem] = []
    if not folder.exists():
        return pathways, problems
    if not folder.is_dir():
        return pathways, [CatalogProblem(folder, "(folder)", "is not a folder")]
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        pathway, found = _parse(path, known_credentials)
        problems.extend(found)
        if pathway is None:
            continue
        if pathway.id in pathways:
            problems.append(CatalogProblem(path, "id", f"{pathway.id!r} is already defined in {files[pathway.id]}"))
            continue
        pathways[pathway.id], files[pathway.id] = pathway, path
    return pathways, problems


def load_pathways(folder: Path, *, known_credentials: Collection[str] | None = None) -> dict[str, Pathway]:
    """Load every pathway in ``folder``, refusing them all when any file has an error.

    Args:
        folder: The pathways folder (``rubrics/pathways``); a missing folder means no pathways.
        known_credentials: The micro-credential ids the steps may name.

    Returns:
        The pathways by id.

    Raises:
        PathwayError: with every problem, each naming its file and field.
    """
    pathways, problems = check_pathways(folder, known_credentials=known_credentials)
    if problems:
        raise PathwayError(problems)
    return pathways


def load_pathway(path: Path, *, known_credentials: Collection[str] | None = None) -> Pathway:
    """Load one pathway file.

    Args:
        path: The YAML file.
        known_credentials: The micro-credential ids the steps may name.

    Returns:
        The pathway.

    Raises:
        PathwayError: with every problem, each naming the file and field.
    """
    pathway, problems = _parse(path, known_credentials)
    if pathway is None:
        raise PathwayError(problems)
    return pathway


# -- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarnedStep:
    """A micro-credential the holder earned, and the day it was decided."""

    credential_id: str
    earned_on: date


@dataclass(frozen=True)
class HeldBadge:
    """A pathway badge credential already issued to the holder.

    ``id`` is the issued credential's own id (the one actions refer to); ``expired`` records that
    its expiry was processed (an :class:`Expire` action applied).
    """

    id: str
    badge_id: str
    valid_from: date
    valid_until: date | None
    superseded: bool = False
    expired: bool = False

    @property
    def current(self) -> bool:
        """Neither superseded nor recorded as expired."""
        return not self.superseded and not self.expired

    def valid_on(self, day: date) -> bool:
        """Whether ``day`` falls within its validity (superseded credentials stay valid, not revoked)."""
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


@dataclass(frozen=True)
class Issue:
    """Issue a new badge credential; ``step`` is the micro-credential whose earning triggered it."""

    badge_id: str
    valid_from: date
    valid_until: date | None
    rule: str
    step: str


@dataclass(frozen=True)
class Renew:
    """Issue a renewed badge credential and mark the held one ``supersedes`` as superseded."""

    badge_id: str
    supersedes: str
    valid_from: date
    valid_until: date | None
    rule: str
    step: str


@dataclass(frozen=True)
class Expire:
    """Record that the held credential ``held_id`` expired ``on`` that day (send the notice)."""

    held_id: str
    badge_id: str
    on: date


Action = Issue | Renew | Expire


@dataclass(frozen=True)
class _Term:
    """One certification credential in a replay of the earned steps."""

    valid_from: date
    valid_until: date
    step: str


@dataclass(frozen=True)
class _Replay:
    periods: list[list[_Term]]  # continuous certified periods: an issue, then its renewals
    certified_before: dict[str, bool]  # step -> a certification from an earlier step was valid


def _earned_steps(pathway: Pathway, earned: Sequence[EarnedStep], today: date) -> list[EarnedStep]:
    order = {step: index for index, step in enumerate(pathway.steps)}
    first: dict[str, date] = {}
    for step in earned:
        if step.credential_id in order and step.earned_on <= today:
            first[step.credential_id] = min(first.get(step.credential_id, step.earned_on), step.earned_on)
    steps = [EarnedStep(credential_id, earned_on) for credential_id, earned_on in first.items()]
    return sorted(steps, key=lambda step: (step.earned_on, order[step.credential_id]))


def _replay(badge: PathwayBadge, steps: list[EarnedStep]) -> _Replay:
    periods: list[list[_Term]] = []
    certified_before: dict[str, bool] = {}
    for step in steps:
        until = badge.valid_until(step.earned_on)
        assert until is not None  # certify badges expire (checked by Pathway)
        current = periods[-1][-1] if periods else None
        if current is not None and step.earned_on < current.valid_until:
            certified_before[step.credential_id] = True
            if until > current.valid_until:  # a step on the day of the last one changes nothing
                periods[-1].append(_Term(step.earned_on, until, step.credential_id))
        else:
            certified_before[step.credential_id] = False
            periods.append([_Term(step.earned_on, until, step.credential_id)])
    return _Replay(periods, certified_before)


def _certify(rule: CertifyRule, replay: _Replay, held: list[HeldBadge], today: date) -> list[Issue | Renew]:
    actions: list[Issue | Renew] = []
    for period in replay.periods:
        start, end, target = period[0].valid_from, period[-1].valid_until, period[-1]
        in_period = [h for h in held if start <= h.valid_from < end]
        latest = max(in_period, key=lambda h: h.valid_from, default=None)
        if (latest is not None and latest.valid_from >= target.valid_from) or target.valid_until <= today:
            continue
        if latest is None:
            actions.append(Issue(rule.badge, target.valid_from, target.valid_until, rule.id, target.step))
        else:
            actions.append(Renew(rule.badge, latest.id, target.valid_from, target.valid_until, rule.id, target.step))
    return actions


def _complete(
    rule: CompleteRule,
    badge: PathwayBadge,
    pathway: Pathway,
    steps: list[EarnedStep],
    replays: dict[str, _Replay],
    held: list[HeldBadge],
    today: date,
) -> list[Issue]:
    if any(h.badge_id == rule.badge for h in held) or {s.credential_id for s in steps} != set(pathway.steps):
        return []
    completing = steps[-1]
    if rule.while_holding is not None and not replays[rule.while_holding].certified_before[completing.credential_id]:
        return []
    until = badge.valid_until(completing.earned_on)
    if until is not None and until <= today:
        return []
    return [Issue(rule.badge, completing.earned_on, until, rule.id, completing.credential_id)]


def _sort_key(action: Action) -> tuple[date, int]:
    if isinstance(action, Expire):
        return action.on, 0
    return action.valid_from, 1


def evaluate(pathway: Pathway, earned: Sequence[EarnedStep], held: Sequence[HeldBadge], today: date) -> list[Action]:
    """What to do so the holder's pathway badges match the micro-credentials they earned.

    Replays the earned steps (up to ``today``) through the pathway's rules and compares the
    result with ``held``. Applying the returned actions and evaluating again returns nothing.

    Args:
        pathway: The pathway.
        earned: The holder's earned micro-credentials (any; those outside the pathway are ignored).
        held: The holder's pathway badge credentials (those of other pathways are ignored).
        today: The evaluation day.

    Returns:
        The actions in date order (an expiry before an issue on the same day): :class:`Issue`,
        :class:`Renew` and :class:`Expire`.
    """
    badge_ids = {badge.id for badge in pathway.badges}
    mine = [h for h in held if h.badge_id in badge_ids]
    steps = _earned_steps(pathway, earned, today)
    replays = {
        rule.badge: _replay(pathway.badge(rule.badge), steps) for rule in pathway.rules if isinstance(rule, CertifyRule)
    }
    actions: list[Action] = []
    for rule in pathway.rules:
        badge_held = [h for h in mine if h.badge_id == rule.badge]
        if isinstance(rule, CertifyRule):
            actions.extend(_certify(rule, replays[rule.badge], badge_held, today))
        else:
            actions.extend(_complete(rule, pathway.badge(rule.badge), pathway, steps, replays, badge_held, today))
    renewed = {action.supersedes for action in actions if isinstance(action, Renew)}
    for h in expired(mine, today):
        if h.id not in renewed:  # a renewal supersedes it instead
            assert h.valid_until is not None  # expired() only returns credentials that expire
            actions.append(Expire(h.id, h.badge_id, h.valid_until))
    return sorted(actions, key=_sort_key)


def apply_actions(
    held: Sequence[HeldBadge], actions: Sequence[Action], *, new_id: Callable[[Issue | Renew], str]
) -> list[HeldBadge]:
    """The held badges after ``actions`` (what recording them in a store amounts to).

    Args:
        held: The badges held before.
        actions: Actions from :func:`evaluate`.
        new_id: Gives the id of the credential an Issue or Renew creates.

    Returns:
        The badges held after: new credentials appended, superseded and expired ones marked.
    """
    result = list(held)
    for action in actions:
        if isinstance(action, Expire):
            result = [replace(h, expired=True) if h.id == action.held_id else h for h in result]
            continue
        if isinstance(action, Renew):
            result = [replace(h, superseded=True) if h.id == action.supersedes else h for h in result]
        result.append(HeldBadge(new_id(action), action.badge_id, action.valid_from, action.valid_until))
    return result


def expiring(held: Sequence[HeldBadge], today: date, remind_days: int = REMIND_DAYS) -> list[HeldBadge]:
    """Current credentials that expire within ``remind_days`` (Credly reminds 60 days before).

    Args:
        held: Badge credentials.
        today: The sweep day.
        remind_days: How many days before expiry the reminder is due.

    Returns:
        Those neither superseded nor expired whose ``valid_until`` falls in
        ``(today, today + remind_days]``, soonest first.
    """
    horizon = today + timedelta(days=remind_days)
    found = [h for h in held if h.current and h.valid_until is not None and today < h.valid_until <= horizon]
    return sorted(found, key=lambda h: (h.valid_until or date.max, h.id))


def expired(held: Sequence[HeldBadge], today: date) -> list[HeldBadge]:
    """Current credentials past their validity whose expiry is not recorded yet.

    Args:
        held: Badge credentials.
        today: The sweep day.

    Returns:
        Those neither superseded nor marked expired with ``valid_until <= today``, oldest first.
    """
    found = [h for h in held if h.current and h.valid_until is not None and h.valid_until <= today]
    return sorted(found, key=lambda h: (h.valid_until or date.max, h.id))


def badge_page_url(public_url: str, badge_id: str) -> str:
    """Where an issued badge is shown (and its OB 3.0 credential id)."""
    return f"{public_url}/badges/{badge_id}"
