"""Ingest benchmark child: build services, maybe ingest and validate one big upload, print peak RSS as JSON."""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from bench.common import make_services
from cli import demo_evidence as ev
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.validation.stage import run_validation

CREDENTIAL = "udl-level-1"
VIDEO_KEY = "classroom_video"


def _maxrss_kb() -> int:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    """Parse the arguments, do the work of the chosen mode and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("baseline", "subject"), required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--pdf", type=Path, required=True)
    args = parser.parse_args()

    size = args.file.stat().st_size
    services = make_services(args.data_dir, ingest_max_bytes=max(8 << 30, 2 * size))
    report: dict[str, object] = {"mode": args.mode, "maxrss_kb_built": _maxrss_kb()}
    if args.mode == "subject":
        with args.file.open("rb") as video, args.pdf.open("rb") as plan:
            request = IntakeRequest(
                applicant=ApplicantInfo("Bench Ingest", "bench.ingest@example.org", "Bench District"),
                credential_id=CREDENTIAL,
                answers={"learner_variability": ev.words(200), "reflection": ev.words(300, seed=2)},
                uploads=[
                    Upload("udl_lesson_plan", "udl-plan.pdf", plan),
                    Upload(VIDEO_KEY, "classroom.mp4", video),
                ],
            )
            start = time.perf_counter()
            intake = submit(services, request)
        report["submit_s"] = time.perf_counter() - start
        report["maxrss_kb_submit"] = _maxrss_kb()
        start = time.perf_counter()
        outcome = run_validation(services, intake.submission_id)
        report["validate_s"] = time.perf_counter() - start
        report["state"] = outcome.state.value
        report["problems"] = [p.code for p in outcome.problems]
    services.close()
    report["maxrss_kb"] = _maxrss_kb()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
