"""Dispatches in the database: handed out once per key, claimed under a renewed lease, swept when it lapses.

Every step is a guarded compare-and-set (:func:`credflow.states.move`, :class:`credflow.leases.Lease`),
so two workers never both hold a dispatch and two sweeps never both hand one out again. Handing
out again is safe because the flows are idempotent by business key (messages, badges, decisions).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from credflow.db.models import Dispatch
from credflow.dispatch.rules import WATCHED, FlowKind, LapseAction, dispatch_key, lapsed, on_lapse, wait_for_worker
from credflow.leases import Lease
from credflow.services import Services
from credflow.states import DispatchState, move


@dataclass(frozen=True)
class Handed:
    """A dispatch to give the workers: its id, flow and submission (and the run a lapsed holder left)."""

    id: str
    kind: FlowKind
    submission_id: str
    flow_run_id: str | None = None
    handed: int = 1


@dataclass(frozen=True)
class Swept:
    """What one sweep did: dispatches handed out again, and those given up (the operator is told)."""

    again: list[Handed]
    given_up: list[Handed]


def lease_of(services: Services) -> Lease[Dispatch]:
    """How dispatches are claimed: from the queue, or from a holder whose lease lapsed."""
    return Lease(
        model=Dispatch,
        key=Dispatch.id,
        state=Dispatch.state,
        until=Dispatch.lease_until,
        attempts=Dispatch.attempts,
        length=timedelta(seconds=services.settings.dispatch_lease_seconds),
        held=DispatchState.RUNNING,
        free=(DispatchState.QUEUED,),
        owner="owner",
    )


def hand_out(services: Services, kind: FlowKind, submission_id: str, *, now: datetime) -> Handed | None:
    """Record a new dispatch, queued until its wait for a worker runs out; ``None`` when its key is taken."""
    key = dispatch_key(kind, submission_id, nonce=uuid.uuid4().hex[:16])
    wait = wait_for_worker(timedelta(seconds=services.settings.dispatch_lease_seconds))
    row = Dispatch(
        key=key, kind=kind.value, submission_id=submission_id, state=DispatchState.QUEUED.value, lease_until=now + wait
    )
    try:
        with services.db.session() as session:
            session.add(row)
            session.flush()
            handed = Handed(row.id, kind, submission_id)
    except IntegrityError:
        return None
    return handed


def claim(services: Services, dispatch_id: str, *, owner: str, now: datetime) -> Handed | None:
    """Take the dispatch for ``owner``; ``None`` when it is gone, finished, or held under a live lease."""
    lease = lease_of(services)
    with services.db.session() as session:
        row = lease.get(session, dispatch_id)
        if row is None:
            return None

        def missing() -> Dispatch:
            raise LookupError(dispatch_id)  # never called: the row exists

        taken = lease.claim(session, dispatch_id, now=now, new=missing, owner=owner)
        if not taken.taken:
            return None
        return Handed(row.id, FlowKind(row.kind), row.submission_id, row.flow_run_id, row.handed)


def renew(services: Services, dispatch_id: str, *, owner: str, now: datetime) -> bool:
    """Extend ``owner``'s lease (while the flow runs); ``False`` when the dispatch is no longer theirs."""
    length = timedelta(seconds=services.settings.dispatch_lease_seconds)
    with services.db.session() as session:
        held = Dispatch.id == dispatch_id
        return move(
            session,
            Dispatch.state,
            DispatchState.RUNNING,
            where=held & (Dispatch.owner == owner),
            current=DispatchState.RUNNING,
            values={"lease_until": now + length},
        )


def record_run(services: Services, dispatch_id: str, *, owner: str, flow_run_id: str) -> None:
    """Note the Prefect flow run ``owner`` started for the dispatch (a sweep marks it Crashed if the holder dies)."""
    with services.db.session() as session:
        session.execute(
            update(Dispatch)
            .where(Dispatch.id == dispatch_id, Dispatch.owner == owner, Dispatch.state == DispatchState.RUNNING)
            .values(flow_run_id=flow_run_id)
        )


def finish(services: Services, dispatch_id: str, *, owner: str, error: str | None = None) -> bool:
    """Settle ``owner``'s dispatch, done or failed with ``error``; ``False`` when another holds it now."""
    target = DispatchState.FAILED if error is not None else DispatchState.DONE
    with services.db.session() as session:
        return move(
            session,
            Dispatch.state,
            target,
            where=(Dispatch.id == dispatch_id) & (Dispatch.owner == owner),
            current=DispatchState.RUNNING,
            values={"lease_until": None, "error": error},
        )


def sweep_lapsed(services: Services, *, now: datetime) -> Swept:
    """Hand out again every dispatch whose lease lapsed (or give it up after ``dispatch_attempts`` claims).

    Each row moves only if its lease is still the lapsed one this sweep read, so of two sweeps
    (one per worker) exactly one hands it out again.
    """
    length = timedelta(seconds=services.settings.dispatch_lease_seconds)
    most = services.settings.dispatch_attempts
    again: list[Handed] = []
    given_up: list[Handed] = []
    with services.db.session() as session:
        rows = session.scalars(
            select(Dispatch).where(Dispatch.state.in_(sorted(WATCHED)), Dispatch.lease_until < now)
        ).all()
        for row in rows:
            state = DispatchState(row.state)
            if not lapsed(state, row.lease_until, now):
                continue
            handed = Handed(row.id, FlowKind(row.kind), row.submission_id, row.flow_run_id, row.handed)
            same = (Dispatch.id == row.id) & (Dispatch.lease_until == row.lease_until)
            if on_lapse(state, claims=row.attempts, most=most) is LapseAction.HAND_AGAIN:
                wait = wait_for_worker(length)
                values: dict[str, object] = {"lease_until": now + wait, "owner": None, "handed": row.handed + 1}
                if move(session, Dispatch.state, DispatchState.QUEUED, where=same, current=state, values=values):
                    again.append(handed)
            else:
                error = f"taken by a worker {row.attempts} times without finishing"
                values = {"lease_until": None, "error": error}  # the operator is told by the caller
                if move(session, Dispatch.state, DispatchState.FAILED, where=same, current=state, values=values):
                    given_up.append(handed)
    return Swept(again, given_up)
