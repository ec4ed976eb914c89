"""The "not yet" branch: closing exhausted or lapsed chains, reminders, and operator unlocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from credflow.db.models import Event, Submission, utcnow
from credflow.errors import IllegalTransition
from credflow.letters import links
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.rules import DeliveryOutcome
from credflow.notifications.stage import deliver, settled_keys
from credflow.resubmission.rules import ChainNotice, ChainSweep, chain_notice_key, due_notice, resubmit_by
from credflow.services import Services
from credflow.submissions import get_submission, record_event, transition, unlock_count

#: Who closes a chain whose resubmission window lapsed (the actor of that transition).
WINDOW_SWEEP = "window-sweep"


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
        public_url = services.settings.public_url
        message = render_message(
            notice.value,
            idempotency_key=chain_notice_key(notice, sub.id),
            to_email=sub.applicant.email,
            to_name=sub.applicant.name,
            reply_to=credential.reply_to,
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
                "credential_url": links.credential_url(public_url, credential.id),
                "draft_url": links.draft_url(public_url, credential.id),
                "letter_url": links.letter_url(public_url, sub.id),
                "portal_url": links.credentials_url(public_url),
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
    """Close chains whose window lapsed (once) and list the notices due; sending them is the caller's job.

    A chain is closed here, by the guarded transition, so it is closed once however often the
    sweep runs; its ``CLOSED`` notice is due once, from the sweep that closed it. A reminder is
    due until its message is settled in the outbox (sent or given up), so a run that dies before
    sending leaves it due for the next sweep, and its key makes the send itself once only.
    """
    now = now or utcnow()
    with services.db.session() as session:
        waiting = session.scalars(select(Submission).where(Submission.state == State.NOT_YET.value)).all()
        due = [(sub.id, due_notice(resubmit_deadline(services, sub), now)) for sub in waiting]
    reminders = [sid for sid, notice in due if notice is ChainNotice.REMINDER]
    settled = settled_keys(services, (chain_notice_key(ChainNotice.REMINDER, sid) for sid in reminders))
    closed = []
    for submission_id, notice in due:
        if notice is not ChainNotice.CLOSED:
            continue
        with services.db.session() as session:
            sub = get_submission(session, submission_id)
            if sub.state != State.NOT_YET:
                continue
            transition(session, sub, State.CLOSED, actor=WINDOW_SWEEP, detail={"reason": "window"}, now=now)
        closed.append(submission_id)
    # A chain an earlier sweep closed stays due its notice until that is settled: a run that died
    # between closing and sending does not lose the applicant's "closed" email.
    with services.db.session() as session:
        closed_by_window = session.scalars(
            select(Submission.id)
            .join(Event, Event.submission_id == Submission.id)
            .where(
                Submission.state == State.CLOSED.value,
                Event.kind == "state",
                Event.to_state == State.CLOSED.value,
                Event.actor == WINDOW_SWEEP,
            )
        ).all()
    unsent = [sid for sid in dict.fromkeys(closed_by_window) if sid not in closed]
    settled_closed = settled_keys(services, (chain_notice_key(ChainNotice.CLOSED, sid) for sid in unsent))
    closed += [sid for sid in unsent if chain_notice_key(ChainNotice.CLOSED, sid) not in settled_closed]
    remind = tuple(sid for sid in reminders if chain_notice_key(ChainNotice.REMINDER, sid) not in settled)
    return ChainSweep(remind, tuple(closed))


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
