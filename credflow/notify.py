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

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from credflow.db.models import OutgoingMessage, Submission, utcnow
from credflow.errors import TransientError
from credflow.mail.base import Message, PermanentMailError, TransientMailError
from credflow.mail.render import render_message
from credflow.services import Services
from credflow.submissions import get_submission, record_event

CLAIM = timedelta(minutes=5)


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
                        state="pending",
                    )
                    session.add(row)
            except IntegrityError:
                row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
                assert row is not None
        if row.state == "sent":
            return DeliveryOutcome(key, Delivery.ALREADY_SENT, row.provider_id)
        if row.state == "failed":
            return DeliveryOutcome(key, Delivery.FAILED, error=row.last_error)
        claimed = session.execute(
            update(OutgoingMessage)
            .where(
                OutgoingMessage.idempotency_key == key,
                or_(
                    OutgoingMessage.state == "pending",
                    (OutgoingMessage.state == "sending") & (OutgoingMessage.claimed_until < now),
                ),
            )
            .values(state="sending", claimed_until=now + CLAIM, attempts=OutgoingMessage.attempts + 1)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise TransientError(f"message {key} is being sent by another run")
    return None


def _settle(services: Services, key: str, **values: Any) -> None:
    with services.db.session() as session:
        session.execute(update(OutgoingMessage).where(OutgoingMessage.idempotency_key == key).values(**values))


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
        _settle(services, key, state="pending", claimed_until=None, last_error=str(exc))
        raise
    except PermanentMailError as exc:
        _settle(services, key, state="failed", claimed_until=None, last_error=str(exc))
        with services.db.session() as session:
            record_event(
                session,
                submission_id=submission_id,
                kind="message_failed",
                actor="mailer",
                detail={"key": key, "error": str(exc)},
            )
        if message.kind != "operator_alert":
            alert_operator(
                services, summary=f"email '{message.kind}' was refused", submission_id=submission_id, detail=str(exc)
            )
        return DeliveryOutcome(key, Delivery.FAILED, error=str(exc))
    except BaseException:
        _settle(services, key, state="pending", claimed_until=None)
        raise
    _settle(
        services,
        key,
        state="sent",
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


def send_notice(services: Services, submission_id: str, notice: Notice) -> DeliveryOutcome:
    """Render and deliver one applicant notice (once, however often called)."""
    key = notice_key(notice, submission_id)
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == key))
        if row is not None and row.state == "sent":
            return DeliveryOutcome(key, Delivery.ALREADY_SENT, row.provider_id)
    return deliver(services, render_notice(services, submission_id, notice), submission_id=submission_id)


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
    try:
        return deliver(services, message, submission_id=known)
    except TransientError:
        return None
