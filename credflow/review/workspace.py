"""The reviewer workspace's pure rules: time left before a deadline, the queue's groups, calibration per credential.

No session, no services: the stage (:func:`credflow.review.stage.reviewer_workspace`) loads the
reviewer's assignments as :class:`AssignmentFacts` and the page shows what these functions make of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from credflow.calendar import BusinessCalendar
from credflow.formatting import long_date
from credflow.reviewers.rules import calibration_lapses_on
from credflow.states import AssignmentState

#: A calibration this close to lapsing is flagged on the workspace.
LAPSE_WARNING_DAYS = 30


@dataclass(frozen=True)
class AssignmentFacts:
    """One of a reviewer's assignments as stored, in plain values (what the queue, drafts and history list)."""

    id: str
    role: str  # review | adjudication | backread
    state: str  # an AssignmentState
    credential_id: str
    credential_title: str
    applicant: str  # anonymised, as the review page shows them
    attempt: int
    assigned_at: datetime
    due_at: datetime
    completed_at: datetime | None
    scored: int  # criteria with a saved verdict
    criteria: int  # criteria the assignment scores
    decline_reason: str | None
    nonce: str | None  # the link nonce of an active assignment

    @property
    def has_draft(self) -> bool:
        """Whether the reviewer saved a verdict on the active assignment (a draft to go back to)."""
        return self.state == AssignmentState.ACTIVE and self.scored > 0


@dataclass(frozen=True)
class TimeLeft:
    """The deadline in words: "due Tue 8 Dec, 2 business days left"; overdue and nearly-due flags."""

    text: str
    overdue: bool
    soon: bool


def short_day(day: date, *, today: date) -> str:
    """A date as the queue writes it: "Tue 8 Dec", with the year when it is not ``today``'s."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def time_left(due_at: datetime, *, now: datetime, calendar: BusinessCalendar) -> TimeLeft:
    """How long a reviewer has before ``due_at``, counted in the credential's business days.

    Args:
        due_at: The assignment's deadline (aware UTC).
        now: The moment of asking (aware UTC).
        calendar: The business calendar the deadline was set in (the issuer's).

    Returns:
        "due Tue 8 Dec, 2 business days left"; "due today at 17:00 UTC" on the day itself;
        "less than a business day left" when none is left before it; "was due …, overdue" after it.
    """
    day = short_day(due_at.date(), today=now.date())
    if now > due_at:
        return TimeLeft(f"was due {day} at {due_at:%H:%M} UTC, overdue", overdue=True, soon=True)
    if due_at.date() == now.date():
        return TimeLeft(f"due today at {due_at:%H:%M} UTC", overdue=False, soon=True)
    days = calendar.business_days_between(now, due_at)
    plural = "" if days == 1 else "s"
    left = "less than a business day left" if days == 0 else f"{days} business day{plural} left"
    return TimeLeft(f"due {day}, {left}", overdue=False, soon=days <= 1)


@dataclass(frozen=True)
class Groups:
    """A reviewer's assignments by what they ask of the reviewer now."""

    queue: tuple[AssignmentFacts, ...]  # active, nothing saved yet: soonest due first
    drafts: tuple[AssignmentFacts, ...]  # active with saved verdicts: soonest due first
    history: tuple[AssignmentFacts, ...]  # submitted, or withdrawn at the deadline: latest first
    declines: tuple[AssignmentFacts, ...]  # declined with a reason: latest first


def group(assignments: Iterable[AssignmentFacts]) -> Groups:
    """Sort a reviewer's assignments into the workspace's queue, drafts, history and declines."""
    rows = list(assignments)
    active = sorted((a for a in rows if a.state == AssignmentState.ACTIVE), key=lambda a: (a.due_at, a.id))

    def latest_first(states: set[str]) -> tuple[AssignmentFacts, ...]:
        closed = [a for a in rows if a.state in states]
        return tuple(sorted(closed, key=lambda a: (a.completed_at or a.due_at, a.id), reverse=True))

    return Groups(
        queue=tuple(a for a in active if not a.has_draft),
        drafts=tuple(a for a in active if a.has_draft),
        history=latest_first({AssignmentState.SUBMITTED, AssignmentState.WITHDRAWN}),
        declines=latest_first({AssignmentState.DECLINED}),
    )


@dataclass(frozen=True)
class CalibrationStatus:
    """A reviewer's calibration as it stands for one credential they are certified for."""

    credential_id: str
    title: str
    calibrated: bool  # current today: the reviewer may be assigned this credential's reviews
    calibrated_on: date | None
    lapses_on: date | None
    text: str
    soon: bool  # current, but lapsing within LAPSE_WARNING_DAYS
    golds: int  # gold standards there are to calibrate on


def calibration_status(
    *, credential_id: str, title: str, calibrated_on: date | None, today: date, golds: int
) -> CalibrationStatus:
    """Whether a calibration holds today for one credential, and when it lapses (its anniversary).

    The calibration date is the reviewer's (assignment checks it for every credential they are
    certified for); it is shown per credential with that credential's gold standards.
    """
    lapses_on = calibration_lapses_on(calibrated_on) if calibrated_on else None
    if calibrated_on is None or lapses_on is None:
        text = "Not calibrated: you are assigned no reviews until you calibrate on a gold standard."
        return CalibrationStatus(credential_id, title, False, None, None, text, False, golds)
    if today >= lapses_on:
        text = f"Lapsed on {long_date(lapses_on)}: calibrate again to be assigned reviews."
        return CalibrationStatus(credential_id, title, False, calibrated_on, lapses_on, text, False, golds)
    days = (lapses_on - today).days
    soon = days <= LAPSE_WARNING_DAYS
    text = f"Calibrated on {long_date(calibrated_on)}; lapses on {long_date(lapses_on)}"
    text += f" (in {days} day{'' if days == 1 else 's'})." if soon else "."
    return CalibrationStatus(credential_id, title, True, calibrated_on, lapses_on, text, soon, golds)
