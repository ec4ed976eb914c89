"""The reviewers' pure rules: the pool and gold-standard files, inter-rater agreement, calibration.

The pool file (:func:`parse_pool`) and the gold-standard file (:func:`parse_gold`) are
parsed and checked against the catalog here; the stage stores them.

Reviewers score each rubric criterion of a submission Met (``True``) or Not Yet
(``False``). A *unit* is one (submission, criterion) pair; agreement is measured on
units scored by two or more reviewers:

- :func:`percent_agreement`: share of such units on which every reviewer agrees;
- :func:`pair_agreement`: per reviewer pair, percent agreement and Cohen's kappa
  (``sklearn.metrics.cohen_kappa_score``) over the units both scored;
- :func:`alpha_by_criterion`: Krippendorff's alpha, nominal level, per criterion
  (the ``krippendorff`` package);
- :func:`agreement_report`: all of the above plus each reviewer's agreement with the
  others and the reviewers whose agreement has drifted below a threshold.

:func:`calibrate` compares one reviewer's scores of gold-standard submissions with the
gold scores and decides whether the reviewer is calibrated.

Every function is pure: no database, no Prefect. Statistics that are undefined on the
given data are ``None``, never ``nan``. A reviewer scoring the same unit twice with the
same value counts once; with conflicting values it is a :class:`ValueError`.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from pathlib import PurePosixPath, PureWindowsPath
from typing import ClassVar, Self

import krippendorff
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from credflow.calendar import anniversary
from credflow.catalog import Catalog
from credflow.errors import ConfigurationError
from credflow.formatting import yaml_error

__all__ = [
    "AgreementReport",
    "CalibrationResult",
    "CriterionAgreement",
    "GoldScores",
    "PairAgreement",
    "Period",
    "PoolFile",
    "Rating",
    "Relation",
    "ReviewerAgreement",
    "ReviewerEntry",
    "agreement_report",
    "alpha_by_criterion",
    "calibrate",
    "calibration_lapses_on",
    "gold_agreement",
    "pair_agreement",
    "parse_gold",
    "parse_pool",
    "percent_agreement",
    "reads_as_met",
    "reviewer_agreement",
]

GoldScores = Mapping[str, Mapping[str, bool]]
"""Gold-standard scores: gold submission id -> criterion -> met."""

Unit = tuple[str, str]
"""One scored unit: (submission id, criterion)."""


@dataclass(frozen=True)
class Rating:
    """One reviewer's score of one rubric criterion of one submission.

    Attributes:
        submission_id: The submission scored.
        criterion: The rubric criterion scored.
        reviewer_id: Who scored it.
        met: ``True`` for Met, ``False`` for Not Yet.
    """

    submission_id: str
    criterion: str
    reviewer_id: str
    met: bool


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two reviewers over the units both scored.

    Attributes:
        reviewer_a: The smaller reviewer id of the pair.
        reviewer_b: The larger reviewer id of the pair.
        units: Number of units both reviewers scored (at least 1).
        percent: Share of those units on which they gave the same score, in [0, 1].
        kappa: Cohen's kappa, or ``None`` when it is undefined (see :func:`pair_agreement`).
    """

    reviewer_a: str
    reviewer_b: str
    units: int
    percent: float
    kappa: float | None


@dataclass(frozen=True)
class ReviewerAgreement:
    """How often one reviewer agrees with the other reviewers of the same units.

    Attributes:
        reviewer_id: The reviewer.
        units: Co-scored units on which the other reviewers had a majority (see
            :func:`reviewer_agreement`).
        agreed: Of those, units where the reviewer's score matched that majority.
        share: ``agreed / units``, or ``None`` when ``units`` is 0.
    """

    reviewer_id: str
    units: int
    agreed: int
    share: float | None


