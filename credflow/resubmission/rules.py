"""The resubmission window's rules: when it ends and what a waiting "not yet" attempt is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

REMIND_BEFORE = timedelta(days=7)


class ChainNotice(StrEnum):
    """Emails to an applicant about their chain of attempts (each names its template)."""

    REMINDER = "resubmit_reminder"
    CLOSED = "chain_closed"


@dataclass(frozen=True)
class ChainSweep:
    """What one sweep of the resubmission windows leaves to send: each id is due one notice.

    ``remind``: attempts in their window's last week whose reminder has not gone out (``REMINDER``);
    ``closed``: chains the sweep closed because their window lapsed (``CLOSED``, reason "window").
    """

    remind: tuple[str, ...]
    closed: tuple[str, ...]


def chain_notice_key(notice: ChainNotice, submission_id: str) -> str:
    """The idempotency key of one notice about a chain, keyed by its latest attempt."""
    return f"{notice.value}:{submission_id}"


def resubmit_by(not_yet_since: datetime, window_days: int) -> datetime:
    """When the resubmission window of an attempt that ended "not yet" at ``not_yet_since`` closes."""
    return not_yet_since + timedelta(days=window_days)


def due_notice(deadline: datetime, now: datetime) -> ChainNotice | None:
    """What a waiting "not yet" attempt is due at ``now``.

    Returns:
        ``CLOSED`` once the window has lapsed, ``REMINDER`` in its last week, else ``None``.
    """
    if now > deadline:
        return ChainNotice.CLOSED
    if now >= deadline - REMIND_BEFORE:
        return ChainNotice.REMINDER
    return None
