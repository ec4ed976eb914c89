"""Prefect tasks that keep each submission's operator artifact up to date."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from credflow.reports.operator_view import artifact_key, submission_markdown
from credflow.submissions import events_of, view
from tasks.retry import artifact_task
from tasks.runtime import services


@artifact_task(name="publish-submission", task_run_name="publish-{submission_id}")
def publish_submission(submission_id: str) -> str:
    """Publish the submission's evidence, state and timeline as a markdown artifact."""
    with services().db.session() as session:
        snapshot = view(session, submission_id)
        markdown = submission_markdown(snapshot, events_of(session, submission_id))
    create_markdown_artifact(
        markdown=markdown,
        key=artifact_key(submission_id),
        description=f"{snapshot.credential_id} attempt {snapshot.attempt}: {snapshot.state}",
    )
    return str(snapshot.state)
