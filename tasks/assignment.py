"""Prefect task of the assignment step: one optimal round of reviewer assignments."""

from __future__ import annotations

from prefect import get_run_logger

from credflow.assignment.stage import AssignmentRound, assign_reviewers
from tasks.retry import retried_task
from tasks.runtime import services


@retried_task(name="assign-reviewers")
def assignment_round() -> AssignmentRound:
    """Assign reviewers to every waiting submission in one optimal round."""
    result = assign_reviewers(services())
    logger = get_run_logger()
    logger.info("assigned %d reviews", len(result.assigned))
    for submission_id, text in result.shortfalls.items():
        logger.warning("submission %s lacks reviewers:\n%s", submission_id, text)
    return result
