"""A round assigns only reviewers available over the whole review window, from today to the due date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from credflow.assignment.stage import assign_reviewers
from tests.utils.review_cycle import CRED, NOW, assignments_of, load_pool, ready_submission


def pool(leave_from: date, leave_to: date) -> str:
    """Two calibrated reviewers for CRED; Rosa is on leave from ``leave_from`` to ``leave_to``."""
    return f"""
reviewers:
  - {{name: Rosa Diaz, email: rosa@review.org, organisation: Lakeside ISD, certified_for: [{CRED}],
      calibrated_on: 2026-09-01, max_active: 3,
      unavailable: [{{from: {leave_from}, to: {leave_to}}}]}}
  - {{name: Sam Iyer, email: sam@review.org, organisation: Northgate PD, certified_for: [{CRED}],
      calibrated_on: 2026-09-01, max_active: 3}}
"""


@pytest.mark.parametrize(
    "leave_from",
    [
        pytest.param(date(2026, 11, 24), id="from-tomorrow"),
        pytest.param(date(2026, 11, 30), id="mid-window"),
        pytest.param(date(2026, 12, 1), id="on-the-due-date"),
    ],
)
def test_a_reviewer_on_leave_within_the_window_is_not_assigned(services, tmp_path, leave_from):
    # Assigned Monday 23 November 2026, due Tuesday 1 December (Thanksgiving skipped).
    load_pool(services, pool(leave_from, date(2026, 12, 18)))
    sid = ready_submission(services, tmp_path)
    round_ = assign_reviewers(services, now=NOW)
    assert [a.reviewer.email for a in assignments_of(services, sid)] == ["sam@review.org"]
    assert (
        f"availability: unavailable {leave_from} to 2026-12-18, within the review window to 2026-12-01"
        in (round_.shortfalls[sid])
    )


def test_leave_after_the_due_date_does_not_stand_in_the_way(services, tmp_path):
    load_pool(services, pool(date(2026, 12, 2), date(2026, 12, 18)))
    sid = ready_submission(services, tmp_path)
    assert not assign_reviewers(services, now=NOW).shortfalls
    reviews = assignments_of(services, sid)
    assert sorted(a.reviewer.email for a in reviews) == ["rosa@review.org", "sam@review.org"]
    assert {a.due_at for a in reviews} == {datetime(2026, 12, 1, 9, 0, tzinfo=UTC)}
