"""Synthetic media clips generated with ffmpeg's lavfi sources, for the demo, tests and benchmarks."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from credflow.media.probe import media_url, probe

_CONTAINERS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska"}
_ROTATIONS = {0, 90, 180, 270}


def make_video(
    path: Path,
    *,
    seconds: float,
    width: int,
    height: int,
    fps: float = 30,
    codec: str = "libx264",
    rotation: int | None = None,
    audio: bool = True,
    hdr: bool = False,
    faststart: bool = True,
    container: str = "mp4",
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
) -> Path:
    """Write a test-pattern clip (``testsrc2``) with an optional 440 Hz tone.

    Args:
        path: Where to write the clip.
        seconds: Its duration.
        width: Coded picture width (even for 4:2:0).
        height: Coded picture height (even for 4:2:0).
        fps: Frame rate.
        codec: ``libx264`` or ``libx265``.
        rotation: Clockwise display rotation (90, 180, 270) written as
            display-matrix metadata, the way phones tag portrait recordings;
            the pixels stay as coded. Only for mp4 and mov.
        audio: Add an AAC sine-tone track.
        hdr: Encode 10-bit HDR10 (BT.2020 primaries, PQ transfer); needs
            ``codec="libx265"``.
        faststart: Put the moov atom before the media data (mp4 and mov).
        container: ``mp4``, ``mov`` or ``mkv``.
        ffmpeg: The ffmpeg executable.
        ffprobe: The ffprobe executable, used to check the rotation landed.

    Returns:
        ``path``.

    Raises:
        ValueError: An unsupported combination of options.
        RuntimeError: ffmpeg failed, or the rotation did not land.
    """
    if codec not in {"libx264", "libx265"}:
        raise ValueError(f"unsupported codec {codec!r}: use libx264 or libx265")
    if container not in _CONTAINERS:
        raise ValueError(f"unsupported container {container!r}: use one of {sorted(_CONTAINERS)}")
    if hdr and codec != "libx265":
        raise ValueError("hdr=True needs codec='libx265' (10-bit HEVC carries the HDR10 signalling)")
    rotation = rotation or 0
    if rotation not in _ROTATIONS:
        raise ValueError(f"rotation must be one of {sorted(_ROTATIONS)}, not {rotation}")
    if rotation and container == "mkv":
        raise ValueError("rotation metadata is only written for mp4 and mov")

    rate = _rate(fps)
    cmd = _quiet(ffmpeg)
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={rate}:duration={seconds:g}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds:g}"]
    cmd += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-b:a", "96k"] if audio else [])
    if codec == "libx264":
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    elif hdr:
        x265 = "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1"
        cmd += ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params", x265]
        cmd += ["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"]
    else:
        cmd += ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"]
    if codec == "libx265" and container != "mkv":
        # Apple players only accept HEVC in MP4 under the hvc1 tag.
        cmd += ["-tag:v", "hvc1"]
    movflags = ["-movflags", "+faststart"] if faststart and container != "mkv" else []

    if not rotation:
        _run([*cmd, *movflags, "-f", _CONTAINERS[container], media_url(path)])
        return path

    # ffmpeg 5.1 writes the legacy ``rotate`` metadata into the display matrix
    # only when stream-copying, so encode first and remux with the tag.
    plain = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.plain")
    try:
        _run([*cmd, "-f", _CONTAINERS[container], media_url(plain)])
        _run(
            [
                *_quiet(ffmpeg),
                "-i",
                media_url(plain),
                "-map",
                "0",
                "-c",
                "copy",
                # ffmpeg 5.1 reads this value as a counter-clockwise angle.
                "-metadata:s:v:0",
                f"rotate={(360 - rotation) % 360}",
                *movflags,
                "-f",
                _CONTAINERS[container],
                media_url(path),
            ]
        )
    finally:
        plain.unlink(missing_ok=True)
    video = probe(path, ffprobe=ffprobe).video
    if video is None or video.rotation != rotation:
        found = video.rotation if video else None
        raise RuntimeError(f"asked for a {rotation}° rotation but {path.name} reads as {found}°")
    return path


def make_audio_only(path: Path, *, seconds: float, ffmpeg: str = "ffmpeg") -> Path:
    """Write an AAC sine tone in an MP4 container with no video stream.

    Args:
        path: Where to write the file.
        seconds: Its duration.
        ffmpeg: The ffmpeg executable.

    Returns:
        ``path``.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    _run(
        [
            *_quiet(ffmpeg),
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=44100:duration={seconds:g}",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            media_url(path),
        ]
    )
    return path


def make_mp3_with_cover(path: Path, *, seconds: float, ffmpeg: str = "ffmpeg") -> Path:
    """Write an MP3 tone carrying a JPEG cover (an ``attached_pic`` video stream).

    Args:
        path: Where to write the file.
        seconds: Its duration.
        ffmpeg: The ffmpeg executable.

    Returns:
        ``path``.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    _run(
        [
            *_quiet(ffmpeg),
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=44100:duration={seconds:g}",
            "-f",
            "lavfi",
            # A bounded source: an endless one keeps ffmpeg reading after the one frame.
            "-i",
            "testsrc2=size=160x160:rate=1:duration=1",
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-frames:v",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-c:v",
            "mjpeg",
            "-disposition:v:0",
            "attached_pic",
            "-id3v2_version",
            "3",
            "-f",
            "mp3",
            media_url(path),
        ]
    )
    return path


def truncate(src: Path, dst: Path, *, keep_fraction: float) -> Path:
    """Copy the first ``keep_fraction`` of ``src``'s bytes to ``dst``.

    Applied to a faststart MP4 this mimics an interrupted upload: the moov
    atom still declares the full duration while the media data stops short.

    Args:
        src: The file to copy.
        dst: Where to write the truncated copy.
        keep_fraction: The share of bytes kept, strictly between 0 and 1.

    Returns:
        ``dst``.

    Raises:
        ValueError: ``keep_fraction`` is out of range.
    """
    if not 0 < keep_fraction < 1:
        raise ValueError(f"keep_fraction must be between 0 and 1, not {keep_fraction}")
    remaining = int(src.stat().st_size * keep_fraction)
    with src.open("rb") as reader, dst.open("wb") as writer:
        while remaining > 0:
            chunk = reader.read(min(remaining, 1 << 20))
            if not chunk:
                break
            writer.write(chunk)
            remaining -= len(chunk)
    return dst


def _rate(fps: float) -> str:
    if fps <= 0:
        raise ValueError(f"fps must be positive, not {fps}")
    # A rational keeps float noise (29.970029970029973) out of the filter string.
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def _quiet(ffmpeg: str) -> list[str]:
    """The start of every sample command: quiet, never reading stdin, overwriting the output."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _run(cmd: Sequence[str]) -> None:
    proc = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail)}")
