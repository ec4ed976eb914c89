"""Notifications: render a message (applicant notices, reviewer mail, badge notices) and deliver it exactly once.

Every message has an idempotency key recorded in the ``messages`` table. A sender
claims the key before calling the mail service, so retried tasks, re-run flows and
concurrent runs never send the same message twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.db.models import Applicant, Assignment, IssuedBadge, OutgoingMessage, Submission, new_id, utcnow
from credflow.errors import TransientError
from credflow.formatting import human_size
from credflow.issuance.rules import badge_page_url
from credflow.issuance.stage import badge_image_key, ensure_images
from credflow.leases import Lease
from credflow.letters import links
from credflow.mail.base import Attachment, Message, TransientMailError
from credflow.mail.render import render_message
from credflow.notifications.rules import (
    UNSENDABLE,
    BadgeNotice,
    Delivery,
    DeliveryOutcome,
    Notice,
    ReviewerMail,
    badge_notice_key,
    notice_key,
    reviewer_mail_key,
)
from credflow.review.links import issue_token
from credflow.review.rules import anonymous_id
from credflow.services import Services
from credflow.states import AssignmentState, MessageState, move
from credflow.submissions import get_submission, record_event

CLAIM = timedelta(minutes=5)
#: A message is claimed per idempotency key before the mail service is called; a lapsed claim
#: (the sender crashed) lets a later run try again.
MESSAGE_LEASE = Lease(
    model=OutgoingMessage,
    key=OutgoingMessage.idempotency_key,
    state=OutgoingMessage.state,
    until=OutgoingMessage.claimed_until,
    attempts=OutgoingMessage.attempts,
    length=CLAIM,
    held=MessageState.SENDING,
    free=(MessageState.PENDING,),
)


def render_notice(services: Services, submission_id: str, notice: Notice) -> Message:
    """Render the applicant's notice for one submission from its records and the catalog."""
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        titles = {req.key: req.title for req in credential.evidence}
        context: dict[str, Any] = {
            "applicant_name": sub.applicant.name,
            "credential_title": credential.title,
            "issuer_name": credential.issuer.name,
            "attempt": sub.attempt,
            "submission_id": sub.id,
            "short_id": sub.id[:8],
            "target_days": credential.decision_target_business_days,
            "credential_url": links.credential_url(services.settings.public_url, credential.id),
            "draft_url": links.draft_url(services.settings.public_url, credential.id),
            "portal_url": links.credentials_url(services.settings.public_url),
            "files": [
                {
                    "requirement": titles.get(i.requirement_key, i.requirement_key),
                    "name": i.display_name,
                    "size": human_size(i.size),
                }
                for i in sub.evidence
            ],
            "problems": [
                {**p, "requirement_title": titles.get(p.get("requirement", ""), p.get("requirement"))}
                for p in sub.problems or ()
            ],
        }
        return render_message(
            notice.value,
            idempotency_key=notice_key(notice, sub.id),
            to_email=sub.applicant.email,
            to_name=sub.applicant.name,
            context=context,
            reply_to=credential.reply_to,
        )


def _claim(services: Services, message: Message, submission_id: str | None, now: datetime) -> DeliveryOutcome | None:
    key = message.idempotency_key
    with services.db.session() as session:
        claim = MESSAGE_LEASE.claim(
            session,
            key,
            now=now,
            new=lambda: OutgoingMessage(
                idempotency_key=key,
                submission_id=submission_id,
                kind=message.kind,
                recipient=message.to_email,
                subject=message.subject,
                state=MessageState.PENDING,
            ),
        )
        if claim.settled and claim.row.state == MessageState.SENT:
            return DeliveryOutcome(key, Delivery.ALREADY_SENT, claim.row.provider_id)
        if claim.settled:
            return DeliveryOutcome(key, Delivery.FAILED, error=claim.row.last_error)
        if not claim.taken:
            raise TransientError(f"message {key} is being sent by another run")
    return None


def settled_keys(services: Services, keys: Iterable[str]) -> set[str]:
    """The keys among ``keys`` whose message is settled (sent, or given up for good): a send of them sends nothing."""
    wanted = list(keys)
    if not wanted:
        return set()
    with services.db.session() as session:
        return set(
            session.scalars(
                select(OutgoingMessage.idempotency_key).where(
                    OutgoingMessage.idempotency_key.in_(wanted),
                    OutgoingMessage.state.in_((MessageState.SENT, MessageState.FAILED)),
                )
            )
        )


