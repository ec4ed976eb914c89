"""After a decision: the applicant's result letter, rendered from the records and sent once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.db.models import Assignment, Decision, InServiceHours, IssuedBadge
from credflow.errors import NotFoundError, TransientError
from credflow.issuance.rules import badge_page_url
from credflow.letters.rules import BadgeLinks, LetterInput, Outcome, PortalLinks, criterion_results, render_letter
from credflow.mail.base import Attachment, Message
from credflow.notifications.rules import DeliveryOutcome
from credflow.notifications.stage import deliver
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.submissions import get_submission


def letter_verdicts(
    session: Session, submission_id: str, credential: Credential
) -> tuple[list[Assignment], Assignment | None]:
    """A decided submission's submitted reviews in the letter's order (Reviewer 1, 2, ...) and its adjudication."""
    submitted = session.scalars(
        select(Assignment)
        .where(Assignment.submission_id == submission_id, Assignment.state == AssignmentState.SUBMITTED)
        .order_by(Assignment.completed_at, Assignment.id)
    ).all()
    reviews = [a for a in submitted if a.role == "review"][: credential.reviewers_per_submission]
    return reviews, next((a for a in submitted if a.role == "adjudication"), None)


def badge_links(services: Services, badge_id: str) -> BadgeLinks:
    """Where an issued badge can be seen, downloaded and verified."""
    base = badge_page_url(services.settings.public_url, badge_id)
    return BadgeLinks(verification_url=base, json_url=f"{base}/credential.json", png_url=f"{base}/badge.png")


@dataclass(frozen=True)
class LetterRecord:
    """A decided submission's letter as its records say it, with who it goes to and its badge (if earned)."""

    letter: LetterInput
    applicant_id: str
    to_email: str
    badge_id: str | None


def letter_record(services: Services, submission_id: str) -> LetterRecord:
    """What the result letter of a decided submission says, from the decision, the reviews and (if earned) the badge.

    The email (:func:`result_letter`) and the portal's letter page both read it, so they say the same.

    Raises:
        NotFoundError: the submission has no decision yet.
        TransientError: it was earned but its badge is not issued yet.
    """
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        decision = session.scalar(select(Decision).where(Decision.submission_id == sub.id))
        if decision is None:
            raise NotFoundError(f"submission {submission_id} has no decision yet")
        reviews, adjudication = letter_verdicts(session, sub.id, credential)
        earned = decision.outcome == "earned"
        links = None
        hours_note = None
        badge_id: str | None = None
        if earned:
            badge = session.scalar(
                select(IssuedBadge).where(IssuedBadge.submission_id == sub.id, IssuedBadge.kind == "micro")
            )
            if badge is None:
                raise TransientError(f"the badge of submission {submission_id} is not issued yet")
            badge_id = badge.id
            links = badge_links(services, badge_id)
            hours = session.scalar(select(InServiceHours).where(InServiceHours.decision_id == decision.id))
            hours_note = hours.confirmation if hours else None
        letter = LetterInput(
            applicant_name=sub.applicant.name,
            credential=credential,
            submission_id=sub.id,
            attempt=sub.attempt,
            max_attempts=credential.max_attempts,
            outcome=Outcome.EARNED if earned else Outcome.NOT_YET,
            criteria=criterion_results(
                credential, decision=decision.criteria, reviews=reviews, adjudication=adjudication
            ),
            portal=PortalLinks.of(services.settings.public_url, credential_id=credential.id, submission_id=sub.id),
            resubmit_by=None
            if earned
            else (decision.decided_at + timedelta(days=credential.resubmission_window_days)).date(),
            badge=links,
            hours_confirmation=hours_note,
        )
        applicant_id, to_email = sub.applicant_id, sub.applicant.email
    return LetterRecord(letter=letter, applicant_id=applicant_id, to_email=to_email, badge_id=badge_id)


def result_letter(services: Services, submission_id: str) -> Message:
    """Render the applicant's result letter from the decision, the reviews and (if earned) the badge.

    Raises:
        NotFoundError: the submission has no decision yet.
        TransientError: it was earned but its badge is not issued yet.
    """
    record = letter_record(services, submission_id)
    message = render_letter(record.letter, idempotency_key=f"result:{submission_id}", to_email=record.to_email)
    if record.badge_id is not None:
        image_key = f"badges/{record.badge_id}.png"
        if services.store.exists(image_key):
            name = f"{record.letter.credential.id}-badge.png"
            attachment = Attachment(name, "image/png", services.store.get_bytes(image_key))
            message = replace(message, attachments=(attachment,))
    return message


def send_result(services: Services, submission_id: str) -> DeliveryOutcome:
    """Email the result letter once (key ``result:<submission>``)."""
    return deliver(services, result_letter(services, submission_id), submission_id=submission_id)
