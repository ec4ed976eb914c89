"""Review flows: assign reviewers, decide a reviewed submission, and sweep deadlines."""

from __future__ import annotations

from prefect import flow

from credflow.lifecycle import State
from credflow.notifications.rules import BadgeNotice, ReviewerMail
from credflow.resubmission.rules import ChainNotice
from flows.alerts import email_operator_on_failure
from flows.tags import RESULTS_UNUSED, run_tagged
from tasks.artifacts import publish_on_failure, publish_submission
from tasks.assignment import assignment_round
from tasks.decision import aggregate_verdicts
from tasks.issuance import issue_badges, record_earned_hours
from tasks.letters import send_result_letter
from tasks.notifications import badge_notice, chain_notice, reviewer_mail
from tasks.plans import plan_reminders
from tasks.resubmission import close_exhausted, resubmission_sweep
from tasks.retry import retried_call
from tasks.review import deadline_sweep, publish_waiting


def announce_round() -> list[str]:
    """Run an assignment round and email each new reviewer (shared by every review flow)."""
    round_ = assignment_round()
    for assignment_id in round_.assigned:
        reviewer_mail(assignment_id, ReviewerMail.ASSIGNMENT)
    return round_.assigned


@flow(name="assign-reviewers", persist_result=False, on_failure=[email_operator_on_failure])
def assign_reviewers_flow() -> int:
    """Give every waiting submission its reviewers and email them their private links."""
    assigned = announce_round()
    publish_waiting()
    return len(assigned)


@flow(
    name="decide-submission",
    flow_run_name="decide-{submission_id}",
    persist_result=False,
    result_storage=RESULTS_UNUSED,
    on_failure=[email_operator_on_failure, publish_on_failure],
)
def decide_submission(submission_id: str) -> str:
    """Decide a reviewed submission (or ask a lead to adjudicate), issue its badges and send the letter."""
    outcome = retried_call(aggregate_verdicts.fn, submission_id)  # the run is the decision: no task run of its own
    if outcome.new_assignment:
        reviewer_mail(outcome.new_assignment, ReviewerMail.ASSIGNMENT)
    if outcome.state in (State.IN_REVIEW, State.AWAITING_REVIEW) and outcome.waiting_for:
        announce_round()  # a decline leaves a gap: fill it now rather than at the next sweep
    if outcome.state is State.EARNED:
        report = issue_badges(submission_id)
        retried_call(record_earned_hours.fn, submission_id)
        for badge_id in report.issued:
            badge_notice(badge_id, BadgeNotice.ISSUED)
        for badge_id in report.renewed:
            badge_notice(badge_id, BadgeNotice.RENEWED)
    if outcome.state in (State.EARNED, State.NOT_YET):
        send_result_letter(submission_id)
    if outcome.state is State.NOT_YET:
        close_exhausted(submission_id)
    publish_submission(submission_id)  # the reviews-waiting table is the sweeps' (every 15 min) and assign-reviewers'
    return outcome.state.value


def run_decision(submission_id: str) -> str:
    """Run the decide flow in this process, on a run tagged with the submission's credential and issuer."""
    return run_tagged(decide_submission, submission_id)


@flow(name="review-sweep", persist_result=False, on_failure=[email_operator_on_failure])
def review_sweep() -> dict[str, int]:
    """Remind reviewers, reassign overdue work, tend resubmission windows and plan reminders, retry decisions."""
    swept = deadline_sweep()
    for assignment_id in swept.remind:
        reviewer_mail(assignment_id, ReviewerMail.REMINDER)
    for assignment_id in swept.withdrawn:
        reviewer_mail(assignment_id, ReviewerMail.WITHDRAWN)
    assigned = announce_round()
    chains = resubmission_sweep()
    for submission_id in chains.remind:
        chain_notice(submission_id, ChainNotice.REMINDER)
    for submission_id in chains.closed:
        chain_notice(submission_id, ChainNotice.CLOSED, reason="window")
    plan_reminders()  # applicants' own target dates (each reminder once; the task logs the count)
    for submission_id in sorted(swept.submissions):
        aggregate_verdicts(submission_id)  # a withdrawn adjudication gets a new lead
        publish_submission(submission_id)
    publish_waiting()
    return {"reminded": len(swept.remind), "withdrawn": len(swept.withdrawn), "assigned": len(assigned)}
