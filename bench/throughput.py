"""Submissions per minute, intake to decision, through Prefect versus the same domain calls made directly.

End to end means: intake, the received notice, validation, transcoding for videos, an assignment
round with its emails, every review (all Met), the decision, the badge and the result letter.
Two set-ups, each against a direct-call baseline measured in the same run:

- **embedded**: SQLite, a local store and an outbox, the flows in this process (as the demo and
  ``credflow serve --in-process`` run them) on Prefect's ephemeral server; one submission at a time,
  direct and flow alternating (ABBA), so subs/min = submissions / the sum of their wall times.
- **cluster**: ``tests.utils.cluster.running_cluster`` (Prefect server on PostgreSQL, two credflow workers,
  S3 over HTTP, the SendGrid fake, ``credflow serve`` with deployments). A cohort is posted to the
  HTTP intake at once; scripted reviewers answer the emailed links over HTTP; subs/min = cohort /
  the wall time from the first POST to the last result letter. Its baseline makes the direct calls
  on the cluster's own backends (PostgreSQL, S3, SendGrid), half before the cohort and half after.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from bench.common import INPUTS, OUT, Sizes, alternating, log, make_services, median, ratio
from bench.flow import prepare_prefect, stderr_to
from bench.report import Result
from cli import demo_evidence as ev
from cli.demo_reviewers import LINK, review_over_http
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Assignment, Decision, Dispatch, IssuedBadge, OutgoingMessage, Submission
from credflow.decision.stage import aggregate
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.issuance.stage import IssueReport, issue_for_decision, record_hours
from credflow.letters.stage import send_result
from credflow.lifecycle import State
from credflow.notifications.rules import BadgeNotice, Notice, ReviewerMail
from credflow.notifications.stage import send_badge_notice, send_notice, send_reviewer_mail
from credflow.resubmission.stage import close_if_exhausted
from credflow.review.stage import open_assignment, submit_review
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_pool
from credflow.services import Services
from credflow.states import AssignmentState, MessageState
from credflow.transcoding.stage import finish_transcoding, transcode_video, video_jobs
from credflow.validation.stage import run_validation

if TYPE_CHECKING:
    from tests.utils.cluster import Cluster

NAME = "throughput"
TEXT_CREDENTIAL = "openscied-anchoring-phenomenon"
VIDEO_CREDENTIAL = "udl-level-1"
KINDS = ("non-video", "video")
UNIT = "subs/min"
OWNER = "bench-direct"  # the transcode claim's owner on the direct side
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _result(where: str, kind: str) -> Result:
    letter = "abcd"[2 * (where == "cluster") + (kind == "video")]
    if where == "embedded":
        return Result(
            name=f"throughput-embedded-{kind}",
            title=f"7{letter}. throughput, embedded, {kind}",
            unit=UNIT,
            baseline_label="direct calls",
            subject_label="flows in-process",
        )
    return Result(
        name=f"throughput-cluster-{kind}",
        title=f"7{letter}. throughput, PG + 2 workers, {kind}",
        unit=UNIT,
        baseline_label="direct on PG/S3/SendGrid",
        subject_label="HTTP cohort, 2 workers",
    )


def empty() -> Result:
    """The result record before any measurement (the row shown when the whole benchmark fails)."""
    return _result("embedded", "non-video")


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The evidence files every submission reuses; each video gets its own bytes (transcodes are per sha256)."""

    pdf: bytes
    docx: bytes
    clip: bytes

    def clip_for(self, tag: str) -> bytes:
        # A trailing top-level ``free`` box: a valid MP4 with the same pictures and a new sha256,
        # so no transcode is reused from an earlier submission.
        payload = f"credflow-bench {tag}".encode()
        return self.clip + struct.pack(">I", 8 + len(payload)) + b"free" + payload


