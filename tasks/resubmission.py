"""Prefect tasks of the resubmission step: closing exhausted chains and the resubmission-window sweep."""

from __future__ import annotations

from credflow.resubmission.rules import ChainSweep
from credflow.resubmission.stage import close_if_exhausted, sweep_resubmissions
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="close-exhausted-chain", task_run_name="close-{submission_id}")
def close_exhausted(submission_id: str) -> bool:
    """Close the chain after the last allowed attempt ends "not yet" (an operator may unlock it)."""
    return close_if_exhausted(services(), submission_id)


@retried_task(name="sweep-resubmissions")
def resubmission_sweep() -> ChainSweep:
    """Close the chains whose window lapsed and list the chain notices due (the flow sends them)."""
    return sweep_resubmissions(services())
