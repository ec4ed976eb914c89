"""Transcoding's rules: a video job, its outcome, where its outputs are stored, and the problem of a failed one.

Pure: no session, no services; :mod:`credflow.transcoding.stage` runs the transcodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from credflow.media.base import MediaProbe
from credflow.validation.rules import Problem


@dataclass(frozen=True)
class VideoJob:
    """One video of a submission to make reviewable."""

    evidence_id: str
    sha256: str
    storage_key: str
    display_name: str
    probe: MediaProbe


@dataclass(frozen=True)
class TranscodeOutcome:
    """What happened to one video: done (now or earlier) or failed for good, with the reason."""

    sha256: str
    done: bool
    reused: bool
    output_key: str | None = None
    poster_key: str | None = None
    error: str | None = None


def output_keys(sha256: str) -> tuple[str, str]:
    """Storage keys of the review file and poster: derived from the input's hash, never from a name."""
    return f"transcodes/{sha256}.mp4", f"posters/{sha256}.jpg"


def unplayable(display_name: str, requirement_key: str, error: str) -> Problem:
    """The problem returned to the applicant for a video that could not be transcoded."""
    return Problem(
        "video_unplayable",
        f"'{display_name}' could not be converted for reviewers: {error}",
        "Play the file to the end on your computer; export or copy it again and upload the new file.",
        requirement_key,
        display_name,
    )
