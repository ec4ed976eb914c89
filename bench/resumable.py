"""A 2 GiB video sent resumably (tus) to ``credflow serve``: throughput against a plain copy, and the server's peak RSS.

The server runs as a child on 127.0.0.1 with the local store; this process signs in (a session
cookie, as the emailed link gives one), creates a tus upload of the file, PATCHes it in 64 MiB
pieces as tus-js-client does, and asks for its ``upload_id``. The baseline is a plain copy of
the same bytes on the same disk (read, write, fsync), measured in the same run, the two sides
alternating. The server's ``VmHWM`` after a small warm-up upload is the RSS baseline; after the
big uploads, the subject.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import GIB, INPUTS, MIB, ROOT, Sizes, alternating, log, median, ratio
from bench.report import Result
from bench.upload_rss import _free_port, _memory, _wait_up

NAME = "resumable"
TARGET_MB = 300.0
CHUNK = 64 * MIB  # what upload.js gives tus-js-client (web.api.resumable.TUS_CHUNK_BYTES)
CREDENTIAL = "openscied-facilitating-discussions"
REQUIREMENT = "discussion_video"


def empty() -> Result:
    """The throughput record before any measurement (the one a crash is reported on)."""
    return _records()[0]


def _records() -> list[Result]:
    """The two result records before any measurement."""
    return [
        Result(
            name=f"{NAME}-throughput",
            title="9a. resumable upload (tus) vs a plain copy",
            unit="MB/s",
            baseline_label="copy",
            subject_label="upload",
            target="ratio >= 0.5",
        ),
        Result(
            name=f"{NAME}-rss",
            title="9b. peak RSS of credflow serve during a 2 GiB resumable upload",
            unit="MB",
            baseline_label="after warm-up",
            subject_label="peak",
            target=f"subject < {TARGET_MB:.0f} MB",
        ),
    ]


def video_looking(size: int) -> Path:
    """A file of ``size`` bytes that sniffs as an MP4 video (an ftyp box, then random bytes), written once."""
    path = INPUTS / f"video-{size // MIB}MiB.mp4"
    if path.is_file() and path.stat().st_size == size:
        return path
    INPUTS.mkdir(parents=True, exist_ok=True)
    head = (24).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big") + b"isomiso2" + bytes(4) + b"mdat"
    partial = path.with_name(f".{path.name}.part")
    with partial.open("wb") as out:
        out.write(head)
        left = size - len(head)
        while left > 0:
            chunk = os.urandom(min(left, 8 * MIB))
            out.write(chunk)
            left -= len(chunk)
    partial.replace(path)
    return path


def plain_copy(source: Path, target: Path) -> float:
    """Seconds to copy ``source`` to ``target`` in 1 MiB pieces and fsync it (the baseline)."""
    start = time.perf_counter()
    with source.open("rb") as src, target.open("wb") as out:
        while chunk := src.read(MIB):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def _piece(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        left = length
        while left > 0 and (chunk := handle.read(min(MIB, left))):
            left -= len(chunk)
            yield chunk


def tus_upload(client: httpx.Client, path: Path) -> tuple[float, dict[str, Any]]:
    """Seconds to send ``path`` by tus (create, PATCH in CHUNK pieces, complete), and the completion's answer."""
    import base64

    size = path.stat().st_size
    meta = {"filename": path.name, "filetype": "video/mp4", "credential": CREDENTIAL, "requirement": REQUIREMENT}
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    tus = {"Tus-Resumable": "1.0.0"}
    start = time.perf_counter()
    created = client.post("/uploads/tus/", headers={**tus, "Upload-Length": str(size), "Upload-Metadata": encoded})
    if created.status_code != 201:
        raise RuntimeError(f"tus creation failed: {created.status_code} {created.text[:200]}")
    location = created.headers["Location"]
    offset = 0
    while offset < size:
        length = min(CHUNK, size - offset)
        headers = {
            **tus,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(length),
        }
        sent = client.patch(location, content=_piece(path, offset, length), headers=headers)
        if sent.status_code != 204:
            raise RuntimeError(f"PATCH at {offset} failed: {sent.status_code} {sent.text[:200]}")
        offset = int(sent.headers["Upload-Offset"])
    done = client.post(f"{location}/complete", json={})
    elapsed = time.perf_counter() - start
    if done.status_code != 200:
        raise RuntimeError(f"completion failed: {done.status_code} {done.text[:200]}")
    return elapsed, dict(done.json())


