"""Moving submissions through the lifecycle: compare-and-set transitions plus their event log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from credflow.db.models import Event, EvidenceItem, Submission, utcnow
from credflow.errors import IllegalTransition, NotFoundError
from credflow.lifecycle import State, check_transition


class ConcurrentTransition(IllegalTransition):
    """Another process moved the submission first; this move was not made."""


def get_submission(session: Session, submission_id: str) -> Submission:
    """Return the submission or raise NotFoundError."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFoundError(f"no submission {submission_id!r}")
    return submission


def resolve_id(session: Session, given: str) -> str:
    """Turn a full id or a unique prefix of at least 6 characters (as in run names) into an id.

    Raises:
        NotFoundError: no submission, or the prefix names several.
    """
    given = given.strip().lower()
    if session.get(Submission, given) is not None:
        return given
    if len(given) < 6:
        raise NotFoundError(f"no submission {given!r} (give the id or at least its first 6 characters)")
    matches = list(
        session.scalars(select(Submission.id).where(Submission.id.startswith(given, autoescape=True)).limit(3))
    )
    if not matches:
        raise NotFoundError(f"no submission {given!r}")
    if len(matches) > 1:
        raise NotFoundError(f"{given!r} matches several submissions ({', '.join(matches)}); give more characters")
    return matches[0]


def record_event(
    session: Session,
    *,
    submission_id: str | None,
    kind: str,
    actor: str,
    detail: dict[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event to the log (the log is never edited)."""
    event = Event(
        submission_id=submission_id,
        kind=kind,
        actor=actor,
        detail=detail or {},
        from_state=from_state,
        to_state=to_state,
        at=at or utcnow(),
    )
    session.add(event)
    return event


def transition(
    session: Session,
    submission: Submission,
    target: State,
    *,
    actor: str,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Move ``submission`` to ``target`` if the lifecycle allows it and nobody moved it meanwhile.

    The UPDATE only matches the state this process last read, so two workers can
    never both make the same move; the event is written in the same transaction.

    Raises:
        IllegalTransition: the lifecycle forbids the move.
        ConcurrentTransition: the row changed state under us.
    """
    current = State(submission.state)
    check_transition(current, target)
    at = now or utcnow()
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.state == current.value)
        .values(state=target.value, state_since=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentTransition(f"submission {submission.id} is no longer {current}; someone else moved it")
    session.expire(submission, ["state", "state_since", "updated_at"])
    record_event(
        session,
        submission_id=submission.id,
        kind="state",
        actor=actor,
        detail=detail,
        from_state=current.value,
        to_state=target.value,
        at=at,
    )


def unlock_count(session: Session, *, applicant_id: str, credential_id: str) -> int:
    """How many times an operator unlocked this applicant's chain for this credential (one attempt each)."""
    count = session.scalar(
        select(func.count())
        .select_from(Event)
        .join(Submission, Submission.id == Event.submission_id)
        .where(
            Submission.applicant_id == applicant_id,
            Submission.credential_id == credential_id,
            Event.kind == "unlocked",
        )
    )
    return int(count or 0)


def events_of(session: Session, submission_id: str) -> list[Event]:
    """The submission's event log, oldest first."""
    return list(session.scalars(select(Event).where(Event.submission_id == submission_id).order_by(Event.id)))


@dataclass(frozen=True)
class EvidenceView:
    """What operators and reviewers see of one evidence item."""

    id: str
    requirement_key: str
    display_name: str
    size: int
    sha256: str
    sniffed_format: str | None
    duration: float | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class SubmissionView:
    """A read-only snapshot of a submission, safe to pass between processes."""

    id: str
    credential_id: str
    applicant_name: str
    applicant_email: str
    organisation: str
    attempt: int
    previous_id: str | None
    state: State
    created_at: datetime
    state_since: datetime
    problems: tuple[dict[str, str], ...]
    evidence: tuple[EvidenceView, ...]

    @property
    def short_id(self) -> str:
        return self.id[:8]


def _evidence_view(item: EvidenceItem) -> EvidenceView:
    probe = item.media_probe or {}
    return EvidenceView(
        id=item.id,
        requirement_key=item.requirement_key,
        display_name=item.display_name,
        size=item.size,
        sha256=item.sha256,
        sniffed_format=item.sniffed_format,
        duration=probe.get("duration"),
        problems=tuple(p["message"] for p in item.validation or ()),
    )


def view(session: Session, submission_id: str) -> SubmissionView:
    """Load a snapshot of one submission with its evidence."""
    sub = get_submission(session, submission_id)
    return SubmissionView(
        id=sub.id,
        credential_id=sub.credential_id,
        applicant_name=sub.applicant.name,
        applicant_email=sub.applicant.email,
        organisation=sub.applicant.organisation,
        attempt=sub.attempt,
        previous_id=sub.previous_id,
        state=State(sub.state),
        created_at=sub.created_at,
        state_since=sub.state_since,
        problems=tuple(sub.problems or ()),
        evidence=tuple(_evidence_view(item) for item in sub.evidence),
    )
