"""The "not yet" branch: closing exhausted or lapsed chains, reminders, and operator unlocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from credflow.db.models import Submission, utcnow
from credflow.errors import IllegalTransition
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.rules import Delivery, DeliveryOutcome
from credflow.notifications.stage import deliver
from credflow.resubmission.rules import ChainNotice, ChainSweep, due_notice, resubmit_by
from credflow.services import Services
from credflow.submissions import get_submission, record_event, transition, unlock_count


def allowed_attempts(services: Services, submission: Submission) -> int:
    """The catalog's maximum plus one attempt per operator unlock of this applicant's chain."""
    credential = services.catalog.get(submission.credential_id)
    with services.db.session() as session:
        unlocks = unlock_count(session, applicant_id=submission.applicant_id, credential_id=submission.credential_id)
    return credential.max_attempts + unlocks


def resubmit_deadline(services: Services, submission: Submission) -> datetime:
    """When the resubmission window of a "not yet" attempt ends."""
    credential = services.catalog.get(submission.credential_id)
    return resubmit_by(submission.state_since, credential.resubmission_window_days)


def send_chain_notice(
    services: Services, submission_id: str, notice: ChainNotice, *, reason: str = ""
) -> DeliveryOutcome:
    """Email the applicant about their chain (key ``<notice>:<submission>``, once)."""
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        message = render_message(
            notice.value,
            idempotency_key=f"{notice.value}:{sub.id}",
            to_email=sub.applicant.email,
            to_name=sub.applicant.name,
            context={
                "applicant_name": sub.applicant.name,
                "credential_title": credential.title,
                "issuer_name": credential.issuer.name,
                "deadline": f"{resubmit_deadline(services, sub):%d %B %Y}",
                "submission_id": sub.id,
                "short_id": sub.id[:8],
                "attempt": sub.attempt,
                "max_attempts": credential.max_attempts,
                "reason": reason,
            },
        )
    return deliver(services, message, submission_id=submission_id)


def close_if_exhausted(services: Services, submission_id: str, *, now: datetime | None = None) -> bool:
    """After the last allowed attempt ends "not yet", close the chain until an operator unlocks it."""
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        if sub.state != State.NOT_YET or sub.attempt < allowed_attempts(services, sub):
            return False
        transition(session, sub, State.CLOSED, actor="pipeline", detail={"reason": "attempts"}, now=now)
    send_chain_notice(services, submission_id, ChainNotice.CLOSED, reason="attempts")
    return True


def sweep_resubmissions(services: Services, *, now: datetime | None = None) -> ChainSweep:
    """Remind a week before a resubmission window ends (once); close chains whose window lapsed."""
    now = now or utcnow()
    with services.db.session() as session:
        waiting = session.scalars(select(Submission).where(Submission.state == State.NOT_YET.value)).all()
        due = [(sub.id, resubmit_deadline(services, sub)) for sub in waiting]
    reminded, closed = [], []
    for submission_id, deadline in due:
        notice = due_notice(deadline, now)
        if notice is ChainNotice.CLOSED:
            with services.db.session() as session:
                sub = get_submission(session, submission_id)
                if sub.state != State.NOT_YET:
                    continue
                transition(session, sub, State.CLOSED, actor="window-sweep", detail={"reason": "window"}, now=now)
            send_chain_notice(services, submission_id, ChainNotice.CLOSED, reason="window")
            closed.append(submission_id)
        elif (
            notice is ChainNotice.REMINDER
            and send_chain_notice(services, submission_id, ChainNotice.REMINDER).delivery == Delivery.SENT
        ):
            reminded.append(submission_id)
    return ChainSweep(tuple(reminded), tuple(closed))


def unlock(services: Services, submission_id: str, *, reason: str, actor: str = "operator") -> None:
    """Reopen a closed chain for one more attempt (BloomBoard: after a coaching meeting), logged.

    Raises:
        ValueError: no reason given.
        IllegalTransition: the submission is not closed.
    """
    if not reason.strip():
        raise ValueError("an unlock needs a reason (for example: coaching meeting held on ...)")
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        if sub.state != State.CLOSED:
            raise IllegalTransition(f"submission {submission_id} is {sub.state}, not closed; nothing to unlock")
        transition(session, sub, State.NOT_YET, actor=actor, detail={"unlock_reason": reason.strip()})
        record_event(session, submission_id=sub.id, kind="unlocked", actor=actor, detail={"reason": reason.strip()})
