"""Transcode evidence video into a web-safe review MP4 and extract its poster frame."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import IO

import ffmpeg as ffmpeg_lib

from credflow.media.base import MediaProbe, ProbeError, TranscodeError, TranscodeInterrupted, TranscodeResult
from credflow.media.probe import (
    FORMAT_WHITELIST,
    PROTOCOL_WHITELIST,
    ffmpeg_reason,
    media_url,
    signal_name,
)
from credflow.media.probe import probe as probe_media

MAX_SHORT_SIDE = 720
MAX_FPS = 30
# The output may end this much earlier than the input declares before it is
# treated as truncated (encoder delay and audio padding shift ends slightly).
DURATION_TOLERANCE = 0.02
# Minimum seconds between two on_progress calls.
PROGRESS_INTERVAL = 1.0
STDERR_LINES = 50
POSTER_TIMEOUT = 120.0

# Messages that mean the machine, not the input, failed: worth retrying.
_RESOURCE_ERRORS = ("No space left on device", "Cannot allocate memory", "ENOMEM", "ENOSPC")

# Scale factor that brings the short side down to MAX_SHORT_SIDE, never up.
_FACTOR = f"min(1,{MAX_SHORT_SIDE}/min(iw,ih))"
# Evaluated after autorotation, so they work on the displayed orientation;
# each side is rounded down to even because 4:2:0 chroma needs it.
_WIDTH = f"trunc(iw*{_FACTOR}/2)*2"
_HEIGHT = f"trunc(ih*{_FACTOR}/2)*2"


def build_command(
    src: Path,
    dst: Path,
    *,
    probe: MediaProbe,
    ffmpeg: str = "ffmpeg",
    progress: bool = True,
) -> list[str]:
    """Build the ffmpeg command that turns ``src`` into the review MP4 ``dst``.

    The output is H.264 (veryfast, CRF 23, capped at 3 Mbit/s) in yuv420p with
    AAC 128k audio when the input has audio, and ``+faststart`` so browsers can
    play it while downloading. ffmpeg's default autorotation turns the picture
    upright and drops the rotation metadata; the short side is then scaled down
    to at most 720 (never up), the frame rate made constant at min(source, 30),
    and HDR (PQ or HLG) tone-mapped to BT.709 SDR. Only the first real video
    stream and the first audio stream are kept: no cover art, subtitles, data,
    chapters or metadata (phone clips carry GPS positions).

    Args:
        src: The input file.
        dst: Where ffmpeg writes the MP4 (the muxer is forced, so any name works).
        probe: What :func:`credflow.media.probe.probe` reported for ``src``.
        ffmpeg: The ffmpeg executable.
        progress: Report ``-progress`` key=value lines on stdout.

    Returns:
        The argument vector, executable first.

    Raises:
        TranscodeError: The input has no video stream.
    """
    video_info = probe.video
    if video_info is None:
        raise TranscodeError(f"{src.name} has no video stream to transcode")

    source = ffmpeg_lib.input(
        media_url(src),
        protocol_whitelist=PROTOCOL_WHITELIST,
        format_whitelist=FORMAT_WHITELIST,
    )
    # "V" (capital) skips attached pictures, so cover art is never picked.
    video = source["V:0"].filter("fps", fps=_output_rate(video_info.fps))
    hdr = video_info.is_hdr
    if hdr:
        # Scale in the first zscale so the float tone-mapping runs on the small
        # picture. The input is named explicitly in case a muxer lost the tags;
        # HDR10 and HLG are BT.2020 by definition.
        video = video.filter(
            "zscale",
            w=_WIDTH,
            h=_HEIGHT,
            tin=video_info.color_transfer,
            pin="bt2020",
            min="bt2020nc",
            t="linear",
            npl=100,
        )
        video = video.filter("format", "gbrpf32le")
        video = video.filter("zscale", p="bt709")
        video = video.filter("tonemap", tonemap="hable", desat=0)
        video = video.filter("zscale", t="bt709", m="bt709", r="tv")
    else:
        video = video.filter("scale", w=_WIDTH, h=_HEIGHT)
    video = video.filter("format", "yuv420p")

    streams = [video]
    options: dict[str, object] = {
        "format": "mp4",
        "c:v": "libx264",
        "preset": "veryfast",
        "crf": 23,
        "maxrate": "3M",
        "bufsize": "6M",
        "pix_fmt": "yuv420p",
        "fps_mode:v": "cfr",
        "movflags": "+faststart",
        "map_metadata": -1,
        "map_chapters": -1,
    }
    if hdr:
        options.update({"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709", "color_range": "tv"})
    if probe.audio_codec is not None:
        streams.append(source["a:0"])
        options.update({"c:a": "aac", "b:a": "128k"})
    else:
        options["an"] = None

    global_args = ["-hide_banner", "-nostdin", "-loglevel", "error"]
    if progress:
        global_args += ["-progress", "pipe:1", "-nostats"]
    command = (
        ffmpeg_lib.output(*streams, media_url(dst), **options)
        .global_args(*global_args)
        .overwrite_output()
        .compile(cmd=ffmpeg)
    )
    return [str(arg) for arg in command]


def transcode(
    src: Path,
    dst: Path,
    *,
    probe: MediaProbe,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    on_progress: Callable[[float], None] | None = None,
) -> TranscodeResult:
    """Transcode ``src`` into the review MP4 ``dst`` (see :func:`build_command`).

    ffmpeg writes a temporary file next to ``dst``; it is re-probed and moved
    into place only when it holds H.264 video (and audio, if the input had
    some) lasting as long as the input declares. ffmpeg exits 0 on a truncated
    faststart MP4, whose header promises more than its data holds, so the
    duration check is what catches a cut-off upload.

    Args:
        src: The input file.
        dst: The final output path; replaced atomically on success.
        probe: What :func:`credflow.media.probe.probe` reported for ``src``.
        ffmpeg: The ffmpeg executable.
        ffprobe: The ffprobe executable, for the verification.
        on_progress: Called with a growing fraction in [0, 1) at most once
            per :data:`PROGRESS_INTERVAL` seconds, then with 1.0 once ``dst``
            is in place.

    Returns:
        The verified output's duration, displayed size, frame rate and codecs.

    Raises:
        TranscodeError: The input is corrupt, truncated or has no video;
            retrying will not help. Nothing is left at ``dst``.
        TranscodeInterrupted: ffmpeg was killed, or the disk or memory ran
            out; the same input may succeed later.
    """
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        command = build_command(src, tmp, probe=probe, ffmpeg=ffmpeg, progress=True)
        _run_ffmpeg(command, ffmpeg=ffmpeg, duration=probe.duration, on_progress=on_progress)
        result = _verify(tmp, probe=probe, ffprobe=ffprobe)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    if on_progress is not None:
        on_progress(1.0)
    return result


def make_poster(video: Path, poster: Path, *, duration: float, ffmpeg: str = "ffmpeg") -> None:
    """Write one JPEG frame of ``video`` to ``poster``, atomically.

    The frame is taken at min(1 s, duration / 2): far enough in to skip a
    black first frame, and inside even a very short clip. Pass the review
    MP4, not the upload, so the poster shows the upright, tone-mapped picture.

    Args:
        video: The transcoded review MP4.
        poster: Where the JPEG goes; replaced atomically.
        duration: The video's duration in seconds.
        ffmpeg: The ffmpeg executable.

    Raises:
        TranscodeError: No frame could be extracted.
        TranscodeInterrupted: ffmpeg was killed, timed out or ran out of a resource.
    """
    at = min(1.0, duration / 2) if duration > 0 else 0.0
    tmp = poster.with_name(f".{poster.name}.{uuid.uuid4().hex[:12]}.part")
    command = [
        str(arg)
        for arg in ffmpeg_lib.input(
            media_url(video),
            ss=f"{at:.3f}",
            protocol_whitelist=PROTOCOL_WHITELIST,
            format_whitelist=FORMAT_WHITELIST,
        )
        .output(media_url(tmp), format="image2", update=1, **{"frames:v": 1, "c:v": "mjpeg", "q:v": 3})
        .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg)
    ]
    try:
        try:
            proc = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, timeout=POSTER_TIMEOUT, check=False
            )
        except FileNotFoundError as exc:
            raise TranscodeError(f"ffmpeg executable not found: {ffmpeg!r}") from exc
        except subprocess.TimeoutExpired as exc:
            raise TranscodeInterrupted(f"poster extraction timed out after {POSTER_TIMEOUT:g} s") from exc
        except OSError as exc:
            raise TranscodeInterrupted(f"could not start ffmpeg: {exc}") from exc
        _raise_for_exit(proc.returncode, proc.stderr.decode("utf-8", "replace").splitlines())
        if not _is_jpeg(tmp):
            raise TranscodeError(f"no frame could be extracted from {video.name} at {at:.2f} s")
        tmp.replace(poster)
    finally:
        tmp.unlink(missing_ok=True)


def _output_rate(source_fps: float) -> str:
    # An unknown rate (0) gets the cap; otherwise never raise the rate, which
    # would only duplicate frames.
    fps = Fraction(min(source_fps, MAX_FPS) if source_fps > 0 else MAX_FPS)
    rate = fps.limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def _run_ffmpeg(
    command: list[str],
    *,
    ffmpeg: str,
    duration: float,
    on_progress: Callable[[float], None] | None,
) -> None:
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise TranscodeError(f"ffmpeg executable not found: {ffmpeg!r}") from exc
    except OSError as exc:
        # EAGAIN/ENOMEM from fork: the machine is busy, the input may be fine.
        raise TranscodeInterrupted(f"could not start ffmpeg: {exc}") from exc

    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_LINES)
    # stderr drains on its own thread: if it filled its pipe while we block
    # on stdout, ffmpeg and this process would wait on each other forever.
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail), name="ffmpeg-stderr", daemon=True)
    reader.start()
    try:
        _follow_progress(proc.stdout, duration=duration, on_progress=on_progress)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
    _raise_for_exit(returncode, list(tail))


def _drain(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))
    stream.close()


def _follow_progress(
    stdout: Iterable[str],
    *,
    duration: float,
    on_progress: Callable[[float], None] | None,
) -> None:
    """Read ``-progress`` blocks until ffmpeg closes stdout, reporting fractions."""
    out_time_us: int | None = None
    last_fraction = 0.0
    last_report = float("-inf")
    for line in stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us":
            with contextlib.suppress(ValueError):  # "N/A" before the first frame
                out_time_us = int(value)
        elif key == "progress" and on_progress is not None and duration > 0 and out_time_us is not None:
            # 1.0 is kept for the end, after the output has been verified.
            fraction = min(max(out_time_us / (duration * 1e6), 0.0), 0.99)
            now = time.monotonic()
            if fraction > last_fraction and now - last_report >= PROGRESS_INTERVAL:
                on_progress(fraction)
                last_fraction, last_report = fraction, now


def _raise_for_exit(returncode: int, stderr_lines: list[str]) -> None:
    if returncode == 0:
        return
    if returncode < 0:
        raise TranscodeInterrupted(f"ffmpeg was killed by {signal_name(-returncode)}")
    stderr = "\n".join(stderr_lines)
    for marker in _RESOURCE_ERRORS:
        if marker in stderr:
            raise TranscodeInterrupted(f"ffmpeg ran out of resources: {ffmpeg_reason(stderr, lines=1)}")
    raise TranscodeError(f"ffmpeg failed (exit {returncode}): {ffmpeg_reason(stderr, lines=1)}")


def _verify(output: Path, *, probe: MediaProbe, ffprobe: str) -> TranscodeResult:
    try:
        out = probe_media(output, ffprobe=ffprobe)
    except ProbeError as exc:
        raise TranscodeError(f"the transcoded output is unreadable: {exc}") from exc
    if out.video is None or out.video.codec != "h264":
        found = out.video.codec if out.video else "no video"
        raise TranscodeError(f"the transcoded output has {found} instead of H.264 video")
    if probe.audio_codec is not None and out.audio_codec is None:
        raise TranscodeError("the transcoded output lost the audio track: the input audio is corrupt")
    if probe.duration > 0 and out.duration < probe.duration * (1 - DURATION_TOLERANCE):
        raise TranscodeError(
            f"output lasts {out.duration:.1f} s but the input declares {probe.duration:.1f} s: "
            "the file is truncated or corrupt"
        )
    width, height = out.video.display_size
    return TranscodeResult(
        duration=out.duration,
        width=width,
        height=height,
        fps=out.video.fps,
        video_codec=out.video.codec,
        audio_codec=out.audio_codec,
    )


def _is_jpeg(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False
