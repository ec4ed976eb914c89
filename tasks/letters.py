"""Prefect task of the letters step: the applicant's result letter."""

from __future__ import annotations

from credflow.letters.stage import send_result
from credflow.notifications.rules import DeliveryOutcome
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="send-result", task_run_name="result-{submission_id}")
def send_result_letter(submission_id: str) -> DeliveryOutcome:
    """Email the applicant their result letter, once."""
    return send_result(services(), submission_id)
