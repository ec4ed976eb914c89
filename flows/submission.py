"""The per-attempt flow: intake is done; validate, transcode, and queue the submission for review."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from credflow.lifecycle import State
from credflow.notifications.rules import Notice
from credflow.submissions import get_submission
from flows.alerts import email_operator_on_failure
from flows.review import announce_round
from flows.tags import RESULTS_UNUSED, run_tagged
from tasks.artifacts import publish_on_failure, publish_submission
from tasks.notifications import notify_applicant
from tasks.runtime import services
from tasks.transcoding import ensure_transcode_limit, finish, list_videos, transcode
from tasks.validation import validate_evidence


def submission_run_name() -> str:
    """``<credential>-<short id>-a<attempt>``, so operators find a submission's runs by name."""
    submission_id = str(flow_run.parameters["submission_id"])
    with services().db.session() as session:
        sub = get_submission(session, submission_id)
        return f"{sub.credential_id}-{submission_id[:8]}-a{sub.attempt}"


@flow(
    name="submission",
    flow_run_name=submission_run_name,
    persist_result=False,
    result_storage=RESULTS_UNUSED,
    on_failure=[email_operator_on_failure, publish_on_failure],
)
def process_submission(submission_id: str) -> str:
    """Validate a submission's evidence, transcode its videos and assign its reviewers."""
    notify_applicant(submission_id, Notice.RECEIVED)
    state = validate_evidence(submission_id)
    if state is State.TRANSCODING:
        ensure_transcode_limit(services().settings.transcode_concurrency)
        futures = [transcode.submit(job) for job in list_videos(submission_id)]
        for future in futures:
            future.result()
        state = finish(submission_id)
    if state is State.RETURNED:
        notify_applicant(submission_id, Notice.RETURNED)
    if state is State.AWAITING_REVIEW:
        announce_round()
    return publish_submission(submission_id)  # the state as it stands now, after any assignment


def run_submission(submission_id: str) -> str:
    """Run the submission flow in this process, on a run tagged with its credential and issuer."""
    return run_tagged(process_submission, submission_id)
