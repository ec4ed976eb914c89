"""Prefect tasks of the notifications step: one email each (applicant notice, reviewer mail, badge or chain notice)."""

from __future__ import annotations

from prefect import get_run_logger

from credflow.notifications.rules import BadgeNotice, Delivery, DeliveryOutcome, Notice, ReviewerMail
from credflow.notifications.stage import send_badge_notice, send_notice, send_reviewer_mail
from credflow.resubmission.rules import ChainNotice
from credflow.resubmission.stage import send_chain_notice
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="send-notice", task_run_name="notice-{notice}-{submission_id}")
def notify_applicant(submission_id: str, notice: Notice) -> DeliveryOutcome:
    """Email the applicant one notice, never twice."""
    outcome = send_notice(services(), submission_id, notice)
    logger = get_run_logger()
    if outcome.delivery is Delivery.FAILED:
        logger.error("notice %s refused by the mail service: %s (operator alerted)", outcome.key, outcome.error)
    else:
        logger.info("notice %s: %s", outcome.key, outcome.delivery.value)
    return outcome


@retried_task(name="reviewer-mail", task_run_name="{kind}-{assignment_id}")
def reviewer_mail(assignment_id: str, kind: ReviewerMail) -> DeliveryOutcome:
    """Email a reviewer once about one assignment."""
    return send_reviewer_mail(services(), assignment_id, kind)


@retried_task(name="send-badge-notice", task_run_name="{notice}-{badge_id}")
def badge_notice(badge_id: str, notice: BadgeNotice) -> DeliveryOutcome:
    """Email the holder once about one badge (issued, renewed, or expiring: that one also marks it reminded)."""
    return send_badge_notice(services(), badge_id, notice)


@retried_task(name="send-chain-notice", task_run_name="{notice}-{submission_id}")
def chain_notice(submission_id: str, notice: ChainNotice, reason: str = "") -> DeliveryOutcome:
    """Email the applicant once about their chain of attempts (a resubmission reminder, or its closing)."""
    return send_chain_notice(services(), submission_id, notice, reason=reason)