def _settle(services: Services, key: str, state: MessageState, **values: Any) -> None:
    with services.db.session() as session:
        MESSAGE_LEASE.settle(session, key, state, **values)


def deliver(
    services: Services, message: Message, *, submission_id: str | None, now: datetime | None = None
) -> DeliveryOutcome:
    """Send ``message`` unless its idempotency key was sent before.

    Raises:
        TransientError: the mail service failed transiently (retry later), or another
            run holds the claim on this message.
    """
    now = now or utcnow()
    settled = _claim(services, message, submission_id, now)
    if settled is not None:
        return settled
    key = message.idempotency_key
    try:
        receipt = services.mailer.send(message)
    except TransientMailError as exc:
        _settle(services, key, MessageState.PENDING, claimed_until=None, last_error=str(exc))
        raise
    except UNSENDABLE as exc:
        # A permanent refusal by the mail service, or content the mailer could not build an email from.
        error = str(exc) or type(exc).__name__
        _settle(services, key, MessageState.FAILED, claimed_until=None, last_error=error)
        _report_failure(services, kind=message.kind, key=key, submission_id=submission_id, error=error)
        return DeliveryOutcome(key, Delivery.FAILED, error=error)
    except BaseException:
        _settle(services, key, MessageState.PENDING, claimed_until=None)
        raise
    _settle(
        services,
        key,
        MessageState.SENT,
        claimed_until=None,
        provider_id=receipt.provider_id,
        backend=receipt.backend,
        sent_at=utcnow(),
        last_error=None,
    )
    with services.db.session() as session:
        record_event(
            session,
            submission_id=submission_id,
            kind="message_sent",
            actor="mailer",
            detail={"key": key, "kind": message.kind, "provider_id": receipt.provider_id},
        )
    return DeliveryOutcome(key, Delivery.SENT, receipt.provider_id)


def _report_failure(services: Services, *, kind: str, key: str, submission_id: str | None, error: str) -> None:
    """Log a message given up for good and tell the operator (never about the operator's own alert)."""
    with services.db.session() as session:
        record_event(
            session,
            submission_id=submission_id,
            kind="message_failed",
            actor="mailer",
            detail={"key": key, "error": error},
        )
    if kind != "operator_alert":
        alert_operator(services, summary=f"email '{kind}' was refused", submission_id=submission_id, detail=error)


def _give_up_unrendered(services: Services, *, key: str, kind: str, submission_id: str, error: str) -> DeliveryOutcome:
    """Record a notice that could not even be rendered as failed, so nothing waits on it."""
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
        if row is None:
            sub = session.get(Submission, submission_id)
            row = OutgoingMessage(
                idempotency_key=key,
                submission_id=submission_id if sub is not None else None,
                kind=kind,
                recipient=(sub.applicant.email if sub is not None else "")[:320],
                subject="",
                state=MessageState.FAILED,
                last_error=error,
            )
            session.add(row)
        elif not move(
            session,
            OutgoingMessage.state,
            MessageState.FAILED,
            where=OutgoingMessage.id == row.id,
            values={"claimed_until": None, "last_error": error},
        ):  # another run settled it meanwhile: its outcome stands
            session.refresh(row)
            if row.state == MessageState.SENT:
                return DeliveryOutcome(key, Delivery.ALREADY_SENT, row.provider_id)
            return DeliveryOutcome(key, Delivery.FAILED, error=row.last_error)
    _report_failure(services, kind=kind, key=key, submission_id=submission_id, error=error)
    return DeliveryOutcome(key, Delivery.FAILED, error=error)


def send_notice(services: Services, submission_id: str, notice: Notice) -> DeliveryOutcome:
    """Render and deliver one applicant notice (once, however often called).

    A notice that cannot be rendered or built into an email is given up (``FAILED``) and the
    operator is told: the submission's flow goes on without it rather than failing on it.
    """
    key = notice_key(notice, submission_id)
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
        if row is not None and row.state == MessageState.SENT:
            return DeliveryOutcome(key, Delivery.ALREADY_SENT, row.provider_id)
        if row is not None and row.state == MessageState.FAILED:
            return DeliveryOutcome(key, Delivery.FAILED, error=row.last_error)
    try:
        message = render_notice(services, submission_id, notice)
    except UNSENDABLE as exc:
        error = f"the message could not be rendered: {str(exc) or type(exc).__name__}"
        return _give_up_unrendered(services, key=key, kind=notice.value, submission_id=submission_id, error=error)
    return deliver(services, message, submission_id=submission_id)


