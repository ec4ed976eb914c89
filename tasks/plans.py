"""Prefect task of the plans step: the applicants' plan reminders, sent from the review sweep."""

from __future__ import annotations

from prefect import get_run_logger

from credflow.plans.stage import PlanSweep, send_plan_reminders
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="send-plan-reminders")
def plan_reminders() -> PlanSweep:
    """Email every plan reminder due today (7 and 1 days before each target date), each once."""
    swept = send_plan_reminders(services())
    logger = get_run_logger()
    logger.info("plan reminders: %d sent, %d given up", len(swept.sent), len(swept.failed))
    return swept
