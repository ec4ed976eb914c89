"""The media interface (:class:`Media`) and the records it returns: what a probe saw, what a transcode produced.

:class:`credflow.media.ffmpeg.FfmpegMedia` runs Debian's ffmpeg; :class:`credflow.media.fake.FakeMedia`
runs nothing, for tests. The composition root (:mod:`credflow.services`) picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from credflow.errors import PermanentError, TransientError


@dataclass(frozen=True)
class VideoStream:
    """The first real (non cover-art) video stream."""

    codec: str
    width: int
    height: int
    rotation: int  # display rotation in degrees, normalised to 0/90/180/270
    fps: float  # average frame rate; 0.0 when unknown
    pix_fmt: str | None
    color_transfer: str | None  # e.g. smpte2084 (PQ) or arib-std-b67 (HLG)

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in {"smpte2084", "arib-std-b67"}

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after the rotation is applied."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class MediaProbe:
    """What ffprobe reported about one file."""

    format_name: str
    duration: float  # seconds; 0.0 when unknown
    size: int
    video: VideoStream | None  # None: no real video stream
    has_cover_art: bool  # an attached picture (cover art) stream is present
    audio_codec: str | None  # None: no audio stream

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaProbe:
        video = data.get("video")
        return cls(**{**data, "video": VideoStream(**video) if video else None})


@dataclass(frozen=True)
class TranscodeResult:
    """The review file and its poster, as produced and re-probed."""

    duration: float
    width: int
    height: int
    fps: float
    video_codec: str
    audio_codec: str | None


class ProbeError(PermanentError):
    """ffprobe could not read the file as media (corrupt, unsupported, not media)."""


class TranscodeError(PermanentError):
    """The input cannot be transcoded (corrupt or truncated); retrying will not help."""


class TranscodeInterrupted(TransientError):
    """ffmpeg was killed or ran out of a resource; the same input may succeed later."""


@runtime_checkable
class Media(Protocol):
    """What the pipeline needs from a media tool: probe an upload, make the review MP4 and its poster."""

    def probe(self, path: Path) -> MediaProbe:
        """Describe the media file at ``path``.

        Raises:
            ProbeError: the file cannot be read as media.
        """
        ...

    def transcode(
        self,
        src: Path,
        dst: Path,
        *,
        probe: MediaProbe,
        on_progress: Callable[[float], None] | None = None,
    ) -> TranscodeResult:
        """Write the review MP4 of ``src`` (described by ``probe``) to ``dst``, reporting progress from 0 to 1.

        Raises:
            TranscodeError: the input cannot be transcoded; retrying will not help.
            TranscodeInterrupted: the tool was stopped; the same input may succeed later.
        """
        ...

    def make_poster(self, video: Path, poster: Path, *, duration: float) -> None:
        """Write one JPEG frame of the review MP4 ``video`` (``duration`` seconds long) to ``poster``."""
        ...
