"""Prefect tasks of the review stage: assignment rounds, reviewer mail, aggregation, deadline sweeps."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from credflow.assignment.stage import AssignmentRound, assign_reviewers
from credflow.decision.stage import AggregationOutcome, aggregate
from credflow.issuance.stage import BadgeSweep, IssueReport, issue_for_decision, record_hours, sweep_badges
from credflow.letters.stage import send_result
from credflow.notifications.rules import BadgeNotice, DeliveryOutcome, ReviewerMail
from credflow.notifications.stage import send_badge_notice, send_reviewer_mail
from credflow.resubmission.rules import ChainSweep
from credflow.resubmission.stage import close_if_exhausted, sweep_resubmissions
from credflow.review.deadlines import SweepResult, sweep_deadlines
from credflow.review.waiting import waiting_for_review
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient
from tasks.runtime import services


@task(
    name="assign-reviewers",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def assignment_round() -> AssignmentRound:
    """Assign reviewers to every waiting submission in one optimal round."""
    result = assign_reviewers(services())
    logger = get_run_logger()
    logger.info("assigned %d reviews", len(result.assigned))
    for submission_id, text in result.shortfalls.items():
        logger.warning("submission %s lacks reviewers:\n%s", submission_id, text)
    return result


@task(
    name="reviewer-mail",
    task_run_name="{kind}-{assignment_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def reviewer_mail(assignment_id: str, kind: ReviewerMail) -> DeliveryOutcome:
    """Email a reviewer once about one assignment."""
    return send_reviewer_mail(services(), assignment_id, kind)


@task(
    name="aggregate-verdicts",
    task_run_name="aggregate-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def aggregate_verdicts(submission_id: str) -> AggregationOutcome:
    """Decide a reviewed submission, or send its split criteria to a lead reviewer."""
    svc = services()
    return aggregate(svc, submission_id, backread_share=svc.settings.backread_share)


@task(
    name="sweep-deadlines",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def deadline_sweep() -> SweepResult:
    """Mark reminders due and withdraw overdue assignments."""
    return sweep_deadlines(services())


@task(name="publish-waiting", cache_policy=NO_CACHE)
def publish_waiting() -> int:
    """Publish the table of submissions waiting for reviewers or verdicts."""
    rows = waiting_for_review(services())
    create_table_artifact(
        key="reviews-waiting",
        table=[row.as_dict() for row in rows],
        description=f"{len(rows)} submissions waiting for review (oldest first)",
    )
    return len(rows)


@task(
    name="issue-badges",
    task_run_name="issue-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def issue_badges(submission_id: str) -> IssueReport:
    """Issue the earned micro-credential's badge, its in-service hours and any pathway badges."""
    report = issue_for_decision(services(), submission_id)
    record_hours(services(), submission_id)
    for badge_id in report.issued:
        send_badge_notice(services(), badge_id, BadgeNotice.ISSUED)
    for badge_id in report.renewed:
        send_badge_notice(services(), badge_id, BadgeNotice.RENEWED)
    return report


@task(
    name="sweep-badges",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def badge_sweep_task() -> BadgeSweep:
    """Send 60-day expiry reminders (once per badge) and record expired pathway badges."""
    return sweep_badges(services())


@task(
    name="send-result",
    task_run_name="result-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def send_result_letter(submission_id: str) -> DeliveryOutcome:
    """Email the applicant their result letter, once."""
    return send_result(services(), submission_id)


@task(
    name="close-exhausted-chain",
    task_run_name="close-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def close_exhausted(submission_id: str) -> bool:
    """Close the chain after the last allowed attempt ends "not yet" (an operator may unlock it)."""
    return close_if_exhausted(services(), submission_id)


@task(
    name="sweep-resubmissions",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def resubmission_sweep() -> ChainSweep:
    """Remind a week before resubmission windows end; close the chains whose window lapsed."""
    return sweep_resubmissions(services())
