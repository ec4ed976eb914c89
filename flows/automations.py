"""Prefect automations credflow installs on a Prefect server: operator alerts and silent-run detection.

- ``credflow-failed-runs``: a credflow flow run that ends Failed or Crashed calls credflow's
  ``/ops/alerts`` webhook, which emails the operator through the mailer, once per run. It is
  what reports a run whose process was killed (no ``on_failure`` hook runs in a dead process).
- ``credflow-silent-runs``: a running flow run whose heartbeats stop for 90 s (its process or
  host died) is marked Crashed, which in turn sends the alert above. Prefect's own recipe.

Both are upserted by name, so ``credflow alerts install`` (run by ``credflow serve`` on start
against a Prefect server) can run any number of times.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.client.schemas.objects import StateType
from prefect.events.actions import CallWebhook, ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture

from flows.badges import badge_sweep
from flows.reports import program_report
from flows.retention import retention_sweep
from flows.review import assign_reviewers_flow, decide_submission, review_sweep
from flows.submission import process_submission

ALERTS = "credflow-failed-runs"
SILENT = "credflow-silent-runs"
WEBHOOK_BLOCK = "credflow-operator-alerts"
HEARTBEAT_GRACE = timedelta(seconds=90)
FLOWS = tuple(
    f.name
    for f in (
        process_submission,
        decide_submission,
        assign_reviewers_flow,
        review_sweep,
        badge_sweep,
        program_report,
        retention_sweep,
    )
)
_ENDED = tuple(f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed"))

# Rendered by the Prefect server (sandboxed Jinja) for the run that triggered the automation.
PAYLOAD = """{
  "flow_run_id": {{ flow_run.id | string | tojson }},
  "flow_run_name": {{ flow_run.name | tojson }},
  "flow_name": {{ flow.name | tojson }},
  "state": {{ flow_run.state.name | tojson }},
  "message": {{ (flow_run.state.message or "") | tojson }},
  "submission_id": {{ (flow_run.parameters.get("submission_id") or "") | string | tojson }}
}"""


def _credflow_runs() -> dict[str, object]:
    return {"prefect.resource.role": "flow", "prefect.resource.name": list(FLOWS)}


def alert_automation(block_id: object) -> Automation:
    """Failed or crashed credflow runs call the operators' webhook."""
    return Automation(
        name=ALERTS,
        description="Email credflow's operator about a failed or crashed credflow flow run (via /ops/alerts).",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=_credflow_runs(),  # type: ignore[arg-type]
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD)],  # type: ignore[arg-type]
    )


def silent_run_automation() -> Automation:
    """A credflow run silent for longer than the heartbeat grace is marked Crashed."""
    return Automation(
        name=SILENT,
        description="Mark a credflow flow run Crashed when its heartbeats stop (its process or host died).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *_ENDED},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=_credflow_runs(),  # type: ignore[arg-type]
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=HEARTBEAT_GRACE,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                message="No heartbeat for 90 s: the run's process has died.",
                force=False,
            )
        ],
    )


def install_automations(*, alert_url: str, token: str) -> list[str]:
    """Create or update credflow's webhook block and automations on the current Prefect API.

    Args:
        alert_url: Where the server posts alerts: ``<CREDFLOW_PUBLIC_URL>/ops/alerts`` as the
            Prefect server reaches it.
        token: The bearer token ``/ops/alerts`` accepts (derived from the secret key).

    Returns:
        The names of the automations installed.
    """
    webhook = Webhook(
        method="POST",
        url=alert_url,  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},  # type: ignore[arg-type]
    )
    block_id = webhook.save(WEBHOOK_BLOCK, overwrite=True)
    installed = []
    for automation in (alert_automation(block_id), silent_run_automation()):
        try:
            existing: Automation = Automation.read(name=automation.name)  # type: ignore[assignment]
        except ValueError:
            automation.create()
        else:
            automation.id = existing.id
            automation.update()
        installed.append(automation.name)
    return installed
