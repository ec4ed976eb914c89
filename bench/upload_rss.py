"""Peak RSS of ``credflow serve --in-process`` while 1 GiB uploads arrive over HTTP, are validated and refused.

The server runs as a child on 127.0.0.1 (flows in its threads, so validation is measured in the
same process); this process sends, over real sockets:

1. a PDF-looking file of ``size`` bytes as the lesson plan (a requirement of at most 20 MB):
   an upload URL asked for with its true size (refused), an upload URL asked for with a small
   size then sent the whole file without a length (refused once past the limit), and a
   multipart submission carrying it (refused while it arrives, or validated and returned);
2. the same bytes named ``classroom.mp4`` for the video requirement (2 GiB, within the global
   cap): sent to its upload URL, submitted by reference, validated and returned (not a video).

The server's own ``VmHWM`` (peak resident set, /proc) after a small warm-up submission is the
baseline; after both cases, the subject.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import GIB, INPUTS, MIB, ROOT, Sizes, log
from bench.report import Result
from cli import demo_evidence as ev

NAME = "upload_rss"
TARGET_MB = 300.0
CREDENTIAL = "udl-level-1"
PLAN_KEY = "udl_lesson_plan"
VIDEO_KEY = "classroom_video"
START_SECONDS = 120
SETTLE_SECONDS = 900
#: States a submission leaves once validation has run.
PENDING = {"received", "validating"}


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="8. peak RSS of credflow serve refusing 1 GiB uploads",
        unit="MB",
        baseline_label="after warm-up",
        subject_label="peak",
        target=f"subject < {TARGET_MB:.0f} MB",
    )


def pdf_looking(size: int) -> Path:
    """A well-formed PDF of exactly ``size`` bytes (one page whose content stream is random bytes), written once."""
    path = INPUTS / f"big-{size // MIB}MiB.pdf"
    if path.is_file() and path.stat().st_size == size:
        return path
    INPUTS.mkdir(parents=True, exist_ok=True)
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
    ]
    offsets: list[int] = []
    prefix = bytearray(head)
    for number, body in enumerate(objects, start=1):
        offsets.append(len(prefix))
        prefix += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets.append(len(prefix))

    def tail_for(stream_length: int) -> bytes:
        xref_at = len(prefix) + len(_stream_head(stream_length)) + stream_length + len(b"\nendstream\nendobj\n")
        table = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % at for at in offsets)
        return (
            b"\nendstream\nendobj\n" + table + b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
        )

    # The stream's length changes the digits of its own header and of the xref offset: iterate until it settles.
    stream_length = size
    for _ in range(5):
        stream_length = size - len(prefix) - len(_stream_head(stream_length)) - len(tail_for(stream_length))
    partial = path.with_name(f".{path.name}.part")
    with partial.open("wb") as out:
        out.write(prefix)
        out.write(_stream_head(stream_length))
        remaining = stream_length
        while remaining > 0:
            chunk = os.urandom(min(remaining, 8 * MIB))
            out.write(chunk)
            remaining -= len(chunk)
        out.write(tail_for(stream_length))
        out.flush()
        os.fsync(out.fileno())
    if partial.stat().st_size != size:
        raise RuntimeError(f"wrote {partial.stat().st_size} bytes for a {size}-byte PDF")
    partial.replace(path)
    return path


def _stream_head(length: int) -> bytes:
    return b"4 0 obj\n<< /Length %d >>\nstream\n" % length


def _memory(pid: int) -> dict[str, int]:
    """The process's VmRSS and VmHWM in kB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chunks(path: Path, limit: int | None = None) -> Iterator[bytes]:
    sent = 0
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            yield chunk
            sent += len(chunk)
            if limit is not None and sent >= limit:
                return


def _answers() -> dict[str, str]:
    return {"learner_variability": ev.words(200), "reflection": ev.words(300, seed=2)}


def _form(email: str) -> dict[str, str]:
    return {
        "name": "Bench Upload",
        "email": email,
        "organisation": "Bench District",
        "credential_id": CREDENTIAL,
        "answers": json.dumps(_answers()),
    }


def _state(database: Path, submission_id: str) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT state FROM submissions WHERE id = ?", (submission_id,)).fetchone()
    return str(row[0]) if row else "missing"


def _problems(database: Path, submission_id: str) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT problems FROM submissions WHERE id = ?", (submission_id,)).fetchone()
    found = json.loads(row[0]) if row and row[0] else []
    return ", ".join(str(p.get("code", p)) if isinstance(p, dict) else str(p) for p in found) or "no problems"


def _settled(database: Path, submission_id: str) -> str:
    deadline = time.monotonic() + SETTLE_SECONDS
    while (state := _state(database, submission_id)) in PENDING:
        if time.monotonic() > deadline:
            raise RuntimeError(f"submission {submission_id} still {state} after {SETTLE_SECONDS} s")
        time.sleep(1)
    return state


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:160]
    except ValueError:
        return response.text[:160]


