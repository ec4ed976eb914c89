"""Reports for program admins (district PD offices, issuers): cohort progress and decision times."""

from credflow.reports.program import (
    ACTIONS,
    DecisionTimes,
    EducatorStatus,
    ProgramReport,
    ProgramSection,
    ReportStatus,
    program_report,
)

__all__ = [
    "ACTIONS",
    "DecisionTimes",
    "EducatorStatus",
    "ProgramReport",
    "ProgramSection",
    "ReportStatus",
    "program_report",
]
