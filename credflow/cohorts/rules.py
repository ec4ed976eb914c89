"""The pure rules of cohorts and milestones: who may see whom, and which milestones an educator reached when.

An educator is shown to the others working on the same micro-credential only after opting in
(per micro-credential), and sees the others only once opted in too: consent is mutual, and
withdrawing it hides them at once. A program admin sees who works on each micro-credential in
their scope, and who agreed to be connected.

Milestones are derived from stored facts, never stored themselves (the program admin guide's
"getting started, uploading evidence, earning"):

=====================  ==========================================================================
milestone              reached on the earliest of
=====================  ==========================================================================
getting started        enrolment, first draft, first evidence file, first submission
uploading evidence     first evidence file added to a draft, first submission
earning                first "earned" decision, first micro-credential badge issued
=====================  ==========================================================================

No database, no services: every function here is tested in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

#: How far back the milestones page looks by default, and at most.
RECENT_DAYS = 60
MAX_RECENT_DAYS = 366


class Milestone(StrEnum):
    """A step on the way to a micro-credential worth celebrating, in the order they come."""

    STARTED = "started"
    EVIDENCE = "evidence"
    EARNED = "earned"

    @property
    def label(self) -> str:
        """The milestone as pages and emails name it."""
        return MILESTONE_LABELS[self]


MILESTONE_LABELS: dict[Milestone, str] = {
    Milestone.STARTED: "Getting started",
    Milestone.EVIDENCE: "Uploading evidence",
    Milestone.EARNED: "Earning",
}


@dataclass(frozen=True)
class WorkFacts:
    """What is stored about one educator's work on one micro-credential: the first day of each kind of fact."""

    applicant_id: str
    credential_id: str
    enrolled_on: date | None = None
    first_draft_on: date | None = None
    first_file_on: date | None = None
    first_submitted_on: date | None = None
    earned_on: date | None = None  # first "earned" decision
    badge_on: date | None = None  # first micro-credential badge


@dataclass(frozen=True)
class Reached:
    """One milestone one educator reached on one micro-credential, and the day they did."""

    applicant_id: str
    credential_id: str
    milestone: Milestone
    on: date


def _earliest(*days: date | None) -> date | None:
    known = [day for day in days if day is not None]
    return min(known) if known else None


def milestones(facts: WorkFacts) -> tuple[Reached, ...]:
    """The milestones ``facts`` show reached, in milestone order (see the module docstring's table).

    Args:
        facts: The first day of each stored fact of one educator on one micro-credential.

    Returns:
        One :class:`Reached` per milestone reached; none for someone with no facts.
    """
    evidence = _earliest(facts.first_file_on, facts.first_submitted_on)
    earned = _earliest(facts.earned_on, facts.badge_on)
    started = _earliest(facts.enrolled_on, facts.first_draft_on, evidence, earned)
    days = {Milestone.STARTED: started, Milestone.EVIDENCE: evidence, Milestone.EARNED: earned}
    return tuple(
        Reached(facts.applicant_id, facts.credential_id, milestone, on)
        for milestone, on in days.items()
        if on is not None
    )


def recent(reached: Iterable[Reached], *, today: date, days: int) -> list[Reached]:
    """The milestones of the last ``days`` days up to ``today``, newest first (later milestones first on a day)."""
    since = today - timedelta(days=days)
    order = list(Milestone)
    kept = [r for r in reached if since < r.on <= today]
    return sorted(kept, key=lambda r: (r.on, order.index(r.milestone), r.applicant_id), reverse=True)


class DaysError(ValueError):
    """A look-back that is not a whole number of days in range; the message says why."""


def parse_days(text: str | None) -> int:
    """The milestones page's ``days`` parameter: a whole number from 1 to :data:`MAX_RECENT_DAYS` (default 60).

    Raises:
        DaysError: not a number, or out of range.
    """
    if text is None or not text.strip():
        return RECENT_DAYS
    value = text.strip()
    if not value.isdigit() or len(value) > 4:
        raise DaysError(f"Days must be a whole number from 1 to {MAX_RECENT_DAYS}.")
    days = int(value)
    if not 1 <= days <= MAX_RECENT_DAYS:
        raise DaysError(f"Days must be a whole number from 1 to {MAX_RECENT_DAYS}.")
    return days


@dataclass(frozen=True)
class Member:
    """One educator working on a micro-credential, as a cohort knows them."""

    applicant_id: str
    name: str
    organisation: str
    email: str
    consented: bool


@dataclass(frozen=True)
class PeerView:
    """What one educator sees of a micro-credential's cohort.

    ``peers`` are the others who agreed to connect, with their addresses: filled only when the
    viewer agreed too. ``waiting`` counts those others either way, so a viewer who has not opted
    in learns that opting in would show someone, and nothing about who.
    """

    consented: bool
    peers: tuple[Member, ...]
    waiting: int


def peer_view(viewer_id: str, members: Sequence[Member]) -> PeerView:
    """What ``viewer_id`` may see of a cohort: the others who consented, only if the viewer consented too.

    Args:
        viewer_id: The applicant id of the educator looking.
        members: Everyone working on the micro-credential (the viewer among them when they do).

    Returns:
        The view; never a member who did not consent, never the viewer themselves.
    """
    consented = any(m.applicant_id == viewer_id and m.consented for m in members)
    others = sorted(
        (m for m in members if m.consented and m.applicant_id != viewer_id),
        key=lambda m: (m.name.casefold(), m.organisation.casefold(), m.applicant_id),
    )
    return PeerView(consented=consented, peers=tuple(others) if consented else (), waiting=len(others))


def celebration_key(applicant_id: str, credential_id: str, milestone: Milestone) -> str:
    """The outbox key of the celebration email of one milestone: one email per milestone, ever."""
    return f"celebration:{applicant_id}:{credential_id}:{milestone.value}"


def celebration_note_key(applicant_id: str, credential_id: str, milestone: Milestone) -> str:
    """The outbox key of the program admin's copy of one celebration."""
    return f"celebration_note:{applicant_id}:{credential_id}:{milestone.value}"


#: What each milestone's email says the educator did, and what comes next (the guide's words where it has them).
CELEBRATION_WORDS: dict[Milestone, tuple[str, str]] = {
    Milestone.STARTED: (
        "you got started on",
        "A plan helps: set a target date for each piece of evidence, and you will get a reminder before each one.",
    ),
    Milestone.EVIDENCE: (
        "you uploaded your first evidence for",
        "Collecting evidence from your own practice is the heart of a micro-credential. When every piece is in, "
        "check your draft and apply: reviewers take it from there.",
    ),
    Milestone.EARNED: (
        "you earned",
        "Your badge is yours to share: add it to your email signature, your profile or your backpack.",
    ),
}


def celebration_words(milestone: Milestone) -> tuple[str, str]:
    """What the celebration email of ``milestone`` says was done ("you got started on") and the next step."""
    return CELEBRATION_WORDS[milestone]
