"""Every stored state beside the submission's: an enum with its transitions, and a guarded compare-and-set.

The submission's machine is :mod:`credflow.lifecycle` (its guarded move, with its event, is
:func:`credflow.submissions.transition`). The records below move the same way: a move the
table does not allow is refused, and :func:`move` changes a row only while it is still in a
state the move may start from, so two workers can never both make it. Members equal their
strings, so the stored values are the ones the columns have always held.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from credflow.errors import IllegalTransition
from credflow.lifecycle import TRANSITIONS as SUBMISSION_TRANSITIONS
from credflow.lifecycle import State


class AssignmentState(StrEnum):
    """One reviewer's job on one submission (``assignments.state``)."""

    ACTIVE = "active"  # the reviewer holds it; their link works
    SUBMITTED = "submitted"  # the verdicts are final
    DECLINED = "declined"  # the reviewer gave it back, with a reason
    WITHDRAWN = "withdrawn"  # past its deadline, or its attempt was withdrawn


ASSIGNMENT_TRANSITIONS: dict[AssignmentState, frozenset[AssignmentState]] = {
    AssignmentState.ACTIVE: frozenset({AssignmentState.SUBMITTED, AssignmentState.DECLINED, AssignmentState.WITHDRAWN}),
    AssignmentState.SUBMITTED: frozenset(),
    AssignmentState.DECLINED: frozenset(),
    AssignmentState.WITHDRAWN: frozenset(),
}


class TranscodeState(StrEnum):
    """The review version of one video (``transcodes.state``)."""

    RUNNING = "running"  # a worker holds the lease (a lapsed lease is taken over, still running)
    DONE = "done"  # the review MP4 and poster are stored
    FAILED = "failed"  # the input cannot be converted: the applicant's file, not a system failure


TRANSCODE_TRANSITIONS: dict[TranscodeState, frozenset[TranscodeState]] = {
    TranscodeState.RUNNING: frozenset({TranscodeState.DONE, TranscodeState.FAILED}),
    TranscodeState.DONE: frozenset(),
    TranscodeState.FAILED: frozenset(),
}


class MessageState(StrEnum):
    """One email by idempotency key (``messages.state``)."""

    PENDING = "pending"  # not sent yet; nobody holds the claim
    SENDING = "sending"  # a sender holds the claim and is calling the mail service
    SENT = "sent"  # the mail service accepted it: never sent again
    FAILED = "failed"  # refused for good (or could not be rendered); the operator was told


MESSAGE_TRANSITIONS: dict[MessageState, frozenset[MessageState]] = {
    MessageState.PENDING: frozenset({MessageState.SENDING, MessageState.FAILED}),
    # A lapsed claim is taken over (sending again); a transient failure releases it (pending).
    MessageState.SENDING: frozenset(
        {MessageState.SENDING, MessageState.PENDING, MessageState.SENT, MessageState.FAILED}
    ),
    MessageState.SENT: frozenset(),
    MessageState.FAILED: frozenset(),
}


class BadgeState(StrEnum):
    """One issued credential (``badges.state``)."""

    ACTIVE = "active"  # valid (within its dates) and announced on its page
    SUPERSEDED = "superseded"  # a renewal replaced it; it stays valid, not revoked
    EXPIRED = "expired"  # its expiry was recorded (and announced)
    REVOKED = "revoked"  # its status bit is set: every verifier reports it revoked


BADGE_TRANSITIONS: dict[BadgeState, frozenset[BadgeState]] = {
    BadgeState.ACTIVE: frozenset({BadgeState.SUPERSEDED, BadgeState.EXPIRED, BadgeState.REVOKED}),
    BadgeState.SUPERSEDED: frozenset({BadgeState.REVOKED}),
    BadgeState.EXPIRED: frozenset({BadgeState.SUPERSEDED, BadgeState.REVOKED}),
    # Final: a revoked badge stays on its issuer's revocation list.
    BadgeState.REVOKED: frozenset(),
}


