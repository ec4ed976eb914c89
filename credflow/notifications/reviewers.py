"""Reviewer emails (assignment, reminder, withdrawal), each sent once per assignment."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from credflow.calendar import business_days_between
from credflow.db.models import Assignment, new_id
from credflow.mail.render import render_message
from credflow.notifications.stage import DeliveryOutcome, deliver
from credflow.review.links import issue_token
from credflow.review.stage import anonymous_id
from credflow.services import Services
from credflow.states import AssignmentState
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


def send_reviewer_mail(
    services: Services, assignment_id: str, kind: ReviewerMail, *, reissued: bool = False
) -> DeliveryOutcome:
    """Render and deliver one reviewer email; its key (``<kind>:<assignment>``) makes it once only.

    A reissued assignment email (after :func:`reissue_links`) is keyed by the link's new nonce, so
    each reissue is sent once.
    """
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
            "reissued": reissued,
        }
        key = f"{kind.value}:{assignment.id}"
        if reissued:
            key = f"{kind.value}:{assignment.id}:reissued:{assignment.token_nonce}"
        message = render_message(
            kind.value,
            idempotency_key=key,
            to_email=assignment.reviewer.email,
            to_name=assignment.reviewer.name,
            context=context,
        )
        submission_id = sub.id
    return deliver(services, message, submission_id=submission_id)


def reissue_links(services: Services) -> list[str]:
    """Give every active assignment a new private link and email it; the old links stop working at once.

    For a leaked ``CREDFLOW_SECRET_KEY`` (replaced without a previous key, every open link is dead) or
    links forwarded where they should not be. Each reviewer gets one email per reissue.

    Returns:
        The ids of the assignments whose links were reissued.
    """
    with services.db.session() as session:
        active = list(
            session.scalars(
                select(Assignment).where(
                    Assignment.state == AssignmentState.ACTIVE, Assignment.token_nonce.is_not(None)
                )
            )
        )
        for assignment in active:
            assignment.token_nonce = new_id()
        ids = [assignment.id for assignment in active]
    for assignment_id in ids:
        send_reviewer_mail(services, assignment_id, ReviewerMail.ASSIGNMENT, reissued=True)
    return ids
