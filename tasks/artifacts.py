"""Each submission's operator artifact, published once by every flow that handles the submission.

Plain calls, not tasks: a task run would add its own orchestration (state changes, events, a node
in the UI) to a step that changes nothing an operator could retry, and the artifact is linked to
the flow run either way. A flow publishes when it ends (a failed one from its ``on_failure``
hook), so one run writes one version.
"""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact

from credflow.reports.stage import submission_summary
from tasks.runtime import services


def publish_submission(submission_id: str) -> str:
    """Publish the submission's evidence, state and timeline as its markdown artifact; return its state."""
    summary = submission_summary(services(), submission_id)
    create_markdown_artifact(markdown=summary.markdown, key=summary.key, description=summary.description)
    return summary.state


def publish_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` hook: publish the artifact of a failed run, so it shows where the submission stopped."""
    publish_submission(str(flow_run.parameters["submission_id"]))  # the engine logs a hook's error, never raises it
