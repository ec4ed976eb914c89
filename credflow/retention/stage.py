"""Evidence retention: delete the files of attempts that ended long enough ago, keep the records.

An attempt's evidence is due when it ended more than ``CREDFLOW_EVIDENCE_RETENTION_DAYS`` ago
(counted from the time it reached its state) in one of these states:

- ``earned``: decided, the badge and decision records stand on their own;
- ``resubmitted``: superseded by a later attempt (files it kept were copied to that attempt);
- ``closed``: the chain took no more attempts (an operator's unlock afterwards needs the files again);
- ``returned``, ``withdrawn``: never decided.

Never due: ``not_yet`` (an open chain may still carry its files over to a resubmission, by
sha256), anything still in the pipeline or ``failed``, and any attempt with an active assignment
(a back-read under way). Review videos and posters are shared by every file with the same bytes,
so they go only with the last live file that has them (see :mod:`credflow.privacy.purge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from credflow.db.models import Assignment, EvidenceItem, Submission, utcnow
from credflow.lifecycle import State
from credflow.privacy.purge import purge_evidence
from credflow.services import Services
from credflow.states import AssignmentState

#: States after which an attempt's evidence is kept only for the retention period.
ENDED: frozenset[State] = frozenset({State.EARNED, State.RESUBMITTED, State.CLOSED, State.RETURNED, State.WITHDRAWN})


@dataclass(frozen=True)
class PurgedAttempt:
    """One attempt whose evidence files went (or would go)."""

    submission_id: str
    state: str
    ended_at: datetime
    files: int
    bytes: int


@dataclass(frozen=True)
class RetentionSweep:
    """What one retention sweep did."""

    retention_days: int  # 0: retention is off, nothing was looked at
    cutoff: datetime | None  # attempts that ended before this were due
    dry_run: bool
    attempts: tuple[PurgedAttempt, ...]
    objects_deleted: int  # originals, review videos and posters (in a dry run: that would be)

    @property
    def files(self) -> int:
        return sum(a.files for a in self.attempts)

    @property
    def bytes(self) -> int:
        return sum(a.bytes for a in self.attempts)

    def counts(self) -> dict[str, int]:
        """The sweep in numbers, for logs and flow results."""
        return {
            "attempts": len(self.attempts),
            "files": self.files,
            "bytes": self.bytes,
            "objects": self.objects_deleted,
        }


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
    if days == 0:
        return RetentionSweep(0, None, dry_run, (), 0)
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    attempts = []
    objects = 0
    for submission_id in due_submissions(services, cutoff=cutoff):
        with services.db.session() as session:
            sub = session.get(Submission, submission_id, with_for_update={"of": Submission})
            if sub is None or State(sub.state) not in ENDED or sub.state_since >= cutoff:
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
