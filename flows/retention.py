"""Evidence retention, once a day."""

from __future__ import annotations

from prefect import flow

from flows.alerts import email_operator_on_failure
from tasks.retention import retention_sweep_task, sign_in_sweep_task


@flow(name="retention-sweep", persist_result=False, on_failure=[email_operator_on_failure])
def retention_sweep(dry_run: bool = False) -> dict[str, int]:
    """Delete evidence files past the retention period (records stay) and ended sign-in links and sessions."""
    counts = retention_sweep_task(dry_run)
    if not dry_run:
        counts["sign_in_records"] = sign_in_sweep_task()
    return counts