def run(sizes: Sizes, workdir: Path) -> Result:
    """Serve, warm up, send the two cases, and read the server's peak RSS."""
    result = empty()
    size = 64 * MIB if sizes.quick else GIB
    big = pdf_looking(size)
    plan = ev.pdf(workdir / "plan.pdf", "UDL lesson plan")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = workdir / "data"
    env = {
        **os.environ,
        "CREDFLOW_DATA_DIR": str(data_dir),
        "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
        "CREDFLOW_PUBLIC_URL": base,
        "PREFECT_HOME": str(workdir / "prefect"),
    }
    # SQLite, the local store and the outbox under data_dir, whatever this shell's environment says.
    for name in ("CREDFLOW_DATABASE_URL", "CREDFLOW_STORAGE_BACKEND", "CREDFLOW_MAIL_BACKEND", "CREDFLOW_STORAGE_DIR"):
        env.pop(name, None)
    env.pop("CREDFLOW_OUTBOX_DIR", None)
    env.pop("PREFECT_API_URL", None)
    logfile = workdir / "serve.log"
    command = [str(Path(sys.executable).parent / "credflow"), "serve", "--in-process", "--port", str(port)]
    with logfile.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    steps: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, timeout=httpx.Timeout(600, connect=10)) as client:
            _wait_up(client, server, logfile)
            database = data_dir / "credflow.db"
            started = _memory(server.pid)

            warm = client.post(
                "/api/submissions",
                data=_form("bench.warm@example.org"),
                files=[
                    ("requirement_keys", (None, PLAN_KEY)),
                    ("files", ("plan.pdf", plan.read_bytes(), "application/pdf")),
                ],
            )
            steps["warm-up"] = _outcome(warm, database)
            warmed = _memory(server.pid)
            log(NAME, f"server up at {started['VmRSS'] / 1024:.0f} MB, {warmed['VmHWM'] / 1024:.0f} MB after warm-up")

            steps.update(_over_the_requirement(client, big, database))
            log(NAME, f"case 1 (over the plan's limit): {_memory(server.pid)['VmHWM'] / 1024:.0f} MB peak so far")
            steps.update(_within_the_cap(client, big, plan, database))
            peak = _memory(server.pid)
            log(NAME, f"case 2 (a video that is not one): {peak['VmHWM'] / 1024:.0f} MB peak")
            if client.get("/healthz").status_code != 200:
                raise RuntimeError("the server stopped answering")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    result.baseline = warmed["VmHWM"] / 1024
    result.subject = peak["VmHWM"] / 1024
    result.ratio = result.subject / result.baseline
    result.passed = result.subject < TARGET_MB
    result.samples = {"peak_mb": [result.subject]}
    result.details = {"upload_bytes": size, "started_rss_mb": started["VmRSS"] / 1024, "steps": steps}
    result.notes.append(
        f"VmHWM of `credflow serve --in-process` (flows in its threads) sent a {size / MIB:,.0f} MiB PDF-looking "
        f"file four ways; difference peak - warm-up = {result.subject - result.baseline:+.1f} MB; "
        "ffprobe's own memory (a separate process) is not counted"
    )
    result.notes.append("; ".join(f"{name}: {text}" for name, text in steps.items()))
    return result


def _wait_up(client: httpx.Client, server: subprocess.Popen[bytes], logfile: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if client.get("/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            tail = " | ".join(logfile.read_text(errors="replace").strip().splitlines()[-5:])
            raise RuntimeError(f"credflow serve did not start: {tail}")
        time.sleep(0.5)


def _outcome(response: httpx.Response, database: Path) -> str:
    if response.status_code != 201:
        return f"{response.status_code} {_detail(response)}"
    submission_id = str(response.json()["submission_id"])
    state = _settled(database, submission_id)
    return f"201, then {state} ({_problems(database, submission_id)})"


def _grant(client: httpx.Client, email: str, key: str, filename: str, size: int) -> httpx.Response:
    body = {"email": email, "credential_id": CREDENTIAL, "requirement_key": key, "filename": filename, "size": size}
    return client.post("/api/uploads", json=body)


def _over_the_requirement(client: httpx.Client, big: Path, database: Path) -> dict[str, str]:
    """Case 1: the PDF for the lesson plan, whose limit is smaller: by upload URL (twice) and by multipart."""
    size = big.stat().st_size
    steps: dict[str, str] = {}
    honest = _grant(client, "bench.plan@example.org", PLAN_KEY, "plan.pdf", size)
    steps["grant for the true size"] = f"{honest.status_code} {_detail(honest)}"
    small = _grant(client, "bench.plan@example.org", PLAN_KEY, "plan.pdf", 1000)
    if small.status_code != 201:
        raise RuntimeError(f"no upload URL for the plan: {small.status_code} {_detail(small)}")
    grant = small.json()
    sent = client.put(grant["url"], content=_chunks(big), headers=grant["headers"])
    steps["PUT without a length"] = f"{sent.status_code} {_detail(sent)}"
    multipart = client.post(
        "/api/submissions",
        data=_form("bench.multipart@example.org"),
        files=[("requirement_keys", (None, PLAN_KEY)), ("files", ("plan.pdf", big.open("rb"), "application/pdf"))],
    )
    steps["multipart submission"] = _outcome(multipart, database)
    return steps


def _within_the_cap(client: httpx.Client, big: Path, plan: Path, database: Path) -> dict[str, str]:
    """Case 2: the same bytes as the video (a 2 GiB requirement): stored by upload URL, submitted, validated."""
    email = "bench.video@example.org"
    asked = _grant(client, email, VIDEO_KEY, "classroom.mp4", big.stat().st_size)
    if asked.status_code != 201:
        raise RuntimeError(f"no upload URL for the video: {asked.status_code} {_detail(asked)}")
    grant = asked.json()
    with big.open("rb") as handle:
        stored = client.put(grant["url"], content=handle, headers=grant["headers"])
    if stored.status_code != 201:
        raise RuntimeError(f"the video upload failed: {stored.status_code} {_detail(stored)}")
    sent = client.post(
        "/api/submissions",
        data={**_form(email), "uploaded": grant["reference"]},
        files=[("requirement_keys", (None, PLAN_KEY)), ("files", ("plan.pdf", plan.read_bytes(), "application/pdf"))],
    )
    return {"upload URL, then submission by reference": f"PUT {stored.status_code}; {_outcome(sent, database)}"}
