"""The resubmission window's pure rules: its deadline, and when a waiting attempt is reminded or closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from credflow.resubmission.rules import REMIND_BEFORE, ChainNotice, due_notice, resubmit_by

NOT_YET = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_window_ends_its_length_in_days_after_the_not_yet():
    assert resubmit_by(NOT_YET, 60) == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def test_nothing_is_due_before_the_last_week_then_the_reminder_then_closing():
    deadline = resubmit_by(NOT_YET, 60)
    assert due_notice(deadline, deadline - REMIND_BEFORE - timedelta(seconds=1)) is None
    assert due_notice(deadline, deadline - REMIND_BEFORE) is ChainNotice.REMINDER
    assert due_notice(deadline, deadline) is ChainNotice.REMINDER  # the last moment of the window
    assert due_notice(deadline, deadline + timedelta(seconds=1)) is ChainNotice.CLOSED
