"""Failure hooks: a failed flow run emails the operator through credflow's mailer (once per run)."""

from __future__ import annotations

from typing import Any

from credflow.notifications.rules import run_summary
from credflow.notifications.stage import alert_operator
from tasks.runtime import services


def email_operator_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` hook: tell the operator which run failed, for which submission, and why."""
    submission_id = (flow_run.parameters or {}).get("submission_id")
    try:
        detail = str(state.message or state.name)
    except Exception:  # a hook must never raise
        detail = "see the flow run in the Prefect UI"
    alert_operator(
        services(),
        summary=run_summary(
            flow_run_name=flow_run.name, flow_name=flow.name, flow_run_id=str(flow_run.id), state="failed"
        ),
        submission_id=submission_id,
        detail=f"{detail} (flow run id {flow_run.id})",
    )
