"""Reviewer emails (assignment, reminder, withdrawal), each sent once per assignment."""

from __future__ import annotations

from enum import StrEnum

from credflow.db.models import Assignment
from credflow.mail.render import render_message
from credflow.notify import DeliveryOutcome, deliver
from credflow.review.calendar import business_days_between
from credflow.review.scoring import anonymous_id
from credflow.review.tokens import issue_token
from credflow.services import Services
from credflow.submissions import get_submission


class ReviewerMail(StrEnum):
    ASSIGNMENT = "assignment"
    REMINDER = "reminder"
    WITHDRAWN = "withdrawn"


def review_link(services: Services, assignment: Assignment) -> str:
    """The private link of an active assignment."""
    if assignment.token_nonce is None:
        return ""
    token = issue_token(
        services.settings.keyring,
        assignment_id=assignment.id,
        nonce=assignment.token_nonce,
        due_at=assignment.due_at,
    )
    return f"{services.settings.public_url}/review/{token}"


def send_reviewer_mail(services: Services, assignment_id: str, kind: ReviewerMail) -> DeliveryOutcome:
    """Render and deliver one reviewer email; its key (``<kind>:<assignment>``) makes it once only."""
    with services.db.session() as session:
        assignment = session.get_one(Assignment, assignment_id)
        sub = get_submission(session, assignment.submission_id)
        credential = services.catalog.get(sub.credential_id)
        context = {
            "reviewer_name": assignment.reviewer.name,
            "credential_title": credential.title,
            "issuer_name": credential.issuer.name,
            "applicant": anonymous_id(sub),
            "attempt": sub.attempt,
            "short_id": sub.id[:8],
            "role": assignment.role,
            "criteria_count": len(assignment.criteria or []),
            "link": review_link(services, assignment),
            "due": f"{assignment.due_at:%A %d %B %Y}",
            "business_days": max(business_days_between(assignment.assigned_at, assignment.due_at), 0),
        }
        message = render_message(
            kind.value,
            idempotency_key=f"{kind.value}:{assignment.id}",
            to_email=assignment.reviewer.email,
            to_name=assignment.reviewer.name,
            context=context,
        )
        submission_id = sub.id
    return deliver(services, message, submission_id=submission_id)
