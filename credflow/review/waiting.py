"""Which submissions are waiting on people, for the operators' table in the Prefect UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from credflow.db.models import Assignment, Submission, utcnow
from credflow.lifecycle import State
from credflow.services import Services
from credflow.states import AssignmentState


@dataclass(frozen=True)
class WaitingRow:
    submission: str
    credential: str
    state: str
    reviews_in: int
    reviews_needed: int
    open_assignments: int
    next_due: str
    waiting_days: float

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def waiting_for_review(services: Services, *, now: datetime | None = None) -> list[WaitingRow]:
    """Every submission waiting for reviewers or verdicts, oldest first."""
    now = now or utcnow()
    rows = []
    with services.db.session() as session:
        subs = session.scalars(
            select(Submission)
            .where(Submission.state.in_([State.AWAITING_REVIEW.value, State.IN_REVIEW.value, State.ADJUDICATING.value]))
            .order_by(Submission.created_at)
        ).all()
        for sub in subs:
            credential = services.catalog.get(sub.credential_id)
            assignments = session.scalars(select(Assignment).where(Assignment.submission_id == sub.id)).all()
            active = [a for a in assignments if a.state == AssignmentState.ACTIVE]
            rows.append(
                WaitingRow(
                    submission=sub.id,
                    credential=sub.credential_id,
                    state=sub.state,
                    reviews_in=sum(
                        1 for a in assignments if a.role == "review" and a.state == AssignmentState.SUBMITTED
                    ),
                    reviews_needed=credential.reviewers_per_submission,
                    open_assignments=len(active),
                    next_due=min(a.due_at for a in active).isoformat() if active else "",
                    waiting_days=round((now - sub.created_at).total_seconds() / 86400, 1),
                )
            )
    return rows
