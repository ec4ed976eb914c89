"""Evidence retention's pure rules: the cutoff, and which ended attempts are due at it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credflow.lifecycle import State
from credflow.retention.rules import ENDED, is_due, retention_cutoff

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_no_cutoff_when_retention_is_off():
    assert retention_cutoff(NOW, 0) is None
    assert retention_cutoff(NOW, 365) == NOW - timedelta(days=365)


@pytest.mark.parametrize("state", sorted(State, key=str))
def test_only_ended_attempts_older_than_the_cutoff_are_due(state):
    cutoff = NOW - timedelta(days=30)
    ended_long_ago = cutoff - timedelta(seconds=1)
    assert is_due(state.value, ended_long_ago, cutoff) is (state in ENDED)
    assert is_due(state.value, cutoff, cutoff) is False  # the cutoff itself is not before the cutoff
