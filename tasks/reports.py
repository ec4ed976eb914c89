"""Prefect tasks that publish reports for program admins."""

from __future__ import annotations

from prefect.artifacts import create_table_artifact

from credflow.reports.stage import program_report
from tasks.retry import artifact_task
from tasks.runtime import services

#: The artifact's key: each run publishes a new version of the same artifact.
ARTIFACT_KEY = "program-report"


@artifact_task(name="publish-program-report")
def publish_program_report() -> dict[str, int]:
    """Publish every educator's status per program as the program-report table artifact."""
    report = program_report(services())
    decided = sum(section.decision_times.decided for section in report.programs)
    create_table_artifact(
        table=report.to_rows(),
        key=ARTIFACT_KEY,
        description=f"Program report as of {report.generated_at:%Y-%m-%d %H:%M} UTC; {decided} decisions so far",
    )
    return report.counts()
