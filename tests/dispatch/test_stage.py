"""Dispatches in the database: one claim at a time, renewals by the holder only, lapsed leases handed out once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from credflow.db.models import Dispatch
from credflow.dispatch.rules import FlowKind
from credflow.dispatch.stage import claim, finish, hand_out, renew, sweep_lapsed
from credflow.states import DispatchState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _row(services, dispatch_id: str) -> Dispatch:
    with services.db.session() as session:
        return session.get_one(Dispatch, dispatch_id)


def test_a_submission_is_handed_out_once(services):
    assert hand_out(services, FlowKind.SUBMISSION, "s1", now=NOW) is not None
    assert hand_out(services, FlowKind.SUBMISSION, "s1", now=NOW) is None
    assert hand_out(services, FlowKind.DECISION, "s1", now=NOW) is not None
    assert hand_out(services, FlowKind.DECISION, "s1", now=NOW) is not None  # one per verdict


def test_one_worker_holds_a_dispatch_and_only_it_renews_and_finishes_it(services):
    handed = hand_out(services, FlowKind.SUBMISSION, "s1", now=NOW)
    assert handed is not None
    assert claim(services, handed.id, owner="a:1", now=NOW) is not None
    assert claim(services, handed.id, owner="b:2", now=NOW + timedelta(seconds=5)) is None  # a's lease holds
    assert not renew(services, handed.id, owner="b:2", now=NOW)
    assert renew(services, handed.id, owner="a:1", now=NOW + timedelta(seconds=100))
    assert _row(services, handed.id).lease_until == NOW + timedelta(
        seconds=100 + services.settings.dispatch_lease_seconds
    )
    assert not finish(services, handed.id, owner="b:2")
    assert finish(services, handed.id, owner="a:1")
    assert _row(services, handed.id).state == DispatchState.DONE
    assert claim(services, handed.id, owner="b:2", now=NOW + timedelta(days=1)) is None  # done stays done


def test_a_sweep_hands_a_lapsed_dispatch_out_again_once_and_its_dead_holder_cannot_finish_it(services):
    lease = timedelta(seconds=services.settings.dispatch_lease_seconds)
    handed = hand_out(services, FlowKind.DECISION, "s1", now=NOW)
    assert handed is not None
    assert claim(services, handed.id, owner="dead:1", now=NOW) is not None
    assert sweep_lapsed(services, now=NOW + lease).again == []  # not yet lapsed
    later = NOW + lease + timedelta(seconds=1)
    swept = sweep_lapsed(services, now=later)
    assert [h.id for h in swept.again] == [handed.id] and swept.given_up == []
    assert sweep_lapsed(services, now=later).again == []  # a second sweep finds a fresh lease
    row = _row(services, handed.id)
    assert row.state == DispatchState.QUEUED and row.handed == 2 and row.owner is None
    assert not finish(services, handed.id, owner="dead:1")  # a holder that woke up settles nothing
    assert claim(services, handed.id, owner="live:2", now=later) is not None
    assert finish(services, handed.id, owner="live:2")


def test_a_dispatch_nobody_took_is_handed_out_again(services):
    lease = timedelta(seconds=services.settings.dispatch_lease_seconds)
    handed = hand_out(services, FlowKind.SUBMISSION, "s1", now=NOW)
    assert handed is not None
    assert sweep_lapsed(services, now=NOW + 2 * lease).again == []  # waiting behind a backlog is no death
    assert [h.id for h in sweep_lapsed(services, now=NOW + 5 * lease).again] == [handed.id]


def test_a_dispatch_taken_by_too_many_workers_is_given_up(make_settings):
    from credflow.services import build_services

    services = build_services(make_settings(dispatch_attempts=2, dispatch_lease_seconds=10))
    try:
        handed = hand_out(services, FlowKind.SUBMISSION, "s1", now=NOW)
        assert handed is not None
        assert claim(services, handed.id, owner="a:1", now=NOW) is not None
        first = sweep_lapsed(services, now=NOW + timedelta(seconds=11))
        assert len(first.again) == 1
        assert claim(services, handed.id, owner="b:2", now=NOW + timedelta(seconds=12)) is not None
        second = sweep_lapsed(services, now=NOW + timedelta(seconds=30))
        assert second.again == [] and [h.id for h in second.given_up] == [handed.id]
        row = _row(services, handed.id)
        assert row.state == DispatchState.FAILED and "2 times" in (row.error or "")
    finally:
        services.close()
