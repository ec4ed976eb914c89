"""The submission lifecycle state machine: legal moves pass, illegal ones are refused with a reason."""

import itertools

import pytest

from credflow.errors import IllegalTransition
from credflow.lifecycle import ACTIVE, FINAL, TRANSITIONS, State, check_transition


def test_every_state_has_its_transitions_declared():
    assert set(TRANSITIONS) == set(State)
    for targets in TRANSITIONS.values():
        assert targets <= set(State)


def test_the_whole_lifecycle_is_reachable_from_received():
    seen, frontier = {State.RECEIVED}, [State.RECEIVED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(State)


@pytest.mark.parametrize(
    ("path"),
    [
        [State.RECEIVED, State.VALIDATING, State.RETURNED, State.RESUBMITTED],
        [State.RECEIVED, State.VALIDATING, State.TRANSCODING, State.AWAITING_REVIEW, State.IN_REVIEW, State.EARNED],
        [State.AWAITING_REVIEW, State.IN_REVIEW, State.ADJUDICATING, State.NOT_YET, State.CLOSED, State.NOT_YET],
    ],
)
def test_lifecycle_paths_are_allowed(path):
    for current, target in itertools.pairwise(path):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.RECEIVED, State.EARNED),
        (State.RETURNED, State.AWAITING_REVIEW),
        (State.EARNED, State.NOT_YET),
        (State.VALIDATING, State.IN_REVIEW),
        (State.RESUBMITTED, State.RECEIVED),
    ],
)
def test_illegal_moves_are_refused_naming_both_states(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_transition(current, target)
    assert str(current) in str(info.value) and str(target) in str(info.value)


def test_final_states_have_no_way_out_and_are_not_active():
    assert State.EARNED in FINAL and State.RESUBMITTED in FINAL
    assert not FINAL & ACTIVE
