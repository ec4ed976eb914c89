"""Prefect task of the validation step (the pre-assessor)."""

from __future__ import annotations

from credflow.lifecycle import State
from credflow.validation.stage import run_validation
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="validate-evidence", task_run_name="validate-{submission_id}")
def validate_evidence(submission_id: str) -> State:
    """Check every evidence requirement; return the submission with the list of problems if any."""
    outcome = run_validation(services(), submission_id)
    return outcome.state
