"""Peak RSS of a child process that ingests and validates one big upload, against a child that only builds services."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.common import INPUTS, MIB, ROOT, Sizes, alternating, log, median, ratio
from bench.report import Result
from cli import demo_evidence as ev
from credflow.media.probe import probe
from credflow.media.samples import make_video
from credflow.settings import load_settings

NAME = "ingest_rss"
TARGET_MB = 300.0
# Inside udl-level-1's classroom_video range (60 s to 15 min), so validation accepts the clip.
CLIP_SECONDS = 75


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level ISO-BMFF boxes of ``data`` as (type, offset, size); 32-bit sizes only."""
    boxes: list[tuple[bytes, int, int]] = []
    position = 0
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        if size < 8:
            raise ValueError(f"unexpected box size {size} for {kind!r} at {position}")
        boxes.append((kind, position, size))
        position += size
    return boxes


def padded_mp4(size: int, *, ffmpeg: str, ffprobe: str) -> Path:
    """A playable MP4 of exactly ``size`` bytes under ``bench-out/inputs``, written once and reused.

    A short clip is written with its ``moov`` last (no faststart); its ``mdat`` is then grown
    with random bytes after the real samples. The samples keep their file offsets, so the
    index still points at them and the file probes, validates and plays like the clip.
    """
    path = INPUTS / f"padded-{size // MIB}MiB-{CLIP_SECONDS}s.mp4"
    if path.is_file() and path.stat().st_size == size:
        return path
    INPUTS.mkdir(parents=True, exist_ok=True)
    clip = INPUTS / f".clip-{uuid.uuid4().hex[:8]}.mp4"
    partial = path.with_name(f".{path.name}.part")
    try:
        make_video(clip, seconds=CLIP_SECONDS, width=320, height=240, fps=15, faststart=False, ffmpeg=ffmpeg)
        data = clip.read_bytes()
        boxes = _boxes(data)
        kinds = [kind for kind, _, _ in boxes]
        if b"mdat" not in kinds or b"moov" not in kinds or kinds.index(b"mdat") > kinds.index(b"moov"):
            raise RuntimeError(f"expected mdat before moov in the sample clip, found {kinds}")
        _, mdat_at, mdat_size = boxes[kinds.index(b"mdat")]
        padding = size - len(data)
        if padding < 0 or mdat_size + padding >= 1 << 32:
            raise ValueError(f"cannot pad a {len(data)}-byte clip to {size} bytes with a 32-bit mdat")
        with partial.open("wb") as out:
            out.write(data[:mdat_at])
            out.write(struct.pack(">I4s", mdat_size + padding, b"mdat"))
            out.write(data[mdat_at + 8 : mdat_at + mdat_size])
            while padding > 0:
                chunk = os.urandom(min(padding, 8 * MIB))
                out.write(chunk)
                padding -= len(chunk)
            out.write(data[mdat_at + mdat_size :])
            out.flush()
            os.fsync(out.fileno())
        found = probe(partial, ffprobe=ffprobe)
        if found.video is None or found.duration < CLIP_SECONDS - 1:
            raise RuntimeError(f"the padded clip does not probe as a {CLIP_SECONDS} s video: {found}")
        partial.replace(path)
    finally:
        clip.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return path


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="4. peak RSS ingesting a big upload",
        unit="MB",
        baseline_label="build services",
        subject_label="submit+validate",
        target=f"subject < {TARGET_MB:.0f} MB",
    )


def _child(mode: str, *, data_dir: Path, upload: Path, pdf: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.ingest_child", "--mode", mode]
    command += ["--data-dir", str(data_dir), "--file", str(upload), "--pdf", str(pdf)]
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{mode} child failed ({proc.returncode}): {tail}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def run(sizes: Sizes, workdir: Path) -> Result:
    """Run the baseline and subject children ``sizes.ingest_reps`` times each, alternating."""
    result = empty()
    settings = load_settings()
    upload = padded_mp4(sizes.ingest_bytes, ffmpeg=settings.ffmpeg_path, ffprobe=settings.ffprobe_path)
    pdf = ev.pdf(workdir / "udl-plan.pdf", "UDL lesson plan - options for engagement and expression")
    base: list[float] = []
    subj: list[float] = []
    after_submit: list[float] = []
    runs: list[dict[str, Any]] = []
    for rep, baseline_first in alternating(sizes.ingest_reps):
        for mode in ("baseline", "subject") if baseline_first else ("subject", "baseline"):
            data = _child(mode, data_dir=workdir / f"{mode}-{rep}", upload=upload, pdf=pdf)
            runs.append(data)
            (base if mode == "baseline" else subj).append(data["maxrss_kb"] / 1024)
            if mode == "subject":
                after_submit.append(data["maxrss_kb_submit"] / 1024)
        log(NAME, f"rep {rep + 1}/{sizes.ingest_reps}: baseline {base[-1]:.0f} MB, subject {subj[-1]:.0f} MB")

    result.baseline, result.subject = median(base), median(subj)
    result.ratio = ratio(result.subject, result.baseline)
    result.passed = result.subject < TARGET_MB
    last = next(run for run in reversed(runs) if run["mode"] == "subject")
    result.samples = {"baseline_mb": base, "subject_mb": subj, "subject_after_submit_mb": after_submit}
    result.details = {
        "upload_bytes": upload.stat().st_size,
        "difference_mb": result.subject - result.baseline,
        "subject_after_submit_mb": median(after_submit),
        "submit_s": last["submit_s"],
        "validate_s": last["validate_s"],
        "state": last["state"],
        "problems": last["problems"],
        "runs": runs,
    }
    result.notes.append(
        f"ru_maxrss of a child ingesting one {upload.stat().st_size / MIB:,.0f} MiB MP4 ({CLIP_SECONDS} s clip whose "
        "mdat is padded with random bytes; udl-level-1 classroom_video) then validating it; "
        f"difference subject - baseline = {result.subject - result.baseline:+.1f} MB; "
        f"peak after submit alone {median(after_submit):.0f} MB"
    )
    result.notes.append(
        f"last subject child: submit {last['submit_s']:.1f} s, validation {last['validate_s']:.1f} s, "
        f"state {last['state']} ({', '.join(last['problems']) or 'no problems'}); "
        "ffprobe's own memory (a separate process) is not counted"
    )
    return result
