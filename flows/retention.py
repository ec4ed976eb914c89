"""Evidence retention, once a day."""

from __future__ import annotations

from prefect import flow

from flows.alerts import email_operator_on_failure
from tasks.retention import retention_sweep_task


@flow(name="retention-sweep", persist_result=False, on_failure=[email_operator_on_failure])
def retention_sweep(dry_run: bool = False) -> dict[str, int]:
    """Delete the evidence files of attempts that ended longer ago than the retention period; records stay."""
    return retention_sweep_task(dry_run)
