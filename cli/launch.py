"""Starting flows from the CLI and the web app: in this process, or through a Prefect deployment."""

from __future__ import annotations

import threading
from collections.abc import Callable

from credflow.services import Services


def run_in_process(services: Services, fn: Callable[[], object]) -> object:
    """Run a flow-calling function in this process with these services."""
    from tasks.runtime import use_services

    with use_services(services):
        return fn()


def run_tags(services: Services, submission_id: str) -> list[str]:
    """A submission's run tags (credential and issuer), the same for in-process runs and deployment runs."""
    from flows.tags import submission_tags
    from tasks.runtime import use_services

    with use_services(services):
        return submission_tags(submission_id)


def decide_in_background(services: Services) -> Callable[[str], None]:
    """The web app's hook after a verdict: start the decide flow without making the reviewer wait.

    With ``settings.deployments`` (``CREDFLOW_DEPLOYMENTS=1``: Prefect server and workers) it hands the decide flow to
    the background workers (``credflow worker``); otherwise it runs the flow in a thread of this process.
    """

    def trigger(submission_id: str) -> None:
        if services.settings.deployments:
            from credflow.dispatch.rules import FlowKind
            from flows.background import dispatch

            dispatch(services, FlowKind.DECISION, submission_id)
            return
        from flows.review import run_decision

        thread = threading.Thread(
            target=run_in_process,
            args=(services, lambda: run_decision(submission_id)),
            name=f"decide-{submission_id[:8]}",
            daemon=False,
        )
        thread.start()

    return trigger


def process_in_background(services: Services) -> Callable[[str], None]:
    """The HTTP intake's hook: run the submission flow for a new submission without blocking the request."""

    def trigger(submission_id: str) -> None:
        if services.settings.deployments:
            from credflow.dispatch.rules import FlowKind
            from flows.background import dispatch

            dispatch(services, FlowKind.SUBMISSION, submission_id)  # once per submission: its key is unique
            return
        from flows.submission import run_submission

        threading.Thread(
            target=run_in_process,
            args=(services, lambda: run_submission(submission_id)),
            name=f"submission-{submission_id[:8]}",
        ).start()

    return trigger
