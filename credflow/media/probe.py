"""Read a media file's container, streams, rotation and duration with ffprobe."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from credflow.errors import TransientError
from credflow.media.base import MediaProbe, ProbeError, VideoStream

# Demuxer names accepted for uploads. Playlists (hls, concat, ...), image
# sequences and raw streams are absent on purpose: those demuxers open other
# files or URLs named inside the upload. ffmpeg matches this list against the
# comma-separated aliases of the detected demuxer, so "mov" admits the whole
# "mov,mp4,m4a,3gp,3g2,mj2" family.
INPUT_FORMATS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "asf",
    "mp3",
    "aac",
    "wav",
    "ogg",
    "flac",
)
FORMAT_WHITELIST = ",".join(INPUT_FORMATS)
PROTOCOL_WHITELIST = "file"

_LOG_PREFIX = re.compile(r"^\[[^\]]* @ (?:0x)?[0-9a-fA-F]+\]\s*")
_NOT_WHITELISTED = re.compile(r"^\[(?P<fmt>[^\] @]+) @ [^\]]*\]\s*Format not on whitelist")
_MAX_REASON = 300
# Generic closing lines that say nothing about the cause.
_TRAILERS = frozenset({"Conversion failed!", "Exiting normally, received signal 2."})


def media_url(path: Path) -> str:
    """Return ``path`` as an ffmpeg URL that can only mean a local file.

    The explicit ``file:`` protocol keeps a name such as ``-i.mp4`` or
    ``http:x.mp4`` from being read as an option or another protocol.
    """
    return f"file:{path.absolute()}"


def probe(path: Path, *, ffprobe: str = "ffprobe", timeout: float = 120) -> MediaProbe:
    """Describe a media file as ffprobe sees it.

    Only local files in the containers of :data:`INPUT_FORMATS` are opened, so
    a playlist or anything else that refers to further files or URLs is refused.

    Rotation convention: ``VideoStream.rotation`` is the angle in degrees,
    clockwise, by which the coded picture must be turned to be shown upright
    (a phone held upright records landscape-coded frames with rotation 90).
    This is the opposite sign of ffprobe's display-matrix ``rotation`` (which
    is counter-clockwise) and the same sign as the legacy ``rotate`` tag.

    Args:
        path: The file to read.
        ffprobe: The ffprobe executable.
        timeout: Seconds after which ffprobe is killed.

    Returns:
        The container, duration, size, first real video stream, cover-art
        presence and first audio codec.

    Raises:
        ProbeError: The file is not readable media, holds neither audio nor
            video, or ffprobe is missing.
        TransientError: ffprobe timed out or was killed by a signal.
    """
    cmd = [
        ffprobe,
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        PROTOCOL_WHITELIST,
        "-format_whitelist",
        FORMAT_WHITELIST,
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        media_url(path),
    ]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ProbeError(f"ffprobe executable not found: {ffprobe!r}") from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"ffprobe timed out after {timeout:g} s reading {path.name}") from exc
    except OSError as exc:
        # Typically EAGAIN/ENOMEM from fork: the machine is busy, not the file bad.
        raise TransientError(f"could not start ffprobe: {exc}") from exc

    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode < 0:
        raise TransientError(f"ffprobe was killed by {signal_name(-proc.returncode)} reading {path.name}")
    if proc.returncode != 0:
        raise ProbeError(f"cannot read {path.name} as media: {ffmpeg_reason(stderr, path)}")
    try:
        data = json.loads(proc.stdout)
    except ValueError as exc:
        raise ProbeError(f"cannot read {path.name} as media: ffprobe printed no valid JSON") from exc
    if not isinstance(data, dict):
        raise ProbeError(f"cannot read {path.name} as media: ffprobe printed no valid JSON")

    result = _from_ffprobe(data, path)
    if result.video is None and result.audio_codec is None:
        raise ProbeError(f"cannot read {path.name} as media: it holds neither video nor audio")
    return result


def signal_name(number: int) -> str:
    """Return a signal's name (``SIGKILL``) or ``signal N`` when unknown."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def ffmpeg_reason(stderr: str, path: Path | None = None, *, lines: int = 2) -> str:
    """Condense ffmpeg/ffprobe error output into a short human reason.

    Log prefixes (``[mov,mp4,... @ 0x55d...]``) and the input's own URL are
    dropped, generic trailers are skipped, and the last ``lines`` distinct
    messages are kept in the order they were printed.

    Args:
        stderr: The tool's stderr text.
        path: The input, whose URL prefixes some messages.
        lines: How many distinct messages to keep.

    Returns:
        A one-line reason, at most a few hundred characters.
    """
    raw = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in raw:
        match = _NOT_WHITELISTED.match(line)
        if match:
            return (
                f"the {match['fmt']} format is not accepted "
                "(only single-file audio/video containers are; playlists are refused)"
            )

    prefixes = [media_url(path) + ": ", str(path) + ": "] if path is not None else []
    messages: list[str] = []
    for line in raw:
        text = _LOG_PREFIX.sub("", line)
        for prefix in prefixes:
            text = text.removeprefix(prefix)
        if not text or text in _TRAILERS or text in messages:
            continue
        messages.append(text)
    if not messages:
        return "unknown error (no diagnostic output)"
    return "; ".join(messages[-lines:])[:_MAX_REASON]