def _session_cookie(data_dir: Path, base: str) -> tuple[str, str]:
    """A signed-in session for the bench's applicant, made as the emailed link makes one."""
    from credflow.accounts.signin import make_link, use_link
    from credflow.db.models import utcnow
    from credflow.keyring import Purpose
    from credflow.services import build_services
    from credflow.settings import load_settings

    services = build_services(load_settings(data_dir=data_dir, catalog_dir=ROOT / "rubrics", public_url=base))
    try:
        now = utcnow()
        sent = make_link(services, email="bench.video@example.org", next_path=None, now=now)
        opened = use_link(services, sent.url.rsplit("/", 1)[1], now=now)
        value = str(services.settings.keyring.serializer(Purpose.SESSION).dumps(opened.secret))
    finally:
        services.close()
    return "credflow_session", value


def run(sizes: Sizes, workdir: Path) -> list[Result]:
    """Serve, sign in, warm up, then alternate plain copies and resumable uploads; read the server's peak RSS."""
    speed, memory = _records()
    size = 64 * MIB if sizes.quick else 2 * GIB
    reps = 2
    video = video_looking(size)
    small = workdir / "warm-up.mp4"
    small.write_bytes(_head(video, MIB))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = workdir / "data"
    env = {
        **os.environ,
        "CREDFLOW_DATA_DIR": str(data_dir),
        "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
        "CREDFLOW_PUBLIC_URL": base,
        "PREFECT_HOME": str(workdir / "prefect"),
        "PYTHONPATH": str(ROOT),  # this checkout's code, whichever checkout the virtualenv was installed from
    }
    for name in ("CREDFLOW_DATABASE_URL", "CREDFLOW_STORAGE_BACKEND", "CREDFLOW_MAIL_BACKEND", "CREDFLOW_STORAGE_DIR"):
        env.pop(name, None)
    for name in ("CREDFLOW_OUTBOX_DIR", "PREFECT_API_URL", "CREDFLOW_SECRET_KEY", "CREDFLOW_SECRET_KEY_PREVIOUS"):
        env.pop(name, None)
    logfile = workdir / "serve.log"
    command = [str(Path(sys.executable).parent / "credflow"), "serve", "--in-process", "--port", str(port)]
    with logfile.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    copies: list[float] = []
    uploads: list[float] = []
    try:
        with httpx.Client(base_url=base, timeout=httpx.Timeout(600, connect=10)) as client:
            _wait_up(client, server, logfile)
            name, value = _session_cookie(data_dir, base)
            client.cookies.set(name, value)
            tus_upload(client, small)
            warmed = _memory(server.pid)
            log(NAME, f"server at {warmed['VmHWM'] / 1024:.0f} MB peak after a 1 MiB warm-up upload")
            for rep, copy_first in alternating(reps):
                order = ("copy", "upload") if copy_first else ("upload", "copy")
                for side in order:
                    if side == "copy":
                        copies.append(plain_copy(video, workdir / "copy.bin"))
                    else:
                        seconds, done = tus_upload(client, video)
                        uploads.append(seconds)
                        if done["size"] != size:
                            raise RuntimeError(f"the server kept {done['size']} of {size} bytes")
                        _drop_stored(data_dir)
                log(NAME, f"rep {rep + 1}: copy {copies[-1]:.1f} s, upload {uploads[-1]:.1f} s")
            peak = _memory(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    mb = size / 1e6
    speed.baseline = mb / median(copies)
    speed.subject = mb / median(uploads)
    speed.ratio = ratio(speed.subject, speed.baseline)
    speed.passed = speed.ratio >= 0.5
    speed.samples = {"copy_s": copies, "upload_s": uploads}
    speed.details = {"bytes": size, "chunk_bytes": CHUNK}
    speed.notes.append(
        f"{size / MIB:,.0f} MiB over loopback HTTP to `credflow serve` (tus create, {CHUNK // MIB} MiB PATCHes, "
        "completion: sniff and move into the store) against a read + write + fsync copy on the same disk; "
        "the client shares the 2 cores"
    )
    memory.baseline = warmed["VmHWM"] / 1024
    memory.subject = peak["VmHWM"] / 1024
    memory.ratio = memory.subject / memory.baseline
    memory.passed = memory.subject < TARGET_MB
    memory.samples = {"peak_mb": [memory.subject]}
    memory.details = {"upload_bytes": size, "uploads": reps}
    memory.notes.append(
        f"VmHWM of `credflow serve --in-process` over {reps} uploads of {size / MIB:,.0f} MiB; "
        f"peak - warm-up = {memory.subject - memory.baseline:+.1f} MB"
    )
    return [speed, memory]


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _drop_stored(data_dir: Path) -> None:
    """Delete the stored uploads between repetitions (the disk holds one copy at a time)."""
    folder = data_dir / "objects" / "uploads"
    for entry in folder.glob("*") if folder.is_dir() else []:
        if entry.is_file():
            entry.unlink()
