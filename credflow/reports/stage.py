"""Reports' stage: read the database (see :mod:`.rules` for what the reports say)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from credflow.db.models import Applicant, Decision, Enrolment, Submission, utcnow
from credflow.reports.rules import (
    ProgramReport,
    ReportScope,
    SubmissionSummary,
    artifact_key,
    build_report,
    submission_markdown,
)
from credflow.services import Services
from credflow.submissions import events_of, view


def program_report(
    services: Services, *, now: datetime | None = None, scope: ReportScope | None = None
) -> ProgramReport:
    """Build the program report from the database and the catalog.

    Every program in the catalog gets a section (empty when nobody enrolled). Pairs of
    educator and micro-credential come from enrolments and submissions; the latest attempt
    (by receipt, then attempt number) gives the status.

    Args:
        services: The composition root's services (database and catalog are read).
        now: The moment the report is made (aware UTC), for days in state; default: the clock.
        scope: Whose rows to keep (a program admin's grant); default: everything (operators, the CLI).
            Decision times count only the scope's submissions.

    Returns:
        The report, programs sorted by id, rows by organisation, educator and micro-credential.
    """
    with services.db.session() as session:
        applicants = {a.id: a for a in session.scalars(select(Applicant))}
        enrolments = list(session.scalars(select(Enrolment)))
        submissions = list(
            session.scalars(select(Submission).order_by(Submission.created_at, Submission.attempt, Submission.id))
        )
        decided = session.execute(
            select(Decision.decided_at, Submission.created_at, Submission.credential_id, Submission.applicant_id).join(
                Submission, Submission.id == Decision.submission_id
            )
        ).all()
        for applicant in applicants.values():
            session.expunge(applicant)
    return build_report(
        catalog=services.catalog.credentials,
        applicants=applicants,
        enrolments=enrolments,
        submissions=submissions,
        decided=[(at, received, credential_id, applicant_id) for at, received, credential_id, applicant_id in decided],
        now=now or utcnow(),
        scope=scope or ReportScope.everything(),
        calendars=services.calendars,
    )


def submission_summary(services: Services, submission_id: str) -> SubmissionSummary:
    """What the operator artifact of one submission shows: its state, evidence and timeline as markdown.

    Raises:
        NotFoundError: no such submission.
    """
    with services.db.session() as session:
        snapshot = view(session, submission_id)
        markdown = submission_markdown(snapshot, events_of(session, submission_id))
    return SubmissionSummary(
        key=artifact_key(submission_id),
        markdown=markdown,
        description=f"{snapshot.credential_id} attempt {snapshot.attempt}: {snapshot.state}",
        state=str(snapshot.state),
    )
