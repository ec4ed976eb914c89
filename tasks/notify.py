"""Prefect tasks that send applicant notices exactly once."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from credflow.notifications.rules import Delivery, DeliveryOutcome, Notice
from credflow.notifications.stage import send_notice
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient
from tasks.runtime import services


@task(
    name="send-notice",
    task_run_name="notice-{notice}-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def notify_applicant(submission_id: str, notice: Notice) -> DeliveryOutcome:
    """Email the applicant one notice, never twice."""
    outcome = send_notice(services(), submission_id, notice)
    logger = get_run_logger()
    if outcome.delivery is Delivery.FAILED:
        logger.error("notice %s refused by the mail service: %s (operator alerted)", outcome.key, outcome.error)
    else:
        logger.info("notice %s: %s", outcome.key, outcome.delivery.value)
    return outcome
