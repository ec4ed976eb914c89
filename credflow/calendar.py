"""Business days for review deadlines (Monday to Friday)."""

from __future__ import annotations

from datetime import datetime, timedelta


def add_business_days(start: datetime, days: int) -> datetime:
    """The moment ``days`` business days after ``start`` (weekends skipped, time of day kept)."""
    current = start
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    while remaining:
        current += timedelta(days=step)
        if current.weekday() < 5:
            remaining -= 1
    return current


def business_days_between(start: datetime, end: datetime) -> int:
    """Whole business days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    if end < start:
        return -business_days_between(end, start)
    count, current = 0, start
    while True:
        current += timedelta(days=1)
        if current > end:
            return count
        if current.weekday() < 5:
            count += 1
