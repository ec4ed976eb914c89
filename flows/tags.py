"""Run tags: a submission's runs carry its credential and issuer, from whichever door they start.

The tags go on the flow run when it is created, not into a ``with tags(...)`` block around the
flow call: under such a block Prefect 3.8.8 tags every task run as well, and each tagged task run
asks the API for a ``tag:<name>`` concurrency slot before it starts (7 calls per submission).
Deployment runs get the same tags from ``run_deployment(tags=...)`` (``cli/launch.py``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect import Flow
from prefect.context import SyncClientContext
from prefect.flow_engine import run_flow

from credflow.submissions import get_submission
from tasks.runtime import services

R = TypeVar("R")


def submission_tags(submission_id: str) -> list[str]:
    """The run tags of a submission: its credential and issuer, so runs filter by both."""
    svc = services()
    with svc.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = svc.catalog.get(sub.credential_id)
    return [f"credential:{credential.id}", f"issuer:{credential.issuer.id}"]


def run_tagged(flow: Flow[[str], R], submission_id: str) -> R:
    """Run a submission's flow in this process on a flow run created with the submission's tags (its tasks get none)."""
    parameters: dict[str, Any] = {"submission_id": submission_id}
    with SyncClientContext.get_or_create() as context:  # the engine finds this client and uses it for the run
        run = context.client.create_flow_run(
            flow, parameters=flow.serialize_parameters(parameters), tags=submission_tags(submission_id)
        )
        result = run_flow(flow, flow_run=run, parameters=parameters)
    return result  # type: ignore[return-value]  # a sync flow's result, not a coroutine or generator