def _inputs(workdir: Path) -> Inputs:
    from credflow.media import samples

    clip = INPUTS / "throughput-61s-320x180.mp4"
    if not clip.is_file():
        INPUTS.mkdir(parents=True, exist_ok=True)
        partial = samples.make_video(clip.with_name("partial-" + clip.name), seconds=61, width=320, height=180, fps=15)
        partial.replace(clip)
    return Inputs(
        pdf=ev.pdf(workdir / "plan.pdf", "Anchoring Phenomenon Routine - facilitation plan").read_bytes(),
        docx=ev.docx(workdir / "plan.docx", ["UDL lesson plan", "Options for engagement and expression."]).read_bytes(),
        clip=clip.read_bytes(),
    )


def _who(kind: str, tag: str, n: int) -> ApplicantInfo:
    short = "v" if kind == "video" else "t"
    return ApplicantInfo(f"Bench {tag.title()} {short}{n}", f"bench.{tag}.{short}{n}@school.example.org", f"School {n}")


def _answers(kind: str) -> dict[str, str]:
    if kind == "video":
        return {"learner_variability": ev.words(200), "reflection": ev.words(250, seed=2)}
    return {"routine_purpose": ev.words(200), "reflection": ev.words(300, seed=2)}


def _files(inputs: Inputs, kind: str, tag: str, n: int) -> list[tuple[str, str, bytes, str]]:
    """(requirement key, file name, bytes, content type) of one submission."""
    if kind == "video":
        return [
            ("udl_lesson_plan", "plan.docx", inputs.docx, DOCX),
            ("classroom_video", "clip.mp4", inputs.clip_for(f"{tag}-{n}"), "video/mp4"),
        ]
    return [("facilitation_plan", "plan.pdf", inputs.pdf, "application/pdf")]


def _request(inputs: Inputs, kind: str, tag: str, n: int) -> IntakeRequest:
    return IntakeRequest(
        applicant=_who(kind, tag, n),
        credential_id=VIDEO_CREDENTIAL if kind == "video" else TEXT_CREDENTIAL,
        answers=_answers(kind),
        uploads=[Upload(key, name, io.BytesIO(data)) for key, name, data, _ in _files(inputs, kind, tag, n)],
    )


def _pool_yaml(path: Path) -> Path:
    """Calibrated reviewers certified for both credentials, each from their own organisation."""
    from tests.utils.cluster import write_pool

    return write_pool(path, 16, [TEXT_CREDENTIAL, VIDEO_CREDENTIAL], leads=4, max_active=10)


# --- the direct side: the flows' domain calls, in the flows' order ------------------------------


def _all_met(services: Services, submission_id: str) -> int:
    """Submit every open review of the submission with every criterion Met (the scripted reviewers)."""
    with services.db.session() as session:
        credential_id = session.get_one(Submission, submission_id).credential_id
        open_reviews = session.scalars(
            select(Assignment.id).where(
                Assignment.submission_id == submission_id,
                Assignment.role == "review",
                Assignment.state == AssignmentState.ACTIVE,
            )
        ).all()
    scores = {c.key: {"verdict": "met", "comment": ""} for c in services.catalog.get(credential_id).criteria}
    for assignment_id in open_reviews:
        submit_review(services, assignment_id, scores)
    return len(open_reviews)


def _announce_round(services: Services) -> None:
    """``flows.review.announce_round`` without Prefect."""
    for assignment_id in assign_reviewers(services).assigned:
        send_reviewer_mail(services, assignment_id, ReviewerMail.ASSIGNMENT)


def _direct_submission(services: Services, submission_id: str) -> State:
    """``flows.submission.process_submission`` without Prefect (and without its artifacts)."""
    send_notice(services, submission_id, Notice.RECEIVED)
    state = run_validation(services, submission_id).state
    if state is State.TRANSCODING:
        for job in video_jobs(services, submission_id):
            transcode_video(services, job, owner=OWNER)
        state = finish_transcoding(services, submission_id)
    if state is State.RETURNED:
        send_notice(services, submission_id, Notice.RETURNED)
    if state is State.AWAITING_REVIEW:
        _announce_round(services)
    return state