def _from_ffprobe(data: dict[str, Any], path: Path) -> MediaProbe:
    fmt = data.get("format") or {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]

    video: VideoStream | None = None
    has_cover_art = False
    audio_codec: str | None = None
    video_duration = 0.0
    for stream in streams:
        kind = stream.get("codec_type")
        if kind == "video":
            if (stream.get("disposition") or {}).get("attached_pic") == 1:
                has_cover_art = True
            elif video is None:
                video = _video_stream(stream)
                video_duration = _seconds(stream.get("duration"))
        elif kind == "audio" and audio_codec is None:
            audio_codec = _text(stream.get("codec_name")) or "unknown"

    duration = _seconds(fmt.get("duration")) or video_duration
    if not duration:
        duration = max((_seconds(s.get("duration")) for s in streams), default=0.0)

    try:
        size = int(fmt["size"])
    except (KeyError, TypeError, ValueError):
        size = path.stat().st_size if path.exists() else 0

    return MediaProbe(
        format_name=_text(fmt.get("format_name")) or "unknown",
        duration=duration,
        size=size,
        video=video,
        has_cover_art=has_cover_art,
        audio_codec=audio_codec,
    )


def _video_stream(stream: dict[str, Any]) -> VideoStream:
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    return VideoStream(
        codec=_text(stream.get("codec_name")) or "unknown",
        width=_int(stream.get("width")),
        height=_int(stream.get("height")),
        rotation=_rotation(stream),
        fps=fps,
        pix_fmt=_text(stream.get("pix_fmt")),
        color_transfer=_text(stream.get("color_transfer")),
    )


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise display rotation, from the display matrix or the legacy tag."""
    for side_data in stream.get("side_data_list") or []:
        if isinstance(side_data, dict) and "rotation" in side_data:
            try:
                # ffprobe reports the matrix angle counter-clockwise.
                return _right_angle(-float(side_data["rotation"]))
            except (TypeError, ValueError):
                break
    tag = (stream.get("tags") or {}).get("rotate")
    if tag is not None:
        try:
            return _right_angle(float(tag))
        except (TypeError, ValueError):
            return 0
    return 0


def _right_angle(degrees: float) -> int:
    # ffmpeg's autorotation only acts within a degree of a right angle and
    # leaves other angles alone; report what the transcode will actually do.
    if not math.isfinite(degrees):
        return 0
    nearest = round(degrees / 90) * 90
    if abs(degrees - nearest) >= 1.0:
        return 0
    return int(nearest) % 360


def _rate(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(rate) if rate > 0 else 0.0


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or value in {"", "unknown", "unspecified", "reserved"}:
        return None
    return value
