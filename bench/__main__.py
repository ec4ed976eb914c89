"""Run credflow's benchmarks, print the results table and write it to ``bench-out/results.json``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Protocol

from bench import (
    credentials,
    flow,
    hashing,
    ingest,
    resumable,
    solver,
    submission,
    throughput,
    transcode,
    upload_rss,
)
from bench.common import FULL, OUT, QUICK, Sizes, log
from bench.report import Result, table, write_json


class Benchmark(Protocol):
    """What each benchmark module provides."""

    def empty(self) -> Result: ...

    def run(self, sizes: Sizes, workdir: Path) -> Result | list[Result]: ...


# The flow benchmark runs late: it leaves Prefect's ephemeral server running until the process exits,
# and throughput, after it, reuses that server (alone, it starts its own the same way).
BENCHMARKS: dict[str, Benchmark] = {
    "transcode": transcode,
    "sha256": hashing,
    "ingest": ingest,
    "upload_rss": upload_rss,
    "resumable": resumable,
    "solver": solver,
    "badges": credentials,
    "submission": submission,
    "flow": flow,
    "throughput": throughput,
}


def _ffmpeg_version() -> str:
    try:
        proc = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return proc.stdout.splitlines()[0] if proc.stdout else "unknown"


def _run_one(name: str, sizes: Sizes, workroot: Path) -> list[Result]:
    workdir = workroot / name
    workdir.mkdir(parents=True)
    start = time.perf_counter()
    try:
        outcome = BENCHMARKS[name].run(sizes, workdir)
        results = outcome if isinstance(outcome, list) else [outcome]
    except Exception as exc:  # one broken benchmark must not hide the others
        traceback.print_exc()
        result = BENCHMARKS[name].empty()
        result.error = f"{type(exc).__name__}: {exc}"
        results = [result]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - start
    for result in results:  # a benchmark with several rows: each carries the whole benchmark's time
        result.details["elapsed_s"] = elapsed
    log(name, f"done in {elapsed:.1f} s")
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); exit 1 only when one of them crashed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shrink every size so the whole run takes about a minute")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=OUT / "results.json", help="where to write the JSON results")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]

    OUT.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    start = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(dir=OUT, prefix="run-") as tmp:
        for name in chosen:
            log(name, "starting")
            results.extend(_run_one(name, sizes, Path(tmp)))
    elapsed = time.perf_counter() - start
    results.sort(key=lambda r: r.title)

    print()
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"credflow benchmarks ({'quick' if sizes.quick else 'full'} run, {elapsed / 60:.1f} min, load {load})")
    print(table(results))
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": elapsed,
        "mode": "quick" if sizes.quick else "full",
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "ffmpeg": _ffmpeg_version(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    }
    write_json(args.out, results, meta)
    print(f"\nresults written to {args.out}")
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