def _direct_decide(
    services: Services, submission_id: str, *, issue: Callable[[Services, str], IssueReport] = issue_for_decision
) -> str:
    """``flows.review.decide_submission`` without Prefect (and without its artifacts).

    ``issue`` is ``issue_for_decision``, or a wrapper of it that times it (``bench.submission``).
    """
    outcome = aggregate(services, submission_id, backread_share=services.settings.backread_share)
    if outcome.new_assignment:
        send_reviewer_mail(services, outcome.new_assignment, ReviewerMail.ASSIGNMENT)
    if outcome.state in (State.IN_REVIEW, State.AWAITING_REVIEW) and outcome.waiting_for:
        _announce_round(services)
    if outcome.state is State.EARNED:
        report = issue(services, submission_id)
        record_hours(services, submission_id)
        for badge_id in report.issued:
            send_badge_notice(services, badge_id, BadgeNotice.ISSUED)
        for badge_id in report.renewed:
            send_badge_notice(services, badge_id, BadgeNotice.RENEWED)
    if outcome.state in (State.EARNED, State.NOT_YET):
        send_result(services, submission_id)
    if outcome.state is State.NOT_YET:
        close_if_exhausted(services, submission_id)
    return outcome.state.value


def _direct(
    services: Services, request: IntakeRequest, *, issue: Callable[[Services, str], IssueReport] = issue_for_decision
) -> tuple[str, str]:
    submission_id = submit(services, request).submission_id
    _direct_submission(services, submission_id)
    _all_met(services, submission_id)
    return submission_id, _direct_decide(services, submission_id, issue=issue)


def _through_flows(services: Services, request: IntakeRequest) -> tuple[str, str]:
    """Both flows as the in-process doors run them: on runs tagged with the credential and issuer."""
    from flows.review import run_decision
    from flows.submission import run_submission

    submission_id = submit(services, request).submission_id
    run_submission(submission_id)
    _all_met(services, submission_id)
    return submission_id, run_decision(submission_id)


def _finished(services: Services, submission_ids: list[str]) -> dict[str, int]:
    """How many of the submissions ended as the benchmark requires: earned, badge issued, letter sent."""
    with services.db.session() as session:
        earned = session.scalars(
            select(Decision.submission_id).where(
                Decision.submission_id.in_(submission_ids), Decision.outcome == State.EARNED.value
            )
        ).all()
        badges = session.scalars(
            select(IssuedBadge.submission_id).where(
                IssuedBadge.submission_id.in_(submission_ids), IssuedBadge.kind == "micro"
            )
        ).all()
        letters = session.scalars(
            select(OutgoingMessage.idempotency_key).where(
                OutgoingMessage.idempotency_key.in_([f"result:{sid}" for sid in submission_ids]),
                OutgoingMessage.state == MessageState.SENT,
            )
        ).all()
    return {
        "submissions": len(submission_ids),
        "earned": len(set(earned)),
        "badges": len(set(badges)),
        "letters": len(set(letters)),
    }


def _check(result: Result, side: str, counts: dict[str, int]) -> None:
    n = counts["submissions"]
    if any(value != n for value in counts.values()):
        result.notes.append(f"{side}: not every submission ended earned with badge and letter: {counts}")


def _per_minute(count: int, seconds: float) -> float:
    return count * 60 / seconds if seconds > 0 else float("inf")


# --- embedded ---------------------------------------------------------------------------------


