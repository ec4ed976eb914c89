"""The media interface on Debian's ffmpeg and ffprobe (through :mod:`credflow.media.probe` and ``.transcode``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from credflow.media import probe as probe_module
from credflow.media import transcode as transcode_module
from credflow.media.base import MediaProbe, TranscodeResult


@dataclass(frozen=True)
class FfmpegMedia:
    """:class:`~credflow.media.base.Media` running the ffmpeg and ffprobe executables at these paths."""

    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"

    def probe(self, path: Path) -> MediaProbe:
        return probe_module.probe(path, ffprobe=self.ffprobe)

    def transcode(
        self,
        src: Path,
        dst: Path,
        *,
        probe: MediaProbe,
        on_progress: Callable[[float], None] | None = None,
    ) -> TranscodeResult:
        # Looked up in the module at each call, so a test can slow or interrupt the real function.
        return transcode_module.transcode(
            src, dst, probe=probe, ffmpeg=self.ffmpeg, ffprobe=self.ffprobe, on_progress=on_progress
        )

    def make_poster(self, video: Path, poster: Path, *, duration: float) -> None:
        transcode_module.make_poster(video, poster, duration=duration, ffmpeg=self.ffmpeg)