@dataclass(frozen=True)
class AgreementReport:
    """Every agreement measure for one set of ratings, ready to print.

    Attributes:
        units: Units scored by two or more reviewers.
        percent: :func:`percent_agreement` over those units (``None`` when there are none).
        pairs: :func:`pair_agreement`, sorted by reviewer ids.
        alpha: :func:`alpha_by_criterion`, criteria sorted.
        criterion_units: Per criterion, units scored by two or more reviewers.
        reviewers: :func:`reviewer_agreement`, sorted by reviewer id.
        drifting: Reviewers whose share is below ``drift_threshold`` over at least
            ``min_units`` units, sorted.
        drift_threshold: The threshold used for ``drifting``.
        min_units: The minimum number of units used for ``drifting``.
    """

    COLUMNS: ClassVar[tuple[str, str, str, str, str]] = ("measure", "subject", "units", "value", "note")

    units: int
    percent: float | None
    pairs: list[PairAgreement]
    alpha: dict[str, float | None]
    criterion_units: dict[str, int]
    reviewers: list[ReviewerAgreement]
    drifting: list[str]
    drift_threshold: float
    min_units: int

    def to_rows(self) -> list[tuple[str, str, str, str, str]]:
        """The report as table rows of strings, one per measure, matching :attr:`COLUMNS`.

        Rows come in this order: overall percent agreement, Krippendorff's alpha per
        criterion, Cohen's kappa per reviewer pair, agreement per reviewer. Undefined
        values print as ``n/a`` with the reason in the note column.

        Returns:
            ``(measure, subject, units, value, note)`` tuples.
        """
        rows: list[tuple[str, str, str, str, str]] = [
            (
                "percent agreement",
                "all criteria",
                str(self.units),
                _pct(self.percent),
                "" if self.percent is not None else "no unit scored by 2+ reviewers",
            )
        ]
        for criterion, alpha in self.alpha.items():
            n = self.criterion_units.get(criterion, 0)
            if alpha is not None:
                note = ""
            elif n == 0:
                note = "no unit scored by 2+ reviewers"
            else:
                note = "no variation in scores"
            rows.append(("krippendorff alpha", criterion, str(n), _num(alpha), note))
        for pair in self.pairs:
            rows.append(
                (
                    "cohen kappa",
                    f"{pair.reviewer_a} / {pair.reviewer_b}",
                    str(pair.units),
                    _num(pair.kappa),
                    f"agree {_pct(pair.percent)}" + ("" if pair.kappa is not None else "; same single score"),
                )
            )
        drifting = set(self.drifting)
        for reviewer in self.reviewers:
            note = "DRIFTING" if reviewer.reviewer_id in drifting else ""
            if reviewer.units == 0:
                note = "no co-scored unit with a majority"
            rows.append(("reviewer agreement", reviewer.reviewer_id, str(reviewer.units), _pct(reviewer.share), note))
        return rows

    def render_text(self) -> str:
        """The report as a plain-text table with a header line, columns padded with spaces.

        Returns:
            The table, lines joined by newlines, without a trailing newline.
        """
        table = [self.COLUMNS, *self.to_rows()]
        widths = [max(len(row[i]) for row in table) for i in range(len(self.COLUMNS))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        summary = f"drifting (agreement < {_pct(self.drift_threshold)} over >= {self.min_units} units): " + (
            ", ".join(self.drifting) if self.drifting else "none"
        )
        return "\n".join([*lines, "", summary])


@dataclass(frozen=True)
class CalibrationResult:
    """The outcome of one reviewer's calibration against gold-standard scores.

    Attributes:
        reviewer_id: The reviewer.
        criteria_scored: Gold criteria the reviewer scored (``agreed`` plus the ones
            scored differently from gold); excludes ``missing``.
        agreed: Gold criteria scored the same as the gold score.
        share: ``agreed`` over *all* gold criteria (scored plus missing), in [0, 1].
        calibrated: Whether ``share`` reaches the threshold.
        calibrated_on: ``today`` when calibrated, otherwise ``None``.
        missing: ``(submission id, criterion)`` gold criteria the reviewer did not
            score, sorted; each counts as a disagreement.
    """

    reviewer_id: str
    criteria_scored: int
    agreed: int
    share: float
    calibrated: bool
    calibrated_on: date | None
    missing: list[tuple[str, str]]


#: A calibration holds for this many years.
CALIBRATION_VALID_YEARS = 1
#: Share of gold criteria a reviewer must agree on to be calibrated (8 of 10).
CALIBRATION_THRESHOLD = 0.8


def calibration_lapses_on(calibrated_on: date, *, years: int = CALIBRATION_VALID_YEARS) -> date:
    """The first day a calibration no longer counts: its anniversary (valid up to the day before).

    Calibrated 2027-03-11, it lapses on 2028-03-11. A calibration of 29 February lapses on 1 March of
    a year without one (2028-02-29 lapses on 2029-03-01), so it always holds a whole year.
    """
    return anniversary(calibrated_on, years)


@dataclass(frozen=True)
class CriterionAgreement:
    """One criterion of a gold standard as a calibrating reviewer scored it, beside the gold verdict.

    Attributes:
        criterion: The rubric criterion's key.
        given: The reviewer's verdict (``True`` Met), or ``None`` when they gave none.
        gold: The gold verdict.
        comment: Why gold scored it so (empty when the gold file gives no comment).
    """

    criterion: str
    given: bool | None
    gold: bool
    comment: str

    @property
    def agreed(self) -> bool:
        """Whether the reviewer gave the gold verdict (no verdict never agrees)."""
        return self.given is self.gold


def gold_agreement(
    criteria: Sequence[str],
    gold: Mapping[str, bool],
    given: Mapping[str, bool],
    comments: Mapping[str, str] | None = None,
) -> list[CriterionAgreement]:
    """Per criterion of one gold standard, the reviewer's verdict beside gold's, in the rubric's order.

    Args:
        criteria: The credential's criterion keys in rubric order; those gold does not score are skipped.
        gold: Criterion -> gold verdict (Met = ``True``).
        given: Criterion -> the reviewer's verdict; criteria missing here were not scored.
        comments: Criterion -> the gold comment.

    Returns:
        One row per gold criterion, rubric order first, then any gold criterion the rubric no longer names.
    """
    comments = comments or {}
    order = [key for key in criteria if key in gold] + sorted(set(gold) - set(criteria))
    return [
        CriterionAgreement(
            criterion=key, given=given.get(key), gold=bool(gold[key]), comment=str(comments.get(key) or "")
        )
        for key in order
    ]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _units(ratings: Iterable[Rating]) -> dict[Unit, dict[str, bool]]:
    """Group ratings into units: (submission, criterion) -> reviewer -> met.

    Raises:
        ValueError: A reviewer scored the same unit both Met and Not Yet.
    """
    units: dict[Unit, dict[str, bool]] = defaultdict(dict)
    for rating in ratings:
        scores = units[(rating.submission_id, rating.criterion)]
        previous = scores.setdefault(rating.reviewer_id, rating.met)
        if previous != rating.met:
            raise ValueError(
                f"reviewer {rating.reviewer_id!r} scored criterion {rating.criterion!r} of submission "
                f"{rating.submission_id!r} both Met and Not Yet"
            )
    return dict(units)


def percent_agreement(ratings: Iterable[Rating]) -> float | None:
    """Share of units scored by two or more reviewers on which all of them agree.

    Args:
        ratings: Any ratings; units scored by a single reviewer are ignored.

    Returns:
        A share in [0, 1], or ``None`` when no unit was scored by two or more reviewers.

    Raises:
        ValueError: A reviewer scored the same unit both Met and Not Yet.
    """
    shared = [set(scores.values()) for scores in _units(ratings).values() if len(scores) >= 2]
    if not shared:
        return None
    return sum(len(values) == 1 for values in shared) / len(shared)


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa from scikit-learn, ``None`` where scikit-learn calls it undefined."""
    from sklearn.exceptions import UndefinedMetricWarning  # type: ignore[import-untyped]
    from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        value = float(cohen_kappa_score(a, b, labels=[False, True], replace_undefined_by=np.nan))
    return None if math.isnan(value) else value


def pair_agreement(ratings: Iterable[Rating]) -> list[PairAgreement]:
    """Percent agreement and Cohen's kappa for every pair of reviewers who co-scored a unit.

    Kappa is computed by ``sklearn.metrics.cohen_kappa_score`` over the pair's co-scored
    units (all criteria pooled), with labels fixed to Not Yet / Met. It is ``None`` when
    undefined: when the chance agreement is 1, which happens exactly when both reviewers
    gave one and the same score on every co-scored unit (including a single co-scored
    unit they agree on). scikit-learn returns ``nan`` there (``replace_undefined_by``)
    with an ``UndefinedMetricWarning``; the warning is silenced and ``nan`` becomes
    ``None``. Two reviewers who are each constant but opposite (one always Met, the other
    always Not Yet) have a defined kappa of 0.0 (observed and chance agreement both 0),
    as scikit-learn computes; their ``percent`` of 0.0 shows the disagreement.

    Args:
        ratings: Any ratings.

    Returns:
        One entry per pair with at least one co-scored unit, ``reviewer_a < reviewer_b``,
        sorted by ``(reviewer_a, reviewer_b)``.

    Raises:
        ValueError: A reviewer scored the same unit both Met and Not Yet.
    """
    scores_by_pair: dict[tuple[str, str], tuple[list[bool], list[bool]]] = defaultdict(lambda: ([], []))
    for scores in _units(ratings).values():
        for a, b in combinations(sorted(scores), 2):
            first, second = scores_by_pair[(a, b)]
            first.append(scores[a])
            second.append(scores[b])
    result = []
    for (a, b), (first, second) in sorted(scores_by_pair.items()):
        same = sum(x == y for x, y in zip(first, second, strict=True))
        result.append(PairAgreement(a, b, len(first), same / len(first), cohen_kappa(first, second)))
    return result


def alpha_by_criterion(ratings: Iterable[Rating]) -> dict[str, float | None]:
    """Krippendorff's alpha (nominal) per criterion, from the ``krippendorff`` package.

    For each criterion the reliability matrix has one row per reviewer and one column per
    submission (1.0 Met, 0.0 Not Yet, NaN where the reviewer did not score it). Alpha
    uses only pairable values, i.e. submissions scored by two or more reviewers.

    Alpha is ``None`` (undefined, 0/0) for a criterion when:

    - no submission was scored on it by two or more reviewers (nothing pairable), or
    - the pairable scores show no variation (all Met or all Not Yet), so the expected
      disagreement is 0. Single, unpaired scores do not count as variation.

    Args:
        ratings: Any ratings.

    Returns:
        Criterion -> alpha in [-1, 1] or ``None``, for every criterion in ``ratings``,
        in sorted order of criteria.

    Raises:
        ValueError: A reviewer scored the same unit both Met and Not Yet.
    """
    by_criterion: dict[str, dict[str, dict[str, bool]]] = defaultdict(dict)
    for (submission, criterion), scores in _units(ratings).items():
        by_criterion[criterion][submission] = scores
    result: dict[str, float | None] = {}
    for criterion in sorted(by_criterion):
        submissions = by_criterion[criterion]
        pairable = {met for scores in submissions.values() if len(scores) >= 2 for met in scores.values()}
        if len(pairable) < 2:
            result[criterion] = None
            continue
        reviewers = sorted({reviewer for scores in submissions.values() for reviewer in scores})
        columns = sorted(submissions)
        data = np.full((len(reviewers), len(columns)), np.nan)
        for j, submission in enumerate(columns):
            for i, reviewer in enumerate(reviewers):
                if reviewer in submissions[submission]:
                    data[i, j] = float(submissions[submission][reviewer])
        value = float(
            krippendorff.alpha(reliability_data=data, value_domain=[0.0, 1.0], level_of_measurement="nominal")
        )
        result[criterion] = None if math.isnan(value) else value
    return result


def reviewer_agreement(ratings: Iterable[Rating]) -> list[ReviewerAgreement]:
    """Each reviewer's agreement with the other reviewers of the units they scored.

    On a unit scored by two or more reviewers, a reviewer *agrees* when their score
    equals the majority score of the *other* reviewers of that unit (with two reviewers:
    the other one's score). Units where the other reviewers are evenly split have no
    majority and are not counted for that reviewer; units they scored alone neither.

    Args:
        ratings: Any ratings.

    Returns:
        One entry for every reviewer in ``ratings``, sorted by reviewer id; ``share`` is
        ``None`` for a reviewer with no counted unit.

    Raises:
        ValueError: A reviewer scored the same unit both Met and Not Yet.
    """
    counted: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    reviewers: set[str] = set()
    for scores in _units(ratings).values():
        reviewers.update(scores)
        if len(scores) < 2:
            continue
        met_total = sum(scores.values())
        for reviewer, met in scores.items():
            others_met = met_total - met
            others_not_yet = len(scores) - 1 - others_met
            if others_met == others_not_yet:
                continue
            counted[reviewer] += 1
            agreed[reviewer] += met == (others_met > others_not_yet)
    return [
        ReviewerAgreement(r, counted[r], agreed[r], agreed[r] / counted[r] if counted[r] else None)
        for r in sorted(reviewers)
    ]


def agreement_report(ratings: Iterable[Rating], *, drift_threshold: float = 0.7, min_units: int = 5) -> AgreementReport:
    """All agreement measures for a set of ratings, with drifting reviewers flagged.

    A reviewer is *drifting* when their :func:`reviewer_agreement` share is below
    ``drift_threshold`` over at least ``min_units`` counted units; reviewers with fewer
    units are never flagged (too little evidence).

    Args:
        ratings: Any ratings (an iterator is read once).
        drift_threshold: Agreement share in [0, 1] below which a reviewer drifts.
        min_units: Counted units (at least 1) a reviewer needs before they can be flagged.

    Returns:
        The report; empty ratings give an empty report with ``percent`` ``None``.

    Raises:
        ValueError: ``drift_threshold`` outside [0, 1], ``min_units`` below 1, or a
            reviewer scored the same unit both Met and Not Yet.
    """
    if not 0.0 <= drift_threshold <= 1.0:
        raise ValueError(f"drift_threshold must be within [0, 1], got {drift_threshold}")
    if min_units < 1:
        raise ValueError(f"min_units must be at least 1, got {min_units}")
    ratings = list(ratings)
    units = _units(ratings)
    criterion_units: Counter[str] = Counter(criterion for (_, criterion), s in units.items() if len(s) >= 2)
    reviewers = reviewer_agreement(ratings)
    drifting = [
        r.reviewer_id for r in reviewers if r.share is not None and r.units >= min_units and r.share < drift_threshold
    ]
    alpha = alpha_by_criterion(ratings)
    return AgreementReport(
        units=sum(criterion_units.values()),
        percent=percent_agreement(ratings),
        pairs=pair_agreement(ratings),
        alpha=alpha,
        criterion_units={criterion: criterion_units[criterion] for criterion in alpha},
        reviewers=reviewers,
        drifting=drifting,
        drift_threshold=drift_threshold,
        min_units=min_units,
    )


def calibrate(
    reviewer_ratings: Sequence[Rating],
    gold: GoldScores,
    *,
    threshold: float = CALIBRATION_THRESHOLD,
    today: date,
    reviewer_id: str | None = None,
) -> CalibrationResult:
    """Compare one reviewer's scores of gold-standard submissions with the gold scores.

    Every criterion of every gold submission must be scored: an unscored one is listed
    in ``missing`` and counts as a disagreement. The reviewer is calibrated when they
    agree with gold on at least ``threshold`` of all gold criteria (``share >=
    threshold``; 8 of 10 passes at 0.8). Ratings of submissions or criteria that are
    not in ``gold`` are ignored.

    Args:
        reviewer_ratings: The reviewer's ratings; all must carry the same reviewer id.
        gold: Gold submission id -> criterion -> gold score (Met = ``True``).
        threshold: Share of gold criteria, in (0, 1], needed to be calibrated.
        today: The date recorded as ``calibrated_on`` on success.
        reviewer_id: The reviewer; needed only when ``reviewer_ratings`` is empty,
            otherwise it must match the ratings.

    Returns:
        The calibration result.

    Raises:
        ValueError: ``gold`` has no criterion; ``threshold`` outside (0, 1]; the
            ratings belong to several reviewers, to another reviewer than
            ``reviewer_id``, or are empty without ``reviewer_id``; or the reviewer
            scored a gold criterion both Met and Not Yet.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be within (0, 1], got {threshold}")
    gold_units = {(sub, crit): met for sub, criteria in gold.items() for crit, met in criteria.items()}
    if not gold_units:
        raise ValueError("the gold standard has no scored criterion to calibrate against")
    ids = {rating.reviewer_id for rating in reviewer_ratings}
    if reviewer_id is not None:
        ids.add(reviewer_id)
    if len(ids) != 1:
        found = ", ".join(sorted(ids)) or "none"
        raise ValueError(f"calibration needs the ratings of exactly one reviewer, found: {found}")
    (who,) = ids
    scores = {unit: by_reviewer[who] for unit, by_reviewer in _units(reviewer_ratings).items() if unit in gold_units}
    agreed = sum(scores[unit] == met for unit, met in gold_units.items() if unit in scores)
    missing = sorted(unit for unit in gold_units if unit not in scores)
    share = agreed / len(gold_units)
    calibrated = share >= threshold
    return CalibrationResult(
        reviewer_id=who,
        criteria_scored=len(scores),
        agreed=agreed,
        share=share,
        calibrated=calibrated,
        calibrated_on=today if calibrated else None,
        missing=missing,
    )


# --- the pool file ---------------------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(_Entry):
    starts: date = Field(alias="from")
    ends: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends < self.starts:
            raise ValueError(f"'to' ({self.ends}) is before 'from' ({self.starts})")
        return self


class Relation(_Entry):
    applicant: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The applicant's email.")
    kind: str = Field(pattern=r"^(coach|mentor|supervisor|mentee|colleague|family|other)$")


class ReviewerEntry(_Entry):
    """One reviewer as written in the pool file."""

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    organisation: str = Field(min_length=1)
    certified_for: tuple[str, ...] = ()
    calibrated_on: date | None = None
    max_active: int = Field(default=5, ge=0, le=100)
    lead: bool = False
    unavailable: tuple[Period, ...] = ()
    relations: tuple[Relation, ...] = ()


class PoolFile(_Entry):
    reviewers: tuple[ReviewerEntry, ...]


def parse_pool(text: str, *, catalog: Catalog, source: str = "pool file") -> PoolFile:
    """Parse and check a pool file.

    Raises:
        ConfigurationError: every problem, each with its reviewer index and field.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(yaml_error(exc, source=source)) from None
    try:
        pool = PoolFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigurationError("\n".join(lines)) from None
    problems = []
    emails = [entry.email.lower() for entry in pool.reviewers]
    for index, entry in enumerate(pool.reviewers):
        unknown = [c for c in entry.certified_for if c not in catalog.credentials]
        if unknown:
            problems.append(f"{source}: reviewers.{index}.certified_for: unknown micro-credentials {unknown}")
        if emails.count(entry.email.lower()) > 1:
            problems.append(f"{source}: reviewers.{index}.email: {entry.email} appears more than once")
    if problems:
        raise ConfigurationError("\n".join(dict.fromkeys(problems)))
    return pool


# --- the gold-standard file ------------------------------------------------------------------------


# The class names show in pydantic's messages, which the operator reads: they keep their names.
class _Gold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    credential: str
    scores: dict[str, bool]  # criterion -> Met
    # Optional, for calibrating in the browser: what the reviewer reads, and why gold scored each criterion so.
    answers: dict[str, str] = {}  # text requirement key -> the written answer
    evidence_notes: str = ""  # the evidence files, described in words
    comments: dict[str, str] = {}  # criterion -> the gold comment
    # File requirement key -> the files, as paths relative to the gold file (stored at import).
    files: dict[str, tuple[str, ...]] = {}


class _GoldFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gold: tuple[_Gold, ...]


def parse_gold(text: str, *, catalog: Catalog, source: str = "gold file") -> _GoldFile:
    """Parse and check a gold-standard file; every criterion of the credential must be scored.

    Raises:
        ConfigurationError: unknown credential, missing or unknown criteria, bad YAML.
    """
    try:
        data = _GoldFile.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise ConfigurationError(yaml_error(exc, source=source)) from None
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    problems = []
    for index, gold in enumerate(data.gold):
        credential = catalog.credentials.get(gold.credential)
        if credential is None:
            problems.append(f"{source}: gold.{index}.credential: unknown micro-credential {gold.credential!r}")
            continue
        keys = {c.key for c in credential.criteria}
        if set(gold.scores) != keys:
            problems.append(
                f"{source}: gold.{index}.scores: must score exactly the criteria {sorted(keys)}; "
                f"missing {sorted(keys - set(gold.scores))}, unknown {sorted(set(gold.scores) - keys)}"
            )
        if set(gold.comments) - keys:
            problems.append(
                f"{source}: gold.{index}.comments: unknown criteria {sorted(set(gold.comments) - keys)}; "
                f"the criteria are {sorted(keys)}"
            )
        questions = {req.key for req in credential.text_requirements}
        if set(gold.answers) - questions:
            problems.append(
                f"{source}: gold.{index}.answers: unknown written answers {sorted(set(gold.answers) - questions)}; "
                f"{gold.credential} asks for {sorted(questions) or 'none'}"
            )
        uploads = {req.key: req for req in credential.evidence if req.key not in questions}
        if set(gold.files) - set(uploads):
            problems.append(
                f"{source}: gold.{index}.files: unknown file requirements {sorted(set(gold.files) - set(uploads))}; "
                f"{gold.credential} takes files for {sorted(uploads) or 'none'}"
            )
        for key, paths in gold.files.items():
            requirement = uploads.get(key)
            if requirement is not None and len(paths) > requirement.max_count:
                problems.append(
                    f"{source}: gold.{index}.files.{key}: {len(paths)} files; "
                    f"'{requirement.title}' takes at most {requirement.max_count}"
                )
            problems += [
                f"{source}: gold.{index}.files.{key}: {path!r} must be a path relative to the gold file"
                for path in paths
                if not path.strip() or PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute()
            ]
    if problems:
        raise ConfigurationError("\n".join(problems))
    return data


def reads_as_met(verdict: object) -> bool:
    """A calibration answer as Met: ``True``, or ``met``/``true``/``yes`` in any case; anything else is Not Yet."""
    return verdict if isinstance(verdict, bool) else str(verdict).strip().lower() in ("met", "true", "yes")