def alert_operator(
    services: Services, *, summary: str, submission_id: str | None, detail: str
) -> DeliveryOutcome | None:
    """Email the operator about a permanent failure (when an operator address is set)."""
    operator = services.settings.operator_email
    if not operator:
        return None
    attempt = 0
    issuer = "credflow"
    if submission_id:
        with services.db.session() as session:
            sub = session.get(Submission, submission_id)
            if sub is not None:
                attempt = sub.attempt
    known = submission_id if attempt else None  # a run started with a wrong id is reported, not linked to it
    try:
        message = render_message(
            "operator_alert",
            idempotency_key=f"operator_alert:{submission_id}:{summary}",
            to_email=operator,
            to_name="credflow operator",
            context={
                "summary": summary,
                "submission_id": submission_id or "-",
                "short_id": (submission_id or "-")[:8],
                "attempt": attempt,
                "detail": detail,
                "issuer_name": issuer,
            },
        )
    except UNSENDABLE:
        return None  # an operator address no header takes: settings validation is where that is caught
    try:
        return deliver(services, message, submission_id=known)
    except TransientError:
        return None


# -- reviewer mail ----------------------------------------------------------------------------


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
        calendar = services.calendar_for(sub.credential_id)
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
            "business_days": max(calendar.business_days_between(assignment.assigned_at, assignment.due_at), 0),
            "reissued": reissued,
        }
        key = reviewer_mail_key(kind, assignment.id, reissued=reissued, nonce=assignment.token_nonce)
        message = render_message(
            kind.value,
            idempotency_key=key,
            to_email=assignment.reviewer.email,
            to_name=assignment.reviewer.name,
            context=context,
            reply_to=credential.reply_to,
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


# -- badge notices ----------------------------------------------------------------------------


def badge_reply_to(services: Services, session: Session, badge: IssuedBadge) -> str | None:
    """Where answers to a badge's mail go: its micro-credential's program, else its issuer's (a pathway badge)."""
    if badge.submission_id is not None:
        credential_id = session.get_one(Submission, badge.submission_id).credential_id
        if credential_id in services.catalog.credentials:
            return services.catalog.get(credential_id).reply_to
    return next((c.reply_to for c in services.catalog if c.issuer.id == badge.issuer_id), None)


def send_badge_notice(services: Services, badge_id: str, notice: BadgeNotice) -> DeliveryOutcome:
    """Email the holder about one badge; the key ``<notice>:<badge>`` makes it once only.

    An issued or renewed badge's email carries its baked PNG (the signed credential inside), as the
    result letter does for a micro-credential's badge. An expiry reminder also stamps the badge's
    ``expiry_reminded_at``, which ends the badge sweep's listing of it as due.
    """
    attach = notice in (BadgeNotice.ISSUED, BadgeNotice.RENEWED)
    if attach:
        ensure_images(services, badge_id)  # made at issuance; a no-op then
    with services.db.session() as session:
        badge = session.get_one(IssuedBadge, badge_id)
        applicant = session.get_one(Applicant, badge.applicant_id)
        image = (
            Attachment(f"{badge.badge_key}-badge.png", "image/png", services.store.get_bytes(badge_image_key(badge.id)))
            if attach
            else None
        )
        message = render_message(
            notice.value,
            idempotency_key=badge_notice_key(notice, badge.id),
            to_email=applicant.email,
            to_name=applicant.name,
            reply_to=badge_reply_to(services, session, badge),
            context={
                "applicant_name": applicant.name,
                "badge_name": badge.ob3["credentialSubject"]["achievement"]["name"],
                "issuer_name": badge.ob3["issuer"].get("name", badge.issuer_id),
                "valid_until": f"{badge.valid_until:%d %B %Y}" if badge.valid_until else "",
                "link": badge_page_url(services.settings.public_url, badge.id),
                "short_id": badge.id[:8],
                "image_attached": image is not None,
                "portal_url": links.credentials_url(services.settings.public_url),
            },
        )
        if image is not None:
            message = replace(message, attachments=(image,))
        submission_id = badge.submission_id
    outcome = deliver(services, message, submission_id=submission_id)
    if notice == BadgeNotice.EXPIRING:
        # Recorded once delivered (or given up), so a run that dies before this still reminds next time.
        with services.db.session() as session:
            badge = session.get_one(IssuedBadge, badge_id)
            if badge.expiry_reminded_at is None:
                badge.expiry_reminded_at = utcnow()
    return outcome
