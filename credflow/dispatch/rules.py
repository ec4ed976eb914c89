"""What a dispatch is and what a sweep does with one whose lease lapsed (pure: no session, no Prefect)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from credflow.states import DispatchState


class FlowKind(StrEnum):
    """The flows the background workers run for a submission."""

    SUBMISSION = "submission"  # validate, transcode, assign reviewers: once per attempt
    DECISION = "decide"  # aggregate the verdicts, issue, send the letter: after each verdict


class LapseAction(StrEnum):
    """A sweep's answer to a lapsed dispatch."""

    HAND_AGAIN = "hand_again"  # queue it for the workers again (the flows are idempotent)
    GIVE_UP = "give_up"  # it was handed out too often: fail it and tell the operator


#: A queued dispatch waits this many leases for a worker before it is handed out again: a backlog is no
#: dead worker, but Prefect may have delivered it to a worker that died before taking it.
QUEUE_WAIT_LEASES = 4

#: States whose lease a sweep watches: nobody took it in time, or its holder stopped renewing.
WATCHED: frozenset[DispatchState] = frozenset({DispatchState.QUEUED, DispatchState.RUNNING})


def dispatch_key(kind: FlowKind, submission_id: str, *, nonce: str) -> str:
    """The unique key of a dispatch: one submission run per attempt, a decide run per verdict (``nonce``)."""
    if kind is FlowKind.SUBMISSION:
        return f"{kind}:{submission_id}"
    return f"{kind}:{submission_id}:{nonce}"


def lapsed(state: DispatchState, lease_until: datetime | None, now: datetime) -> bool:
    """Whether a dispatch in ``state`` needs handing again: queued or running, and its lease ran out before ``now``."""
    return state in WATCHED and lease_until is not None and lease_until < now


def on_lapse(state: DispatchState, *, claims: int, most: int) -> LapseAction:
    """Hand a lapsed dispatch out again, or give it up once ``most`` workers took it and none finished it.

    A queued dispatch is always handed out again: nothing ran, it waited behind a backlog or its
    hand-out to Prefect was lost.

    Args:
        state: The dispatch's state (queued or running).
        claims: How many times a worker took it.
        most: ``CREDFLOW_DISPATCH_ATTEMPTS``.
    """
    if state is DispatchState.QUEUED:
        return LapseAction.HAND_AGAIN
    return LapseAction.HAND_AGAIN if claims < most else LapseAction.GIVE_UP


def wait_for_worker(lease: timedelta) -> timedelta:
    """How long a queued dispatch waits for a worker before it is handed out again."""
    return lease * QUEUE_WAIT_LEASES
