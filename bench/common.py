"""Shared helpers of the benchmarks: sizes, paths, timing, statistics and services on temporary folders."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from credflow.services import Services, build_services
from credflow.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
INPUTS = OUT / "inputs"
MIB = 1 << 20
GIB = 1 << 30

T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    """How big every benchmark is: the full run, or ``--quick`` for development."""

    quick: bool
    clip_seconds: float
    clip_width: int
    clip_height: int
    clip_fps: int
    transcode_min_pairs: int
    transcode_max_pairs: int
    transcode_budget_s: float  # time for the timed baseline/subject pairs, the first pair included
    submissions: int
    hash_bytes: int
    hash_reps: int
    ingest_bytes: int
    ingest_reps: int
    throughput_nonvideo: int  # submissions per side of each throughput comparison (the cluster's cohort too)
    throughput_video: int  # video submissions per side, embedded set-up
    throughput_cluster_video: int  # the cluster's video cohort; 0 skips it


FULL = Sizes(
    quick=False,
    clip_seconds=60,
    clip_width=1920,
    clip_height=1080,
    clip_fps=30,
    transcode_min_pairs=3,
    transcode_max_pairs=6,
    transcode_budget_s=330,
    submissions=20,
    hash_bytes=GIB,
    hash_reps=3,
    ingest_bytes=2 * GIB,
    ingest_reps=3,
    throughput_nonvideo=12,
    throughput_video=6,
    throughput_cluster_video=6,
)

QUICK = Sizes(
    quick=True,
    clip_seconds=5,
    clip_width=1920,
    clip_height=1080,
    clip_fps=30,
    transcode_min_pairs=2,
    transcode_max_pairs=2,
    transcode_budget_s=30,
    submissions=3,
    hash_bytes=64 * MIB,
    hash_reps=2,
    ingest_bytes=64 * MIB,
    ingest_reps=1,
    throughput_nonvideo=3,
    throughput_video=2,
    throughput_cluster_video=0,
)


def log(bench: str, message: str) -> None:
    """Print one progress line, flushed so a long run shows where it is."""
    print(f"[{bench}] {message}", file=sys.stdout, flush=True)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Run ``fn`` and return its wall-clock seconds and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Run ``fn``; return its wall-clock seconds, the CPU seconds of this process and its waited-for children.

    CPU time hardly moves when other work shares the machine, so it backs up a noisy wall-clock ratio.
    """
    cpu = _cpu_seconds()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, _cpu_seconds() - cpu, result


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sample."""
    return float(statistics.median(values))


def ratio(subject: float, baseline: float) -> float:
    """``subject / baseline``; infinity when the baseline is zero."""
    return subject / baseline if baseline > 0 else float("inf")


def alternating(reps: int) -> list[tuple[int, bool]]:
    """Repetition numbers with which side goes first: baseline first, then subject first (ABBA)."""
    return [(rep, rep % 2 == 0) for rep in range(reps)]


def make_services(data_dir: Path, **overrides: object) -> Services:
    """Services on SQLite, a local store and an outbox under ``data_dir``, whatever ``CREDFLOW_*`` says."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": None,
        "storage_dir": None,
        "outbox_dir": None,
        "storage_backend": "local",
        "mail_backend": "outbox",
        "catalog_dir": ROOT / "rubrics",
    }
    values.update(overrides)
    return build_services(load_settings(**values))


def random_file(size: int) -> Path:
    """A file of ``size`` random bytes under ``bench-out/inputs``, written once and reused by later runs."""
    path = INPUTS / f"random-{size // MIB}MiB.bin"
    if path.is_file() and path.stat().st_size == size:
        return path
    INPUTS.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with partial.open("wb") as out:
        remaining = size
        while remaining > 0:
            chunk = os.urandom(min(remaining, 8 * MIB))
            out.write(chunk)
            remaining -= len(chunk)
        # On disk before any timing starts: pending writeback would slow the first measured writes.
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return path
