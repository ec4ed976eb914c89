"""Reports for program admins, published daily as Prefect artifacts."""

from __future__ import annotations

from prefect import flow

from tasks.reports import publish_program_report


@flow(name="program-report", persist_result=False)
def program_report() -> dict[str, int]:
    """Publish the program report (every educator's status and recommended action) and return the counts."""
    return publish_program_report()
