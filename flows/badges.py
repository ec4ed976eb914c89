"""Badge upkeep: expiry reminders and expiries, once a day."""

from __future__ import annotations

from prefect import flow

from flows.alerts import email_operator_on_failure
from tasks.issuance import badge_sweep_task


@flow(name="badge-sweep", persist_result=False, on_failure=[email_operator_on_failure])
def badge_sweep() -> dict[str, int]:
    """Remind holders 60 days before a badge expires and record the badges that expired."""
    result = badge_sweep_task()
    return {"reminded": len(result.reminded), "expired": len(result.expired)}
