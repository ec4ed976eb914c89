"""Peak RSS of a child process that ingests and validates one big upload, against a child that only builds services."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import MIB, ROOT, Sizes, alternating, log, median, random_file, ratio
from bench.report import Result
from cli import demo_evidence as ev

NAME = "ingest_rss"
TARGET_MB = 300.0


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
    upload = random_file(sizes.ingest_bytes)
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
        f"ru_maxrss of a child ingesting one {upload.stat().st_size / MIB:,.0f} MiB random upload (udl-level-1, "
        f"classroom_video) then validating it; difference subject - baseline = "
        f"{result.subject - result.baseline:+.1f} MB; peak after submit alone {median(after_submit):.0f} MB"
    )
    result.notes.append(
        f"last subject child: submit {last['submit_s']:.1f} s, validation {last['validate_s']:.1f} s, "
        f"state {last['state']} ({', '.join(last['problems']) or 'no problems'})"
    )
    return result
