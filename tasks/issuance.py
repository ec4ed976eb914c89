"""Prefect tasks of the issuance step: badges and in-service hours for a decision, and the daily badge sweep."""

from __future__ import annotations

from prefect import get_run_logger

from credflow.issuance.stage import BadgeSweep, IssueReport, issue_for_decision, record_hours, sweep_badges
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="issue-badges", task_run_name="issue-{submission_id}")
def issue_badges(submission_id: str) -> IssueReport:
    """Issue the earned micro-credential's badge and any pathway badges it completes."""
    return issue_for_decision(services(), submission_id)


@retried_task(name="record-hours", task_run_name="hours-{submission_id}")
def record_earned_hours(submission_id: str) -> float | None:
    """Record the in-service hours of an earned micro-credential, once per decision."""
    hours = record_hours(services(), submission_id)
    if hours is None:
        return None
    get_run_logger().info("%g in-service hours recorded (confirmation %s)", hours.hours, hours.confirmation)
    return hours.hours


@retried_task(name="sweep-badges")
def badge_sweep_task() -> BadgeSweep:
    """Record expired pathway badges and list the badges due their 60-day expiry reminder (the flow sends them)."""
    return sweep_badges(services())
