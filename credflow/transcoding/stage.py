"""The transcoding stage: every video becomes one review MP4 plus a poster, once per input sha256."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from credflow.catalog.models import EvidenceKind
from credflow.db.models import Transcode, utcnow
from credflow.errors import TransientError
from credflow.leases import Lease
from credflow.lifecycle import State
from credflow.media.base import MediaProbe, TranscodeError
from credflow.services import Services
from credflow.states import TranscodeState
from credflow.submissions import get_submission, transition
from credflow.transcoding.rules import TranscodeOutcome, VideoJob, output_keys, unplayable

LEASE = timedelta(minutes=2)
LEASE_RENEWAL_SECONDS = 30.0
#: A transcode is claimed per input sha256 by one worker (its owner), under a lease that progress renews.
TRANSCODE_LEASE = Lease(
    model=Transcode,
    key=Transcode.input_sha256,
    state=Transcode.state,
    until=Transcode.lease_until,
    attempts=Transcode.attempts,
    length=LEASE,
    held=TranscodeState.RUNNING,
    owner="owner",
)


def video_jobs(services: Services, submission_id: str) -> list[VideoJob]:
    """The submission's videos, distinct by content."""
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        kinds = {req.key: req.kind for req in credential.evidence}
        jobs: dict[str, VideoJob] = {}
        for item in sub.evidence:
            if kinds.get(item.requirement_key) is EvidenceKind.VIDEO and item.media_probe:
                jobs.setdefault(
                    item.sha256,
                    VideoJob(
                        item.id,
                        item.sha256,
                        item.storage_key,
                        item.display_name,
                        MediaProbe.from_json(item.media_probe),
                    ),
                )
        return list(jobs.values())


def _claim(services: Services, sha256: str, owner: str, now: datetime) -> TranscodeOutcome | None:
    """Take the transcode of ``sha256`` for ``owner``; return the outcome instead if it is settled."""
    with services.db.session() as session:
        claim = TRANSCODE_LEASE.claim(
            session,
            sha256,
            now=now,
            owner=owner,
            new=lambda: Transcode(input_sha256=sha256, state=TranscodeState.RUNNING),
        )
        row = claim.row
        if claim.settled and row.state == TranscodeState.DONE:
            return TranscodeOutcome(sha256, True, True, row.output_key, row.poster_key)
        if claim.settled:
            return TranscodeOutcome(sha256, False, True, error=row.error)
        if not claim.taken:
            raise TransientError(f"video {sha256[:12]} is being transcoded by {row.owner}; will check again")
        return None


def _settle(services: Services, sha256: str, state: TranscodeState | None = None, **values: object) -> None:
    with services.db.session() as session:
        TRANSCODE_LEASE.settle(session, sha256, state, **values)


def transcode_video(
    services: Services,
    job: VideoJob,
    *,
    owner: str,
    on_progress: Callable[[float], None] | None = None,
) -> TranscodeOutcome:
    """Make the review MP4 and poster of one video, unless the same bytes were done before.

    Returns a failed outcome (not an exception) for a corrupt input: that is the
    applicant's file, not a system failure. A transient failure releases the claim
    and raises, so a retry can take it up.
    """
    settled = _claim(services, job.sha256, owner, utcnow())
    if settled is not None:
        return settled
    output_key, poster_key = output_keys(job.sha256)
    last_renewal = time.monotonic()

    def progress(fraction: float) -> None:
        nonlocal last_renewal
        if time.monotonic() - last_renewal > LEASE_RENEWAL_SECONDS:
            last_renewal = time.monotonic()
            _settle(services, job.sha256, lease_until=utcnow() + LEASE)
        if on_progress is not None:
            on_progress(fraction)

    try:
        with services.store.local_path(job.storage_key) as src, tempfile.TemporaryDirectory(prefix="credflow-") as tmp:
            out, poster = Path(tmp) / "review.mp4", Path(tmp) / "poster.jpg"
            result = services.media.transcode(src, out, probe=job.probe, on_progress=progress)
            services.media.make_poster(out, poster, duration=result.duration)
            stored = services.store.put_file(output_key, out, content_type="video/mp4")
            services.store.put_file(poster_key, poster, content_type="image/jpeg")
    except TranscodeError as exc:
        _settle(services, job.sha256, TranscodeState.FAILED, error=str(exc), owner=None, lease_until=None)
        return TranscodeOutcome(job.sha256, False, False, error=str(exc))
    except BaseException:
        _settle(services, job.sha256, owner=None, lease_until=None)
        raise
    _settle(
        services,
        job.sha256,
        TranscodeState.DONE,
        output_key=output_key,
        poster_key=poster_key,
        output_sha256=stored.sha256,
        output_size=stored.size,
        duration=result.duration,
        width=result.width,
        height=result.height,
        error=None,
        owner=None,
        lease_until=None,
    )
    return TranscodeOutcome(job.sha256, True, False, output_key, poster_key)


def finish_transcoding(services: Services, submission_id: str, *, actor: str = "transcoder") -> State:
    """Move the submission on once every video is settled: awaiting_review, or returned with the reasons.

    Raises:
        TransientError: some video is not transcoded yet.
    """
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        if sub.state != State.TRANSCODING:
            return State(sub.state)
        credential = services.catalog.get(sub.credential_id)
        kinds = {req.key: req.kind for req in credential.evidence}
        videos = [item for item in sub.evidence if kinds.get(item.requirement_key) is EvidenceKind.VIDEO]
        rows = {
            row.input_sha256: row
            for row in session.scalars(
                select(Transcode).where(Transcode.input_sha256.in_([item.sha256 for item in videos]))
            )
        }
        waiting = [
            item.display_name
            for item in videos
            if rows.get(item.sha256) is None or rows[item.sha256].state == TranscodeState.RUNNING
        ]
        if waiting:
            raise TransientError(f"videos not transcoded yet: {', '.join(waiting)}")
        problems = [
            unplayable(item.display_name, item.requirement_key, rows[item.sha256].error or "unknown error")
            for item in videos
            if rows[item.sha256].state == TranscodeState.FAILED
        ]
        if problems:
            sub.problems = [p.to_json() for p in problems]
            transition(session, sub, State.RETURNED, actor=actor, detail={"problems": len(problems)})
            return State.RETURNED
        transition(session, sub, State.AWAITING_REVIEW, actor=actor, detail={"videos": len(videos)})
        return State.AWAITING_REVIEW


def transcode_of(services: Services, sha256: str) -> Transcode | None:
    """The transcode record of one input, if any."""
    with services.db.session() as session:
        return session.scalar(select(Transcode).where(Transcode.input_sha256 == sha256))
