"""Prefect tasks that keep each submission's operator artifact up to date."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact

from credflow.reports.stage import submission_summary
from tasks.retry import artifact_task
from tasks.runtime import services


@artifact_task(name="publish-submission", task_run_name="publish-{submission_id}")
def publish_submission(submission_id: str) -> str:
    """Publish the submission's evidence, state and timeline as a markdown artifact."""
    summary = submission_summary(services(), submission_id)
    create_markdown_artifact(markdown=summary.markdown, key=summary.key, description=summary.description)
    return summary.state
