"""Prefect task of the evidence retention sweep."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from credflow.accounts.signin import sweep_ended
from credflow.db.models import utcnow
from credflow.retention.stage import sweep_retention
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient
from tasks.runtime import services


@task(
    name="retention-sweep",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
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


@task(
    name="sign-in-sweep",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def sign_in_sweep_task() -> int:
    """Delete sign-in links and sessions that ended more than a day ago."""
    deleted = sweep_ended(services(), now=utcnow())
    get_run_logger().info("deleted %d ended sign-in link(s) and session(s)", deleted)
    return deleted