def _run_embedded(sizes: Sizes, workdir: Path, inputs: Inputs, logfile: Path) -> list[Result]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from tasks.runtime import use_services

    results = {kind: _result("embedded", kind) for kind in KINDS}
    counts = {"non-video": sizes.throughput_nonvideo, "video": sizes.throughput_video}
    services = make_services(workdir / "embedded")
    try:
        with services.db.session() as session:
            import_pool(session, parse_pool(_pool_yaml(workdir / "pool.yaml").read_text(), catalog=services.catalog))
        with stderr_to(logfile), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), use_services(services):
            api_url = get_current_settings().api.url
            start = time.perf_counter()
            warm = [_through_flows(services, _request(inputs, "non-video", "warmflow", 0))[1]]
            warm_s = time.perf_counter() - start
            warm.append(_direct(services, _request(inputs, "non-video", "warmdirect", 0))[1])
            for kind in KINDS:
                result = results[kind]
                seconds: dict[str, list[float]] = {"direct": [], "flow": []}
                ids: dict[str, list[str]] = {"direct": [], "flow": []}
                states: dict[str, int] = {}
                for index, baseline_first in alternating(counts[kind]):
                    for side in ("direct", "flow") if baseline_first else ("flow", "direct"):
                        request = _request(inputs, kind, f"emb{side}", index)
                        run = _direct if side == "direct" else _through_flows
                        begin = time.perf_counter()
                        sid, state = run(services, request)
                        seconds[side].append(time.perf_counter() - begin)
                        ids[side].append(sid)
                        states[f"{side}:{state}"] = states.get(f"{side}:{state}", 0) + 1
                    log(NAME, f"embedded {kind}: {index + 1}/{counts[kind]} each way")
                result.baseline = _per_minute(counts[kind], sum(seconds["direct"]))
                result.subject = _per_minute(counts[kind], sum(seconds["flow"]))
                result.ratio = ratio(result.subject, result.baseline)
                result.samples = {"baseline_s": seconds["direct"], "subject_s": seconds["flow"]}
                result.details = {
                    "submissions_each": counts[kind],
                    "states": states,
                    "median_s": {"direct": median(seconds["direct"]), "flow": median(seconds["flow"])},
                    "total_s": {"direct": sum(seconds["direct"]), "flow": sum(seconds["flow"])},
                    "warmup_flow_s": warm_s,
                    "warmup_states": warm,
                    "api_url": api_url,
                    "prefect_log": str(logfile),
                }
                _check(result, "direct", _finished(services, ids["direct"]))
                _check(result, "flows", _finished(services, ids["flow"]))
                result.notes.append(
                    f"{counts[kind]} submissions each way, one at a time, alternating; median per submission "
                    f"direct {median(seconds['direct']):.2f} s, flows {median(seconds['flow']):.2f} s "
                    f"({median(seconds['flow']) - median(seconds['direct']):+.2f} s of orchestration)"
                )
    finally:
        services.close()
    results["non-video"].notes.append(
        "intake -> notice -> validation -> round + emails -> 2 reviews (submit_review, all Met) -> decision, badge, "
        f"letter; SQLite, local store, outbox; ephemeral Prefect API, heartbeats off; warm-up flow {warm_s:.1f} s"
    )
    return [results[kind] for kind in KINDS]


# --- cluster ----------------------------------------------------------------------------------


def _post(cluster: Cluster, inputs: Inputs, kind: str, tag: str, n: int) -> str:
    who = _who(kind, tag, n)
    files = _files(inputs, kind, tag, n)
    response = httpx.post(
        f"{cluster.web_url}/api/submissions",
        data={
            "name": who.name,
            "email": who.email,
            "organisation": who.organisation,
            "credential_id": VIDEO_CREDENTIAL if kind == "video" else TEXT_CREDENTIAL,
            "answers": json.dumps(_answers(kind)),
            "requirement_keys": [key for key, *_ in files],
        },
        files=[("files", (name, data, ctype)) for _, name, data, ctype in files],
        headers={"Idempotency-Key": f"bench-{tag}-{kind}-{n}"},
        timeout=120,
    )
    if response.status_code != 201:
        raise RuntimeError(f"the intake answered {response.status_code}: {response.text[:500]}")
    return str(response.json()["submission_id"])


