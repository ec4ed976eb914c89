"""Where one enrolment stands, in words: its state, attempts, deadlines, letters, badges and the next thing to do.

Pure: built from :class:`EnrolmentFacts` (what :mod:`credflow.plans.stage` reads from the records) at a
given ``now``. Links are paths of the portal (see :mod:`credflow.letters.links`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from credflow.formatting import long_date
from credflow.letters import links
from credflow.lifecycle import State

#: The states an attempt is still moving through the pipeline in, in the applicant's words.
_CHECKING = frozenset({State.RECEIVED, State.VALIDATING, State.TRANSCODING})
_REVIEWING = frozenset({State.AWAITING_REVIEW, State.IN_REVIEW, State.ADJUDICATING})
#: Attempts that cost nothing: a fix after a return (or a withdrawal) keeps the attempt's number.
_FREE = frozenset({State.RETURNED, State.WITHDRAWN})


@dataclass(frozen=True)
class AttemptFacts:
    """One submission of the chain as stored."""

    id: str
    attempt: int
    state: State
    submitted_at: datetime
    state_since: datetime
    decided_at: datetime | None = None
    outcome: str | None = None  # "earned" | "not_yet" once decided
    problems: int = 0  # why it was returned, if it was


@dataclass(frozen=True)
class BadgeFacts:
    """A badge the chain earned."""

    id: str
    name: str
    state: str
    valid_until: datetime | None = None


@dataclass(frozen=True)
class EnrolmentFacts:
    """An enrolment and its chain of attempts, oldest first; ``allowed_attempts`` counts operator unlocks."""

    credential_id: str
    title: str
    enrolled_on: date
    access_ends: date
    allowed_attempts: int
    window_days: int
    attempts: tuple[AttemptFacts, ...] = ()
    badges: tuple[BadgeFacts, ...] = ()
    has_draft: bool = False


@dataclass(frozen=True)
class Link:
    """A labelled link of the page."""

    label: str
    href: str


@dataclass(frozen=True)
class LetterLink:
    """A result letter of the chain."""

    attempt: int
    outcome: str  # in words
    decided_on: date
    href: str


@dataclass(frozen=True)
class AttemptRow:
    """One attempt as the history lists it."""

    id: str
    attempt: int
    state: str  # in words
    state_key: str
    submitted_on: date
    decided_on: date | None
    outcome: str | None
    letter: str | None  # its letter's path when decided
    note: str


@dataclass(frozen=True)
class Progress:
    """One enrolment as the portal shows it."""

    credential_id: str
    title: str
    state: str  # in words: "Not started", "Draft", "In review", "Not yet", "Earned", ...
    state_key: str  # a stable word for styling: not_started, draft, submitted, returned, in_review, ...
    explanation: str
    attempt_text: str
    attempts_left: int
    allowed_attempts: int
    resubmit_by: date | None
    access_ends: date
    access_over: bool
    next: Link | None
    also: tuple[Link, ...]
    letters: tuple[LetterLink, ...]
    badges: tuple[Link, ...]
    history: tuple[AttemptRow, ...]
    detail_href: str
    draft_href: str
    plan_open: bool  # still collecting evidence: the plan's targets and reminders apply


def _day(value: date) -> str:
    return long_date(value)


def _state_words(state: State) -> tuple[str, str]:
    if state in _CHECKING:
        return "Submitted", "submitted"
    if state in _REVIEWING:
        return "In review", "in_review"
    words = {
        State.RETURNED: "Returned to you",
        State.NOT_YET: "Not yet",
        State.RESUBMITTED: "Not yet (resubmitted)",
        State.EARNED: "Earned",
        State.CLOSED: "Closed",
        State.FAILED: "Held up",
        State.WITHDRAWN: "Withdrawn",
    }
    return words[state], state.value


def _outcome_words(outcome: str) -> str:
    return "Earned" if outcome == "earned" else "Not yet"


def _history(facts: EnrolmentFacts) -> tuple[AttemptRow, ...]:
    rows = []
    for attempt in facts.attempts:
        words, key = _state_words(attempt.state)
        decided = attempt.decided_at is not None and attempt.outcome is not None
        if attempt.state is State.RETURNED:
            count = attempt.problems
            note = f"Returned with {count} thing{'s' if count != 1 else ''} to fix; it cost no attempt."
        elif attempt.state is State.WITHDRAWN:
            note = "Withdrawn; it cost no attempt."
        elif attempt.state is State.RESUBMITTED:
            note = "Revised in the next attempt."
        else:
            note = ""
        rows.append(
            AttemptRow(
                id=attempt.id,
                attempt=attempt.attempt,
                state=words,
                state_key=key,
                submitted_on=attempt.submitted_at.date(),
                decided_on=attempt.decided_at.date() if attempt.decided_at else None,
                outcome=_outcome_words(attempt.outcome) if decided and attempt.outcome else None,
                letter=links.letter_url("", attempt.id) if decided else None,
                note=note,
            )
        )
    return tuple(rows)


def summarise(facts: EnrolmentFacts, *, now: datetime) -> Progress:
    """Where the enrolment stands at ``now`` and what the applicant can do next."""
    today = now.date()
    cid = facts.credential_id
    draft = links.draft_url("", cid)
    latest = facts.attempts[-1] if facts.attempts else None
    access_over = today > facts.access_ends
    history = _history(facts)
    letters = tuple(
        LetterLink(row.attempt, row.outcome, row.decided_on, row.letter)
        for row in history
        if row.letter and row.outcome and row.decided_on
    )
    badges = tuple(Link(badge.name, f"/badges/{badge.id}") for badge in facts.badges)
    latest_letter = letters[-1] if letters else None
    read_letter = Link("Read your letter", latest_letter.href) if latest_letter else None

    if latest is None:
        used, attempt_text = 0, f"No attempt yet (up to {facts.allowed_attempts})"
    else:
        used = latest.attempt - 1 if latest.state in _FREE else latest.attempt
        attempt_text = f"Attempt {latest.attempt} of {facts.allowed_attempts}"
    attempts_left = max(facts.allowed_attempts - used, 0)

    resubmit_by: date | None = None
    nxt: Link | None = None
    also: list[Link] = []
    plan_open = False
    if latest is None:
        state, key = ("Draft", "draft") if facts.has_draft else ("Not started", "not_started")
        explanation = "You have not applied yet. Collect your evidence in a draft; applying costs an attempt."
        nxt = Link("Continue your draft" if facts.has_draft else "Start your draft", draft)
        plan_open = True
    else:
        state, key = _state_words(latest.state)
        if latest.state in _CHECKING:
            explanation = "We are checking that your evidence is complete and readable. We will email you."
        elif latest.state in _REVIEWING:
            explanation = "Trained reviewers are scoring your evidence. We will email you the result."
        elif latest.state is State.RETURNED:
            explanation = "Something was missing or unreadable. Fix it and apply again: this costs no attempt."
            nxt = Link("Fix your evidence", draft)
            plan_open = True
        elif latest.state is State.NOT_YET:
            deadline = latest.state_since + timedelta(days=facts.window_days)
            if attempts_left and now <= deadline:
                resubmit_by = deadline.date()
                explanation = (
                    f"Some criteria are not met yet. Revise your evidence and resubmit by {_day(resubmit_by)}."
                )
                nxt = Link("Continue your revision" if facts.has_draft else "Revise and resubmit", draft)
                if read_letter:
                    also.append(read_letter)
                plan_open = True
            elif attempts_left:
                explanation = f"The resubmission window ended on {_day(deadline.date())}."
                nxt = read_letter
            else:
                explanation = "That was your last attempt. Reply to your letter to arrange a coaching conversation."
                nxt = read_letter
        elif latest.state is State.EARNED:
            explanation = "You earned this micro-credential."
            nxt = Link("View your badge", badges[0].href) if badges else read_letter
            if badges and read_letter:
                also.append(read_letter)
        elif latest.state is State.CLOSED:
            explanation = (
                "No further attempt can be made for now. The program team can reopen it after a coaching "
                "conversation: reply to your letter to arrange one."
            )
            nxt = read_letter
        elif latest.state is State.WITHDRAWN:
            explanation = "This attempt was withdrawn. You can start again from a draft."
            nxt = Link("Start a new draft", draft)
            plan_open = True
        else:  # FAILED (RESUBMITTED is never the latest of a chain)
            explanation = "A system problem held up your submission. Our operators are on it; nothing to do."
    if access_over and latest is not None and latest.state is not State.EARNED and plan_open:
        explanation = (
            f"Your access ended on {_day(facts.access_ends)}. Ask your program administrator to renew the enrolment."
        )
        nxt, also, plan_open, resubmit_by = read_letter, [], False, None
    elif access_over and latest is None:
        explanation = (
            f"Your access ended on {_day(facts.access_ends)}. Ask your program administrator to renew the enrolment."
        )
        nxt, plan_open = None, False
    return Progress(
        credential_id=cid,
        title=facts.title,
        state=state,
        state_key=key,
        explanation=explanation,
        attempt_text=attempt_text,
        attempts_left=attempts_left,
        allowed_attempts=facts.allowed_attempts,
        resubmit_by=resubmit_by,
        access_ends=facts.access_ends,
        access_over=access_over,
        next=nxt,
        also=tuple(also),
        letters=letters,
        badges=badges,
        history=history,
        detail_href=links.credential_url("", cid),
        draft_href=draft,
        plan_open=plan_open,
    )
