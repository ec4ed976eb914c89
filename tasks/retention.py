"""Prefect tasks of the retention step: the evidence retention sweep and the sign-in records sweep."""

from __future__ import annotations

from prefect import get_run_logger

from credflow.retention.stage import sweep_retention, sweep_sign_ins
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="retention-sweep")
def retention_sweep_task(dry_run: bool = False) -> dict[str, int]:
    """Delete the evidence files of attempts past the retention period, keeping their records."""
    result = sweep_retention(services(), dry_run=dry_run)
    logger = get_run_logger()
    if result.retention_days == 0:
        logger.info("retention is off (CREDFLOW_EVIDENCE_RETENTION_DAYS=0)")
    else:
        logger.info(
            "%s %d file(s) of %d attempt(s) that ended more than %d days ago",
            "would delete" if dry_run else "deleted",
            result.files,
            len(result.attempts),
            result.retention_days,
        )
    return result.counts()


@retried_task(name="sign-in-sweep")
def sign_in_sweep_task() -> int:
    """Delete sign-in links and sessions that ended more than a day ago."""
    deleted = sweep_sign_ins(services())
    get_run_logger().info("deleted %d ended sign-in link(s) and session(s)", deleted)
    return deleted
