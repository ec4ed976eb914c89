"""A media tool that runs nothing, for tests without ffmpeg: probes come from a table, outputs are marker files.

The convention: a file is known by its content (sha256). Content registered with
:meth:`FakeMedia.register` probes as registered; any other file probes as ``default`` (a
20-minute 1280x720 H.264 video with AAC sound, :data:`DEFAULT_PROBE`) with its own size, or
fails with :class:`~credflow.media.base.ProbeError` when ``default`` is None. A transcode
writes a small marker file (or fails for content given to :meth:`FakeMedia.break_transcode`)
and a poster is a two-marker JPEG. Every call is recorded in :attr:`FakeMedia.calls`.

:func:`fake_mp4` makes bytes that sniff and inspect as a clean MP4, so an upload built with it
passes validation's content checks and reaches the probe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

from credflow.media.base import MediaProbe, ProbeError, TranscodeError, TranscodeResult, VideoStream

#: What a file probes as unless its content was registered: a 20-minute 1280x720 H.264 video with AAC sound.
DEFAULT_PROBE = MediaProbe(
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    duration=1200.0,
    size=0,
    video=VideoStream(
        codec="h264", width=1280, height=720, rotation=0, fps=30.0, pix_fmt="yuv420p", color_transfer=None
    ),
    has_cover_art=False,
    audio_codec="aac",
)

#: A poster as the fake makes it: the start and end markers of a JPEG around a note.
FAKE_POSTER = b"\xff\xd8credflow fake poster\xff\xd9"


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def fake_mp4(tag: str = "") -> bytes:
    """A few bytes that sniff and inspect as a clean MP4: an ftyp box, an empty moov and an mdat holding ``tag``.

    Different tags make different files (different sha256), so one test can register several videos.
    """
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
    return ftyp + _box(b"moov") + _box(b"mdat", tag.encode())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FakeMedia:
    """:class:`~credflow.media.base.Media` without ffmpeg: deterministic, and it records every call."""

    def __init__(self, *, default: MediaProbe | None = DEFAULT_PROBE) -> None:
        self.default = default
        #: (method, sha256 of the file it was given), in call order.
        self.calls: list[tuple[str, str]] = []
        self._probes: dict[str, MediaProbe] = {}
        self._broken: dict[str, str] = {}

    def register(self, content: bytes, probe: MediaProbe) -> None:
        """Make a file holding ``content`` probe as ``probe``."""
        self._probes[hashlib.sha256(content).hexdigest()] = probe

    def break_transcode(self, content: bytes, reason: str) -> None:
        """Make the transcode of a file holding ``content`` fail for good with ``reason``."""
        self._broken[hashlib.sha256(content).hexdigest()] = reason

    def probe(self, path: Path) -> MediaProbe:
        sha = _sha256(path)
        self.calls.append(("probe", sha))
        if sha in self._probes:
            return self._probes[sha]
        if self.default is None:
            raise ProbeError(f"{path.name}: not media (FakeMedia knows no file with this content)")
        return dataclasses.replace(self.default, size=path.stat().st_size)

    def transcode(
        self,
        src: Path,
        dst: Path,
        *,
        probe: MediaProbe,
        on_progress: Callable[[float], None] | None = None,
    ) -> TranscodeResult:
        sha = _sha256(src)
        self.calls.append(("transcode", sha))
        if sha in self._broken:
            raise TranscodeError(self._broken[sha])
        if probe.video is None:
            raise TranscodeError(f"{src.name}: no video stream to transcode")
        if on_progress is not None:
            on_progress(0.5)
        dst.write_bytes(f"credflow fake review MP4 of {sha}\n".encode())
        if on_progress is not None:
            on_progress(1.0)
        width, height = probe.video.display_size
        return TranscodeResult(
            duration=probe.duration,
            width=width,
            height=height,
            fps=probe.video.fps or 30.0,
            video_codec="h264",
            audio_codec="aac" if probe.audio_codec else None,
        )

    def make_poster(self, video: Path, poster: Path, *, duration: float) -> None:
        self.calls.append(("make_poster", _sha256(video)))
        poster.write_bytes(FAKE_POSTER)
