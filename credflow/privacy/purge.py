"""Deleting evidence bytes while keeping the records: originals, and review videos no live evidence shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.db.models import EvidenceItem, Transcode
from credflow.storage.base import ObjectStore


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted (or, in a dry run, would delete)."""

    items: tuple[str, ...]  # evidence item ids marked purged
    objects: tuple[str, ...]  # storage keys deleted: originals, review videos, posters
    transcodes: tuple[str, ...]  # input sha256 of the transcodes removed with their files
    bytes: int  # of the originals


def purge_evidence(
    session: Session,
    store: ObjectStore,
    items: Sequence[EvidenceItem],
    *,
    now: datetime,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete the bytes of ``items`` and mark each record purged at ``now``.

    A transcode is keyed by its input's sha256 and shared by every file with those bytes (a
    carried-over copy, another applicant's identical upload), so its review video and poster go
    only when no other unpurged evidence has the same sha256; its row goes with them, so the same
    bytes sent again are transcoded again. Objects are deleted before the records are marked, in
    the caller's transaction: a crash in between leaves records unmarked and a re-run deletes again
    (deleting a missing object is not an error), never marked records whose bytes remain.

    Args:
        session: The caller's session; its commit makes the marks stick.
        store: Where the bytes live.
        items: The evidence records to purge; those already purged are skipped.
        now: The purge time recorded on each item.
        dry_run: Report what would go and change nothing.

    Returns:
        The item ids, storage keys and transcodes concerned.
    """
    todo = [item for item in items if item.purged_at is None]
    if not todo:
        return PurgeResult((), (), (), 0)
    ids = {item.id for item in todo}
    shas = {item.sha256 for item in todo}
    shared = set(
        session.scalars(
            select(EvidenceItem.sha256).where(
                EvidenceItem.sha256.in_(shas), EvidenceItem.purged_at.is_(None), EvidenceItem.id.not_in(ids)
            )
        )
    )
    transcodes = list(session.scalars(select(Transcode).where(Transcode.input_sha256.in_(shas - shared))))
    keys = [item.storage_key for item in todo]
    keys += [key for t in transcodes for key in (t.output_key, t.poster_key) if key]
    result = PurgeResult(
        items=tuple(sorted(ids)),
        objects=tuple(keys),
        transcodes=tuple(sorted(t.input_sha256 for t in transcodes)),
        bytes=sum(item.size for item in todo),
    )
    if dry_run:
        return result
    for key in keys:
        store.delete(key)
    for item in todo:
        item.purged_at = now
    for transcode in transcodes:
        session.delete(transcode)
    session.flush()
    return result