@dataclass
class _Reviewers:
    """Scripted reviewers answering the cohort's assignment emails over HTTP (all Met), each on their own."""

    cluster: Cluster
    services: Services
    seen: int  # messages of the SendGrid fake already looked at
    cohort: set[str] = field(default_factory=set)
    letters: dict[str, float] = field(default_factory=dict)  # submission -> when its letter was first seen
    reviews: list[Future[float]] = field(default_factory=list)
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    # Reviewers act independently: a few at once, so the script is not the cohort's bottleneck.
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="reviewer"))

    def poll(self) -> None:
        from tests.utils.cluster import idempotency_key, message_text

        for review in self.reviews:
            if review.done() and review.exception() is not None:
                raise RuntimeError("a scripted review failed") from review.exception()
        messages = self.cluster.sendgrid.messages
        fresh, self.seen = messages[self.seen :], len(messages)
        for message in fresh:
            key = idempotency_key(message.payload)
            if key.startswith("result:") and key.removeprefix("result:") in self.cohort:
                self.letters.setdefault(key.removeprefix("result:"), time.perf_counter())
            if not key.startswith("assignment:"):
                continue
            link = LINK.search(message_text(message.payload))
            if link is None:
                raise RuntimeError(f"no review link in {key}")
            assignment = open_assignment(self.services, link.group(1).rsplit("/", 1)[1])
            if assignment.submission_id not in self.cohort or assignment.role not in ("review", "adjudication"):
                continue  # a back-read (it follows the decision)
            # One submission's reviewers one after the other: two verdicts committed at the same instant
            # may both start a decide run (harmless, aggregation is compare-and-set, but not a cohort's norm).
            lock = self.locks.setdefault(assignment.submission_id, threading.Lock())
            self.reviews.append(self.pool.submit(_review, link.group(1), lock))

    def close(self) -> float:
        """Wait for the reviews in hand; the seconds they took, summed."""
        self.pool.shutdown(wait=True)
        return sum(review.result() for review in self.reviews if review.exception() is None)


def _review(link: str, lock: threading.Lock) -> float:
    with lock:
        begin = time.perf_counter()
        status = review_over_http(link, {})
    if status not in (200, 303):
        raise RuntimeError(f"the review at {link} answered HTTP {status}")
    return time.perf_counter() - begin


def _settle(cluster: Cluster, timeout: float = 180) -> float:
    """Wait until no flow run is pending or running (scheduled sweeps aside); return the seconds waited."""
    from tests.utils.cluster import flow_runs

    start = time.perf_counter()

    def idle() -> bool:
        return all(r.state.is_final() for r in flow_runs(cluster) if r.state_name != "Scheduled" and r.state)

    cluster.wait_for("the cluster's flow runs to finish", idle, timeout=timeout, interval=1.0)
    return time.perf_counter() - start


def _run_stats(cluster: Cluster, services: Services, cohort: list[str]) -> dict[str, dict[str, float]]:
    """Per kind of the cohort's flow runs: median seconds from the door handing the run out to Running, and running.

    The start is the dispatch's creation (the intake or the last verdict handing the run to the
    workers), not the flow run's: a worker creates the flow run when it starts it.
    """
    from tests.utils.cluster import flow_runs

    with services.db.session() as session:
        handed = dict(
            session.execute(select(Dispatch.flow_run_id, Dispatch.created_at).where(Dispatch.submission_id.in_(cohort)))
            .tuples()
            .all()  # a TupleResult has keys(): dict() would read it as a mapping
        )
    spans: dict[str, dict[str, list[float]]] = {}
    for run in flow_runs(cluster):
        if run.parameters.get("submission_id") not in cohort or run.start_time is None or run.end_time is None:
            continue
        kind = "decide" if run.name.startswith("decide-") else "submission"
        span = spans.setdefault(kind, {"to_running_s": [], "running_s": []})
        created = handed.get(str(run.id))
        if created is not None:
            span["to_running_s"].append((run.start_time - created).total_seconds())
        span["running_s"].append((run.end_time - run.start_time).total_seconds())
    return {
        kind: {"runs": len(span["running_s"]), **{name: median(values) for name, values in span.items()}}
        for kind, span in spans.items()
    }


