"""Deadline sweeps: a reminder before the deadline, withdrawal and reassignment after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from credflow.calendar import add_business_days
from credflow.db.models import Assignment, utcnow
from credflow.services import Services
from credflow.states import AssignmentState, move
from credflow.submissions import record_event

REMINDER_BUSINESS_DAYS = 2


@dataclass
class SweepResult:
    """Assignments to remind and those withdrawn in one sweep."""

    remind: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    submissions: set[str] = field(default_factory=set)  # submissions that now need reassignment


def sweep_deadlines(services: Services, *, now: datetime | None = None) -> SweepResult:
    """Mark reminders due and withdraw overdue assignments (revoking their links).

    A reminder is marked once per assignment; sending it is the caller's job (its mail
    key makes the send itself once only).
    """
    now = now or utcnow()
    result = SweepResult()
    with services.db.session() as session:
        active = session.scalars(
            select(Assignment).where(Assignment.state == AssignmentState.ACTIVE).order_by(Assignment.due_at)
        ).all()
        for assignment in active:
            if now > assignment.due_at:
                # The link is revoked with the move; a review submitted meanwhile stays submitted.
                if not move(
                    session,
                    Assignment.state,
                    AssignmentState.WITHDRAWN,
                    where=Assignment.id == assignment.id,
                    current=AssignmentState.ACTIVE,
                    values={"token_nonce": None, "completed_at": now},
                ):
                    continue
                result.withdrawn.append(assignment.id)
                result.submissions.add(assignment.submission_id)
                record_event(
                    session,
                    submission_id=assignment.submission_id,
                    kind="assignment_withdrawn",
                    actor="deadline-sweep",
                    detail={
                        "assignment": assignment.id,
                        "reviewer": assignment.reviewer_id,
                        "due": assignment.due_at.isoformat(),
                    },
                    at=now,
                )
            elif assignment.reminded_at is None and now >= add_business_days(
                assignment.due_at, -REMINDER_BUSINESS_DAYS
            ):
                assignment.reminded_at = now
                result.remind.append(assignment.id)
    return result
