"""Prefect task of the decision step: aggregate the verdicts of a reviewed submission."""

from __future__ import annotations

from credflow.decision.stage import AggregationOutcome, aggregate
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="aggregate-verdicts", task_run_name="aggregate-{submission_id}")
def aggregate_verdicts(submission_id: str) -> AggregationOutcome:
    """Decide a reviewed submission, or send its split criteria to a lead reviewer."""
    svc = services()
    return aggregate(svc, submission_id, backread_share=svc.settings.backread_share)
