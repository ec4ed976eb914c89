"""Claims on keyed rows: taken by compare-and-set, held under a lease that lapses, settled by the holder.

A row (one message to send, one video to transcode) is added once per key. A worker claims it
with one guarded ``UPDATE``: only a row that is free, or held under a lease that has lapsed (its
holder crashed), can be taken, so two concurrent runs never both do the work. The holder settles
the row when it is done (a final state) or gives the claim back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, QueryableAttribute, Session

from credflow.db.models import Base
from credflow.states import move

Row = TypeVar("Row", bound=Base)


@dataclass(frozen=True)
class Claim(Generic[Row]):
    """The outcome of one claim: ``taken`` (the caller holds the lease) or ``settled`` (nothing to do).

    ``row`` is the row as read before the claim: its final state when settled, its holder when
    neither.
    """

    row: Row
    taken: bool
    settled: bool


@dataclass(frozen=True)
class Lease(Generic[Row]):
    """How the rows of one table are claimed: which columns hold the key, state, lease and attempts.

    Attributes:
        model: The mapped class.
        key: Its unique key column.
        state: Its state column.
        until: When the current claim lapses (``None``: nobody holds it).
        attempts: Counts the claims taken.
        length: How long a claim holds unless renewed.
        held: The state of a claimed row.
        free: States a row may be claimed from without a lease (e.g. ``pending``).
        owner: The name of the column naming the holder, when a holder may claim its own row again.
    """

    model: type[Row]
    key: QueryableAttribute[str]
    state: InstrumentedAttribute[str]
    until: QueryableAttribute[datetime | None]
    attempts: QueryableAttribute[int]
    length: timedelta
    held: StrEnum
    free: tuple[StrEnum, ...] = ()
    owner: str | None = None

    def get(self, session: Session, key: str) -> Row | None:
        """The row of ``key``, if there is one."""
        return session.scalar(select(self.model).where(self.key == key))

    def claim(
        self, session: Session, key: str, *, now: datetime, new: Callable[[], Row], owner: str | None = None
    ) -> Claim[Row]:
        """Add the row of ``key`` if it is missing (made by ``new``), then take the claim on it.

        Args:
            session: The caller's session (the claim commits with it).
            key: The row's key.
            now: The clock.
            new: Makes the row in a free state, when there is none yet.
            owner: Who claims (stored in ``owner``; that holder may take its own claim again).

        Returns:
            Settled when the row is in a final state (neither free nor held); otherwise taken, or
            not taken when another holder's lease has not lapsed.
        """
        row = self.get(session, key)
        if row is None:
            try:
                with session.begin_nested():
                    row = new()
                    session.add(row)
            except IntegrityError:  # another run added it meanwhile
                row = self.get(session, key)
                assert row is not None
        if getattr(row, self.state.key) not in (*self.free, self.held):
            return Claim(row, taken=False, settled=True)
        lapsed: ColumnElement[bool] = or_(self.until.is_(None), self.until < now)
        if self.owner is not None and owner is not None:
            lapsed = or_(lapsed, getattr(self.model, self.owner) == owner)
        claimable: ColumnElement[bool] = (self.state == self.held) & lapsed
        if self.free:
            claimable = or_(self.state.in_(self.free), claimable)
        values: dict[str, Any] = {
            self.state.key: self.held,
            self.until.key: now + self.length,
            self.attempts.key: self.attempts + 1,
        }
        if self.owner is not None:
            values[self.owner] = owner
        taken = session.execute(update(self.model).where(self.key == key, claimable).values(values))
        return Claim(row, taken=taken.rowcount == 1, settled=False)  # type: ignore[attr-defined]

    def settle(self, session: Session, key: str, state: StrEnum | None = None, **values: object) -> bool:
        """Write the holder's result to the row of ``key``: renew or give back the claim, or settle it.

        With ``state`` the row moves there only from the held state (a guarded compare-and-set, so
        a row another worker settled meanwhile stays as it is); without, only ``values`` change.

        Returns:
            Whether the row was written.
        """
        where = self.key == key
        if state is None:
            return bool(session.execute(update(self.model).where(where).values(**values)).rowcount)  # type: ignore[attr-defined]
        return move(session, self.state, state, where=where, current=self.held, values=values)