class DraftState(StrEnum):
    """An applicant's draft of one attempt (``drafts.state``)."""

    OPEN = "open"  # being written: answers and files change, Check my evidence and coaches read it
    APPLIED = "applied"  # sent through the intake: it names the submission it became


DRAFT_TRANSITIONS: dict[DraftState, frozenset[DraftState]] = {
    DraftState.OPEN: frozenset({DraftState.APPLIED}),
    DraftState.APPLIED: frozenset(),
}


class DispatchState(StrEnum):
    """One flow run handed to the background workers (``dispatches.state``)."""

    QUEUED = "queued"  # handed to Prefect; no worker holds it yet (a lapsed wait is handed again)
    RUNNING = "running"  # a worker holds the lease and runs the flow (a lapsed lease is queued again)
    DONE = "done"  # the flow run ended Completed
    FAILED = "failed"  # the flow run failed (the operator was alerted), or its attempts ran out


DISPATCH_TRANSITIONS: dict[DispatchState, frozenset[DispatchState]] = {
    DispatchState.QUEUED: frozenset({DispatchState.RUNNING, DispatchState.QUEUED, DispatchState.FAILED}),
    # A worker renews its own lease (running again); a lapsed one goes back to the queue.
    DispatchState.RUNNING: frozenset(
        {DispatchState.RUNNING, DispatchState.QUEUED, DispatchState.DONE, DispatchState.FAILED}
    ),
    DispatchState.DONE: frozenset(),
    DispatchState.FAILED: frozenset(),
}

#: Every stored state machine by its enum, the submission's included.
MACHINES: Mapping[type[StrEnum], Mapping[Any, frozenset[Any]]] = {
    State: SUBMISSION_TRANSITIONS,
    AssignmentState: ASSIGNMENT_TRANSITIONS,
    TranscodeState: TRANSCODE_TRANSITIONS,
    MessageState: MESSAGE_TRANSITIONS,
    BadgeState: BADGE_TRANSITIONS,
    DraftState: DRAFT_TRANSITIONS,
    DispatchState: DISPATCH_TRANSITIONS,
}

S = TypeVar("S", bound=StrEnum)


def transitions_of(kind: type[S]) -> Mapping[S, frozenset[S]]:
    """The transitions table of the state enum ``kind``."""
    return MACHINES[kind]


def predecessors(target: S) -> frozenset[S]:
    """The states a move to ``target`` may start from."""
    return frozenset(state for state, nexts in transitions_of(type(target)).items() if target in nexts)


def check_move(current: S, target: S) -> None:
    """Refuse a move the table of their enum does not allow.

    Raises:
        IllegalTransition: naming the record kind, both states and the moves that are allowed.
    """
    allowed = transitions_of(type(current))[current]
    if type(target) is not type(current) or target not in allowed:
        options = ", ".join(sorted(allowed)) or "none (final state)"
        raise IllegalTransition(f"cannot move {type(current).__name__} {current} to {target}; allowed: {options}")


def move(
    session: Session,
    column: InstrumentedAttribute[str],
    target: S,
    *,
    where: ColumnElement[bool],
    current: S | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Set ``column`` to ``target`` (with ``values``) on the rows ``where`` picks, if they may move there.

    The UPDATE matches a row only while it is in ``current`` (the state the caller read), or,
    without ``current``, in any state the table lets move to ``target``: a row another worker
    moved meanwhile is left alone. Rows it changed that the session holds are refreshed.

    Returns:
        Whether a row moved.

    Raises:
        IllegalTransition: the table forbids moving from ``current`` (or from anywhere) to ``target``.
    """
    if current is not None:
        check_move(current, target)
        sources = frozenset({current})
    else:
        sources = predecessors(target)
        if not sources:
            raise IllegalTransition(f"nothing moves to {type(target).__name__} {target}; it is only a starting state")
    statement = (
        update(column.class_)
        .where(where, column.in_(sorted(state.value for state in sources)))
        .values({column.key: target.value, **(values or {})})
        .execution_options(synchronize_session="fetch")
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
