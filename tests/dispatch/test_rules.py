"""The re-dispatch rule: which dispatches a sweep hands out again, and when it gives up (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credflow.dispatch.rules import FlowKind, LapseAction, dispatch_key, lapsed, on_lapse, wait_for_worker
from credflow.states import DispatchState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", [DispatchState.QUEUED, DispatchState.RUNNING])
def test_a_queued_or_running_dispatch_lapses_once_its_lease_is_past(state):
    assert lapsed(state, NOW - timedelta(seconds=1), NOW)
    assert not lapsed(state, NOW + timedelta(seconds=1), NOW)
    assert not lapsed(state, NOW, NOW)  # the lease holds up to its last instant


@pytest.mark.parametrize("state", [DispatchState.DONE, DispatchState.FAILED])
def test_a_finished_dispatch_never_lapses(state):
    assert not lapsed(state, NOW - timedelta(days=1), NOW)


def test_a_dispatch_without_a_lease_does_not_lapse():
    assert not lapsed(DispatchState.RUNNING, None, NOW)


def test_a_lapsed_run_is_handed_out_again_until_enough_workers_took_it():
    assert [on_lapse(DispatchState.RUNNING, claims=n, most=3) for n in (1, 2, 3, 4)] == [
        LapseAction.HAND_AGAIN,
        LapseAction.HAND_AGAIN,
        LapseAction.GIVE_UP,
        LapseAction.GIVE_UP,
    ]


def test_a_queued_dispatch_is_always_handed_out_again_nothing_ran():
    assert on_lapse(DispatchState.QUEUED, claims=9, most=3) is LapseAction.HAND_AGAIN


def test_a_queued_dispatch_waits_four_leases_for_a_worker():
    assert wait_for_worker(timedelta(seconds=15)) == timedelta(seconds=60)


def test_a_submission_is_dispatched_once_and_a_decision_after_each_verdict():
    assert dispatch_key(FlowKind.SUBMISSION, "s1", nonce="a") == dispatch_key(FlowKind.SUBMISSION, "s1", nonce="b")
    assert dispatch_key(FlowKind.DECISION, "s1", nonce="a") != dispatch_key(FlowKind.DECISION, "s1", nonce="b")
