"""A whole non-video submission through the Prefect flow versus the same domain calls made directly."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import OUT, Sizes, alternating, log, make_services, median, ratio
from bench.report import Result
from cli import demo_evidence as ev
from cli.offline import apply_offline_defaults
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.notifications.rules import Notice
from credflow.notifications.stage import send_notice
from credflow.services import Services
from credflow.validation.stage import run_validation

NAME = "flow"
CREDENTIAL = "openscied-anchoring-phenomenon"
# Settings that would send the runs to a server or change the heartbeat; the benchmark wants neither.
_UNSET = ("PREFECT_API_URL", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="2. non-video submission: flow vs direct",
        unit="ms",
        baseline_label="direct calls",
        subject_label="Prefect flow",
    )


def prepare_prefect(home: Path) -> None:
    """Point Prefect at an ephemeral server whose database lives under ``home``; call before importing prefect.

    Heartbeats cannot be turned off from the environment (pydantic refuses an empty or
    ``None`` value for ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``), so the variable is only
    unset here and the run sets it to None with ``temporary_settings``.
    """
    if "prefect" in sys.modules:
        raise RuntimeError("prefect was imported before the flow benchmark could set PREFECT_HOME")
    apply_offline_defaults()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    for name in _UNSET:
        os.environ.pop(name, None)


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 (Prefect's console logs, the server's output) to ``path`` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _request(tag: str, index: int, pdf: bytes) -> IntakeRequest:
    return IntakeRequest(
        applicant=ApplicantInfo(f"Bench {tag.title()} {index}", f"bench.{tag}.{index}@example.org", "Bench District"),
        credential_id=CREDENTIAL,
        answers={"routine_purpose": ev.words(200), "reflection": ev.words(300, seed=2)},
        uploads=[Upload("facilitation_plan", "plan.pdf", io.BytesIO(pdf))],
    )


def _direct(services: Services, request: IntakeRequest) -> tuple[float, float, str]:
    start = time.perf_counter()
    intake = submit(services, request)
    submitted = time.perf_counter()
    send_notice(services, intake.submission_id, Notice.RECEIVED)
    outcome = run_validation(services, intake.submission_id)
    end = time.perf_counter()
    return end - start, end - submitted, outcome.state.value


def _through_flow(services: Services, request: IntakeRequest) -> tuple[float, float, str]:
    from flows.submission import run_submission

    start = time.perf_counter()
    intake = submit(services, request)
    submitted = time.perf_counter()
    state = run_submission(intake.submission_id)
    end = time.perf_counter()
    return end - start, end - submitted, state


def run(sizes: Sizes, workdir: Path) -> Result:
    """Alternate direct and flow submissions, ``sizes.submissions`` each, after one discarded warm-up of each."""
    result = empty()
    # Outside ``workdir``: the ephemeral server keeps its database open until this process exits.
    home = OUT / "prefect-home"
    shutil.rmtree(home, ignore_errors=True)
    prepare_prefect(home)
    logfile = OUT / "flow-prefect.log"
    logfile.write_bytes(b"")
    pdf = ev.pdf(workdir / "plan.pdf", "Anchoring Phenomenon Routine - facilitation plan").read_bytes()
    services = make_services(workdir / "data")
    base: list[float] = []
    subj: list[float] = []
    base_after: list[float] = []
    subj_after: list[float] = []
    states: dict[str, int] = {}
    try:
        with stderr_to(logfile):
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

            from tasks.runtime import use_services

            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), use_services(services):
                heartbeat = get_current_settings().flows.heartbeat_frequency
                api_url = get_current_settings().api.url
                start = time.perf_counter()
                warm_flow = _through_flow(services, _request("warmflow", 0, pdf))
                warm_s = time.perf_counter() - start
                warm_direct = _direct(services, _request("warmdirect", 0, pdf))
                for index, baseline_first in alternating(sizes.submissions):
                    for side in ("direct", "flow") if baseline_first else ("flow", "direct"):
                        request = _request(side, index, pdf)
                        if side == "direct":
                            total, after, state = _direct(services, request)
                            base.append(total * 1000)
                            base_after.append(after * 1000)
                        else:
                            total, after, state = _through_flow(services, request)
                            subj.append(total * 1000)
                            subj_after.append(after * 1000)
                        states[f"{side}:{state}"] = states.get(f"{side}:{state}", 0) + 1
                    if (index + 1) % 5 == 0 or index + 1 == sizes.submissions:
                        log(NAME, f"{index + 1}/{sizes.submissions} submissions each way")
    finally:
        services.close()

    result.baseline, result.subject = median(base), median(subj)
    result.ratio = ratio(result.subject, result.baseline)
    result.samples = {
        "baseline_ms": base,
        "subject_ms": subj,
        "baseline_after_submit_ms": base_after,
        "subject_after_submit_ms": subj_after,
    }
    result.details = {
        "submissions_each": sizes.submissions,
        "states": states,
        "warmup_flow_s": warm_s,
        "warmup_states": [warm_flow[2], warm_direct[2]],
        "heartbeat_frequency": heartbeat,
        "api_url": api_url,
        "median_after_submit_ms": {"direct": median(base_after), "flow": median(subj_after)},
        "prefect_log": str(logfile),
    }
    expected = {f"direct:{State.AWAITING_REVIEW.value}", f"flow:{State.AWAITING_REVIEW.value}"}
    if set(states) != expected:
        result.notes.append(f"unexpected end states: {states}")
    result.notes.append(
        f"{sizes.submissions} distinct {CREDENTIAL} submissions each way (answers + one PDF), per-submission "
        f"medians, submit included on both sides; overhead {result.subject - result.baseline:+.0f} ms per submission"
    )
    result.notes.append(
        f"after intake only: direct {median(base_after):.0f} ms, flow {median(subj_after):.0f} ms "
        f"(ratio {ratio(median(subj_after), median(base_after)):.2f}); warm-up flow run {warm_s:.1f} s "
        f"(starts the ephemeral server); heartbeat_frequency={heartbeat}; Prefect logs in {logfile.name}"
    )
    return result
