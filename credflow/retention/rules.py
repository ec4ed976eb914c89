"""Evidence retention's rules: which ended attempts are due, from what cutoff, and what a sweep reports.

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

from credflow.lifecycle import State

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


def retention_cutoff(now: datetime, retention_days: int) -> datetime | None:
    """Attempts that ended before this are due; ``None`` when retention is off (0 days)."""
    if retention_days == 0:
        return None
    return now - timedelta(days=retention_days)


def is_due(state: str, ended_at: datetime, cutoff: datetime) -> bool:
    """Whether an attempt in ``state`` since ``ended_at`` has its evidence due at ``cutoff``.

    Active assignments (a back-read under way) hold an attempt back too; that is the stage's check.
    """
    return State(state) in ENDED and ended_at < cutoff
