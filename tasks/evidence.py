"""Prefect tasks of the pre-assessor step."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from credflow.lifecycle import State
from credflow.validation.stage import run_validation
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient
from tasks.runtime import services


@task(
    name="validate-evidence",
    task_run_name="validate-{submission_id}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=only_transient,
    cache_policy=NO_CACHE,
)
def validate_evidence(submission_id: str) -> State:
    """Check every evidence requirement; return the submission with the list of problems if any."""
    outcome = run_validation(services(), submission_id)
    return outcome.state
