"""Notifications: render a message for a submission event and deliver it exactly once.

Every message has an idempotency key recorded in the ``messages`` table. A sender
claims the key before calling the mail service, so retried tasks, re-run flows and
concurrent runs never send the same message twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from credflow.db.models import OutgoingMessage, Submission, utcnow
from credflow.errors import TransientError
from credflow.mail.base import Message, PermanentMailError, TransientMailError
from credflow.mail.render import render_message
from credflow.services import Services
from credflow.states import MessageState, move
from credflow.submissions import get_submission, record_event

CLAIM = timedelta(minutes=5)
#: What rendering a message or building it for the wire raises when its content cannot make an email
#: (a bad template variable, text no header takes): retrying cannot help, so the message is given up.
UNSENDABLE: tuple[type[BaseException], ...] = (TemplateError, ValueError, TypeError, LookupError, PermanentMailError)


class Notice(StrEnum):
    RECEIVED = "received"
    RETURNED = "returned"


class Delivery(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    FAILED = "failed"  # permanently refused; the operator was told


@dataclass(frozen=True)
class DeliveryOutcome:
    key: str
    delivery: Delivery
    provider_id: str | None = None
    error: str | None = None


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1 << 20:
        return f"{n / 1024:.0f} KB"
    if n < 1 << 30:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / (1 << 30):.2f} GB"


def notice_key(notice: Notice, submission_id: str) -> str:
    """The idempotency key of one notice about one submission attempt."""
    return f"{notice.value}:{submission_id}"


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
            "files": [
                {
                    "requirement": titles.get(i.requirement_key, i.requirement_key),
                    "name": i.display_name,
                    "size": _size(i.size),
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
        )


def _claim(services: Services, message: Message, submission_id: str | None, now: datetime) -> DeliveryOutcome | None:
    key = message.idempotency_key
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
        if row is None:
            try:
                with session.begin_nested():
                    row = OutgoingMessage(
                        idempotency_key=key,
                        submission_id=submission_id,
                        kind=message.kind,
                        recipient=message.to_email,
                        subject=message.subject,
                        state=MessageState.PENDING,
                    )
                    session.add(row)
            except IntegrityError:
                row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
                assert row is not None
        if row.state == MessageState.SENT:
            return DeliveryOutcome(key, Delivery.ALREADY_SENT, row.provider_id)
        if row.state == MessageState.FAILED:
            return DeliveryOutcome(key, Delivery.FAILED, error=row.last_error)
        # From pending, or from sending once the other sender's claim has lapsed.
        claimed = move(
            session,
            OutgoingMessage.state,
            MessageState.SENDING,
            where=(OutgoingMessage.idempotency_key == key)
            & or_(OutgoingMessage.state == MessageState.PENDING, OutgoingMessage.claimed_until < now),
            values={"claimed_until": now + CLAIM, "attempts": OutgoingMessage.attempts + 1},
        )
        if not claimed:
            raise TransientError(f"message {key} is being sent by another run")
    return None


def _settle(services: Services, key: str, state: MessageState, **values: Any) -> None:
    with services.db.session() as session:
        where = OutgoingMessage.idempotency_key == key
        move(session, OutgoingMessage.state, state, where=where, current=MessageState.SENDING, values=values)


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


def run_summary(*, flow_run_name: str, flow_name: str, flow_run_id: str, state: str) -> str:
    """One line naming a flow run, shared by the failure hook and the automation (it keys the email)."""
    return f"flow run {flow_run_name} ({flow_name}, {flow_run_id[:8]}) {state.lower()}"


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