def _cohort(
    cluster: Cluster, services: Services, inputs: Inputs, kind: str, tag: str, n: int, *, timeout: float
) -> tuple[float, list[str], dict[str, Any]]:
    """Post ``n`` submissions at once, review them as the emails come; the seconds until the last letter."""
    reviewers = _Reviewers(cluster, services, seen=len(cluster.sendgrid.messages))  # earlier mail is not ours
    posted: dict[str, float] = {}
    start = time.perf_counter()
    try:
        for index in range(n):
            sid = _post(cluster, inputs, kind, tag, index)
            posted[sid] = time.perf_counter()
            reviewers.cohort.add(sid)
            reviewers.poll()
        post_s = time.perf_counter() - start
        deadline = time.monotonic() + timeout
        while len(reviewers.letters) < n:
            reviewers.poll()
            cluster.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(reviewers.letters)}/{n} letters after {timeout:.0f} s\n{cluster.logs()}")
            time.sleep(0.25)
    finally:
        reviewing_s = reviewers.close()
    wall = max(reviewers.letters.values()) - start
    latency = [reviewers.letters[sid] - posted[sid] for sid in posted]
    details = {
        "post_s": post_s,
        "reviews_answered": len(reviewers.reviews),
        "reviewing_s": reviewing_s,
        "latency_s": {"median": median(latency), "max": max(latency)},
        "first_letter_s": min(reviewers.letters.values()) - start,
    }
    return wall, list(posted), details


