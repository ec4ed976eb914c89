"""Prefect tasks of the review step: the deadline sweep and the table of submissions waiting for review."""

from __future__ import annotations

from prefect.artifacts import create_table_artifact

from credflow.review.stage import SweepResult, sweep_deadlines, waiting_for_review
from tasks.retry import artifact_task, retried_task
from tasks.runtime import services


@retried_task(name="sweep-deadlines")
def deadline_sweep() -> SweepResult:
    """Mark reminders due and withdraw overdue assignments."""
    return sweep_deadlines(services())


@artifact_task(name="publish-waiting")
def publish_waiting() -> int:
    """Publish the table of submissions waiting for reviewers or verdicts."""
    rows = waiting_for_review(services())
    create_table_artifact(
        key="reviews-waiting",
        table=[row.as_dict() for row in rows],
        description=f"{len(rows)} submissions waiting for review (oldest first)",
    )
    return len(rows)
