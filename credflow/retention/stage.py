"""Retention's sweeps: the files of every attempt due (see :mod:`.rules`), records kept; ended sign-in records."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from credflow.accounts.signin import session_times
from credflow.db.models import Assignment, EvidenceItem, PersonSession, SignInLink, Submission, utcnow
from credflow.privacy.purge import purge_evidence
from credflow.retention.rules import ENDED, PurgedAttempt, RetentionSweep, is_due, retention_cutoff
from credflow.services import Services
from credflow.states import AssignmentState


def due_submissions(services: Services, *, cutoff: datetime) -> list[str]:
    """Ids of attempts whose evidence is due for deletion at ``cutoff`` (oldest first)."""
    under_review = exists().where(Assignment.submission_id == Submission.id, Assignment.state == AssignmentState.ACTIVE)
    unpurged = exists().where(EvidenceItem.submission_id == Submission.id, EvidenceItem.purged_at.is_(None))
    with services.db.session() as session:
        return list(
            session.scalars(
                select(Submission.id)
                .where(
                    Submission.state.in_([s.value for s in ENDED]),
                    Submission.state_since < cutoff,
                    ~under_review,
                    unpurged,
                )
                .order_by(Submission.state_since, Submission.id)
            )
        )


def sweep_retention(services: Services, *, now: datetime | None = None, dry_run: bool = False) -> RetentionSweep:
    """Delete the evidence files of every attempt due under the retention setting; records stay, marked purged.

    Each attempt is purged in its own transaction, its state checked again there, so an attempt
    that moved meanwhile (an operator's unlock) is skipped and a crash loses at most one attempt's
    progress; a re-run picks up where this one stopped.

    Args:
        services: The composition root's services (settings give the retention period).
        now: The clock, for tests.
        dry_run: List what is due and change nothing.

    Returns:
        The attempts concerned and the counts.
    """
    days = services.settings.evidence_retention_days
    now = now or utcnow()
    cutoff = retention_cutoff(now, days)
    if cutoff is None:
        return RetentionSweep(0, None, dry_run, (), 0)
    attempts = []
    objects = 0
    for submission_id in due_submissions(services, cutoff=cutoff):
        with services.db.session() as session:
            sub = session.get(Submission, submission_id, with_for_update={"of": Submission})
            if sub is None or not is_due(sub.state, sub.state_since, cutoff):
                continue
            busy = session.scalar(
                select(Assignment.id)
                .where(Assignment.submission_id == sub.id, Assignment.state == AssignmentState.ACTIVE)
                .limit(1)
            )
            if busy is not None:
                continue
            result = purge_evidence(session, services.store, list(sub.evidence), now=now, dry_run=dry_run)
            if not result.items:
                continue
            objects += len(result.objects)
            attempts.append(PurgedAttempt(sub.id, sub.state, sub.state_since, len(result.items), result.bytes))
    return RetentionSweep(days, cutoff, dry_run, tuple(attempts), objects)


def sweep_sign_ins(services: Services, *, now: datetime | None = None, keep: timedelta = timedelta(days=1)) -> int:
    """Delete sign-in links and sessions that ended (used, expired, revoked) more than ``keep`` ago.

    Idle sessions end by the clock without a write, so a session counts as ended here once its
    absolute end or its idle limit passed.

    Args:
        services: The composition root's services (settings give the idle limit).
        now: The clock, for tests.
        keep: How long ended records stay.

    Returns:
        How many rows were deleted.
    """
    cutoff = (now or utcnow()) - keep
    idle = session_times(services).idle
    with services.db.session() as session:
        links = session.execute(
            delete(SignInLink).where((SignInLink.expires_at < cutoff) | (SignInLink.used_at < cutoff))
        )
        sessions = session.execute(
            delete(PersonSession).where(
                (PersonSession.expires_at < cutoff)
                | (PersonSession.revoked_at < cutoff)
                | (PersonSession.last_seen_at < cutoff - idle)
            )
        )
        return int(links.rowcount) + int(sessions.rowcount)  # type: ignore[attr-defined]
