"""Named locks held for one transaction, so work that must not overlap runs one at a time across workers."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    return zlib.crc32(name.encode()) - (1 << 31)


def hold_lock(session: Session, name: str) -> None:
    """Hold the lock ``name`` until the session's transaction ends; call it first in the transaction.

    PostgreSQL: a transaction-scoped advisory lock, so every worker on every host waits its turn.
    SQLite (one machine): the database's write lock, taken before anything is read, so a second
    writer waits for the first (``busy_timeout``) and then reads what the first committed,
    instead of failing when it tries to write after reading an older snapshot.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
    elif dialect == "sqlite":
        # A write statement begins the write transaction even when it matches no row.
        session.execute(text("UPDATE reviewers SET id = id WHERE 0"))
