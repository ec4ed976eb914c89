"""Prefect tasks of the transcoding step: make videos reviewable, under a global concurrency limit."""

from __future__ import annotations

import time
from typing import cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from credflow.lifecycle import State
from credflow.transcoding.rules import TranscodeOutcome, VideoJob
from credflow.transcoding.stage import finish_transcoding, transcode_video, video_jobs
from tasks.retry import retried_task
from tasks.runtime import services, worker_identity

TRANSCODE_LIMIT = "transcode"


def ensure_transcode_limit(limit: int) -> None:
    """Create the global transcode limit if missing; an operator's existing setting is kept."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(TRANSCODE_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=TRANSCODE_LIMIT, limit=limit))


def list_videos(submission_id: str) -> list[VideoJob]:
    """List the submission's videos that need a review version (a plain read: as a task it showed operators nothing)."""
    return video_jobs(services(), submission_id)


@retried_task(name="transcode-video", task_run_name="transcode-{job.sha256:.12}")
def transcode(job: VideoJob) -> TranscodeOutcome:
    """Transcode one video to H.264/AAC MP4 with a poster, once per input sha256."""
    logger = get_run_logger()
    # In a sync task the call returns the id, not a coroutine (Prefect's sync/async dispatch).
    progress_id = cast(
        UUID,
        create_progress_artifact(
            progress=0.0, key=f"transcode-{job.sha256[:32]}", description=f"Transcoding {job.display_name}"
        ),
    )
    last = 0.0

    def report(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if fraction < 1.0 and now - last < 2.0:
            return
        last = now
        logger.info("transcoding %s: %.0f%%", job.display_name, fraction * 100)
        if progress_id is not None:
            update_progress_artifact(progress_id, progress=round(fraction * 100, 1))

    with concurrency(TRANSCODE_LIMIT, occupy=1, strict=True):
        outcome = transcode_video(services(), job, owner=worker_identity(), on_progress=report)
    if outcome.done:
        logger.info(
            "%s: review version %s%s", job.display_name, outcome.output_key, " (reused)" if outcome.reused else ""
        )
        if progress_id is not None:
            update_progress_artifact(progress_id, progress=100.0)
    else:
        logger.warning("%s cannot be transcoded: %s", job.display_name, outcome.error)
    return outcome


@retried_task(name="finish-transcoding")
def finish(submission_id: str) -> State:
    """Move the submission to review, or back to the applicant if a video cannot be played."""
    return finish_transcoding(services(), submission_id)
