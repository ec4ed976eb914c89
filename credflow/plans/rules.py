"""The applicant's backwards plan: target dates per requirement, checked, and the reminders due as they approach.

Pure: no session, no services. :mod:`credflow.plans.stage` stores the targets and sends the reminders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from credflow.formatting import long_date

#: Reminders go out this many days before a target date, once each (the nearer one replaces a missed farther one).
REMIND_DAYS_BEFORE: tuple[int, ...] = (7, 1)
#: The form field of one requirement's target date.
FIELD_PREFIX = "target__"
#: How far ahead a target may be at most, whatever the access window says (a typo like 20277 is caught).
MAX_YEARS_AHEAD = 25


@dataclass(frozen=True)
class PlanTarget:
    """One stored target date: when the applicant means to have one requirement's evidence ready.

    ``reminded_on`` is the day the latest reminder for this date went out (None: none yet, or the
    date was changed since). ``open``: the applicant is still collecting evidence for this
    credential (no attempt under review, not earned, not closed); only open targets are reminded.
    """

    id: str
    credential_id: str
    requirement_key: str
    target_date: date
    reminded_on: date | None = None
    open: bool = True


@dataclass(frozen=True)
class DueReminder:
    """A reminder to send today: for ``target``, ``days_before`` (7 or 1) with ``days_left`` to go."""

    target: PlanTarget
    days_before: int
    days_left: int

    @property
    def key(self) -> str:
        """The outbox key: once per target, per date set, per reminder."""
        return reminder_key(self.target.id, self.target.target_date, self.days_before)


def reminder_key(target_id: str, target_date: date, days_before: int) -> str:
    """The idempotency key of one plan reminder (a changed date gets reminders of its own)."""
    return f"plan_reminder:{target_id}:{target_date.isoformat()}:{days_before}"


def reminder_due(target: PlanTarget, today: date) -> DueReminder | None:
    """The reminder ``target`` is due ``today``, if any.

    The reminder whose window ``today`` falls in is due unless one went out within that window:
    7 days before covers days 7 to 2 before, 1 day before covers the eve and the day itself. A
    sweep that missed the 7-day reminder sends it late, but never after the 1-day one's window
    has begun (the applicant gets the nearer one instead). Past targets and closed plans get none.
    """
    if not target.open:
        return None
    days_left = (target.target_date - today).days
    if days_left < 0:
        return None
    lead = next((days for days in sorted(REMIND_DAYS_BEFORE) if days_left <= days), None)
    if lead is None:
        return None
    window_starts = date.fromordinal(target.target_date.toordinal() - lead)
    if target.reminded_on is not None and target.reminded_on >= window_starts:
        return None
    return DueReminder(target=target, days_before=lead, days_left=days_left)


def due_reminders(targets: Iterable[PlanTarget], today: date) -> list[DueReminder]:
    """Every reminder due ``today`` among ``targets``, soonest target first."""
    due = [reminder for target in targets if (reminder := reminder_due(target, today)) is not None]
    return sorted(due, key=lambda r: (r.target.target_date, r.target.credential_id, r.target.requirement_key))


@dataclass(frozen=True)
class PlanRequirement:
    """A requirement as the plan form lists it."""

    key: str
    title: str


@dataclass(frozen=True)
class CheckedPlan:
    """A plan form as checked: the dates by requirement (None clears one), and problems by requirement key."""

    dates: dict[str, date | None]
    problems: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _day(value: date) -> str:
    return long_date(value)


def check_plan(
    form: Mapping[str, str], requirements: Sequence[PlanRequirement], *, today: date, access_ends: date
) -> CheckedPlan:
    """Check a plan form's target dates (``target__<requirement>`` as ``YYYY-MM-DD``; empty clears it).

    Args:
        form: The posted fields.
        requirements: The credential's requirements, in catalog order.
        today: The applicant's today (the page's clock).
        access_ends: The last day of the applicant's access window.

    Returns:
        The dates read and, per requirement, what is wrong with its date: not a date, in the past,
        or after the access window ends. Fields of unknown requirements are ignored.
    """
    dates: dict[str, date | None] = {}
    problems: dict[str, str] = {}
    for requirement in requirements:
        raw = form.get(FIELD_PREFIX + requirement.key, "").strip()
        if not raw:
            dates[requirement.key] = None
            continue
        try:
            value = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            value = None
        if value is None:
            problems[requirement.key] = (
                f"The target date for {requirement.title} is not a date: enter it as year-month-day, "
                "for example 2027-03-15."
            )
        elif value < today:
            problems[requirement.key] = (
                f"The target date for {requirement.title} ({_day(value)}) is in the past: "
                f"choose today ({_day(today)}) or a later day."
            )
        elif value > access_ends or value.year > today.year + MAX_YEARS_AHEAD:
            problems[requirement.key] = (
                f"The target date for {requirement.title} ({_day(value)}) is after your access ends on "
                f"{_day(access_ends)}: choose a day on or before it."
            )
        else:
            dates[requirement.key] = value
    return CheckedPlan(dates=dates, problems=problems)