def _direct_block(
    services: Services, inputs: Inputs, kind: str, tag: str, indices: range
) -> tuple[list[float], list[str]]:
    seconds: list[float] = []
    ids: list[str] = []
    for index in indices:
        begin = time.perf_counter()
        sid, _ = _direct(services, _request(inputs, kind, tag, index))
        seconds.append(time.perf_counter() - begin)
        ids.append(sid)
    return seconds, ids


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` (and the children they waited for) have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def _own_cpu() -> float:
    """CPU seconds of this process and the children it waited for (the direct side's ffmpeg runs)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _cluster_cpu(cluster: Cluster) -> float:
    """CPU seconds used so far by the cluster's processes (Prefect server, credflow serve, the workers) and this one.

    This process holds the S3 and SendGrid fakes and the scripted reviewers, as it does on the
    direct side; PostgreSQL is left out of both.
    """
    return _cpu_seconds([p.popen.pid for p in cluster.processes.values()]) + _own_cpu()


def _run_cluster(sizes: Sizes, workdir: Path, inputs: Inputs) -> list[Result]:
    from tests.utils.cluster import running_cluster

    results = {kind: _result("cluster", kind) for kind in KINDS}
    counts = {"non-video": sizes.throughput_nonvideo, "video": sizes.throughput_cluster_video}
    if counts["video"] == 0:
        results["video"].notes.append("skipped in the quick run")
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(running_cluster(workdir / "cluster", workers=2, worker_limit=2))
        up_s = time.perf_counter() - start
        log(NAME, f"cluster up in {up_s:.0f} s")
        cluster.run("credflow", "reviewers", "import", str(_pool_yaml(workdir / "cluster-pool.yaml")))
        stack.enter_context(cluster.aws_env())  # the services in this process reach S3 as the cluster's do
        services: Services = cluster.services()
        try:
            begin = time.perf_counter()
            _cohort(cluster, services, inputs, "non-video", "clwarm", 1, timeout=300)
            warm_s = time.perf_counter() - begin
            _settle(cluster)
            _direct_block(services, inputs, "non-video", "cldwarm", range(1))
            log(NAME, f"cluster warm-up submission decided in {warm_s:.1f} s")
            for kind in KINDS:
                n = counts[kind]
                if n == 0:
                    continue
                result = results[kind]
                try:
                    half = n // 2
                    cpu = _own_cpu()
                    before, ids_before = _direct_block(services, inputs, kind, "cldirect", range(half))
                    direct_cpu = _own_cpu() - cpu
                    cpu = _cluster_cpu(cluster)
                    wall, cohort_ids, details = _cohort(
                        cluster, services, inputs, kind, "clcohort", n, timeout=120 + 60 * n
                    )
                    settle_s = _settle(cluster)
                    cohort_cpu = _cluster_cpu(cluster) - cpu
                    try:
                        runs = _run_stats(cluster, services, cohort_ids)
                    except Exception as exc:  # a figure for the notes, not the measurement
                        runs = {}
                        result.notes.append(f"flow-run figures unavailable: {type(exc).__name__}: {exc}")
                    cpu = _own_cpu()
                    after, ids_after = _direct_block(services, inputs, kind, "cldirect", range(half, n))
                    direct_cpu += _own_cpu() - cpu
                    direct = before + after
                    cpu_per = {"cluster": cohort_cpu / n, "direct": direct_cpu / n}
                    result.baseline = _per_minute(n, sum(direct))
                    result.subject = _per_minute(n, wall)
                    result.ratio = ratio(result.subject, result.baseline)
                    result.samples = {"baseline_s": direct}
                    result.details = {
                        "cohort": n,
                        "cohort_wall_s": wall,
                        **details,
                        "settle_after_last_letter_s": settle_s,
                        "flow_runs": runs,
                        "cpu_s_per_submission": cpu_per,
                        "cpu_ratio": ratio(cpu_per["cluster"], cpu_per["direct"]),
                        "direct_median_s": median(direct),
                        "direct_total_s": sum(direct),
                        "cluster_up_s": up_s,
                        "warmup_s": warm_s,
                    }
                    _check(result, "direct", _finished(services, ids_before + ids_after))
                    _check(result, "cluster", _finished(services, cohort_ids))
                    result.notes.append(
                        f"cohort of {n} posted at once ({details['post_s']:.1f} s to post), last letter after "
                        f"{wall:.1f} s (median latency {details['latency_s']['median']:.1f} s); direct median "
                        f"{median(direct):.2f} s per submission, {half} before the cohort and {n - half} after"
                    )
                    result.notes.append(
                        f"CPU per submission: cluster {cpu_per['cluster']:.2f} s (Prefect server, serve, workers, "
                        f"this process's fakes, reviewers; no PostgreSQL), direct {cpu_per['direct']:.2f} s "
                        f"(ratio {ratio(cpu_per['cluster'], cpu_per['direct']):.2f})"
                    )
                    result.notes += [
                        f"{name} runs ({span['runs']:.0f}): median {span['to_running_s']:.2f} s from being handed out "
                        f"to Running, {span['running_s']:.1f} s running"
                        for name, span in runs.items()
                    ]
                    log(NAME, f"cluster {kind}: {n} in {wall:.1f} s, direct {sum(direct):.1f} s")
                except Exception as exc:  # the other kind may still measure
                    traceback.print_exc()
                    result.error = f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            services.close()
    results["non-video"].notes.append(
        f"Prefect server on PostgreSQL, 2 credflow workers (limit 2 each), S3 (moto server), SendGrid fake, "
        f"credflow serve with deployments; cluster up in {up_s:.0f} s, one warm-up submission first"
    )
    return [results[kind] for kind in KINDS]


def run(sizes: Sizes, workdir: Path) -> list[Result]:
    """Embedded set-up, then the cluster; each against its direct baseline, non-video and video."""
    if "prefect" not in sys.modules:  # otherwise the flow benchmark ran first and its ephemeral server is up
        home = OUT / "prefect-home"
        shutil.rmtree(home, ignore_errors=True)
        prepare_prefect(home)
    logfile = OUT / "throughput-prefect.log"
    logfile.write_bytes(b"")
    inputs = _inputs(workdir)
    results = _guarded(lambda: _run_embedded(sizes, workdir, inputs, logfile), "embedded")
    return results + _guarded(lambda: _run_cluster(sizes, workdir, inputs), "cluster")


def _guarded(part: Callable[[], list[Result]], where: str) -> list[Result]:
    """Run one set-up; when it breaks, its rows carry the error and the other set-up still runs."""
    try:
        return part()
    except Exception as exc:
        traceback.print_exc()
        failed = [_result(where, kind) for kind in KINDS]
        for result in failed:
            result.error = f"{type(exc).__name__}: {exc}"[:2000]
        return failed
