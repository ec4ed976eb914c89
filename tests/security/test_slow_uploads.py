"""Finding 5 over a real server: slow uploads hold no worker thread, idle and overlong bodies end with 408."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.demo_reviewers import free_port, running_server
from credflow.services import Services, build_services
from credflow.settings import load_settings
from credflow.storage.local import LocalStore
from tests.conftest import ROOT
from tests.utils.review_world import assign, udl_submission
from web.app import create_app

UPLOADS = 50
TRICKLE_SECONDS = 30
#: The issue's bound for /healthz and a review page while the uploads trickle.
ANSWER_BOUND_S = 1.0

pytestmark = pytest.mark.slow


def _services(folder: Path, **overrides: Any) -> Services:
    settings = load_settings(data_dir=folder / "data", catalog_dir=ROOT / "rubrics", **overrides)
    return build_services(settings)


def _store(services: Services) -> LocalStore:
    assert isinstance(services.store, LocalStore)
    return services.store


def _upload_url(services: Services, size: int = 1 << 20) -> str:
    """A genuine upload URL's path and query, as POST /api/uploads hands out."""
    target = _store(services).presigned_upload(f"uploads/{uuid.uuid4().hex}", expires_in=3600, max_bytes=size)
    return target.url.removeprefix(services.settings.public_url)


def _partials(services: Services) -> list[Path]:
    folder = _store(services).root / "uploads"
    return [p for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []


def _wait_for(condition: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _start_put(port: int, path: str, length: int) -> socket.socket:
    """A PUT whose headers are sent and whose body has not started."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pdf\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body the server sends back on ``sock`` (read until it closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@dataclass
class Sample:
    path: str
    status: int
    seconds: float


def test_fifty_slow_uploads_leave_the_pages_answering(tmp_path: Path) -> None:
    services = _services(tmp_path, upload_concurrency_per_client=UPLOADS)
    applied = udl_submission(services, tmp_path, name="Ana Alvarez")
    review_page = assign(services, applied.submission_id).path
    stop = threading.Event()
    socks: list[socket.socket] = []

    def trickle() -> None:
        # One byte on one socket every TRICKLE_SECONDS*... spread out: each socket gets a byte every 2 s.
        turn = 0
        while not stop.wait(2 / UPLOADS):
            try:
                socks[turn % UPLOADS].sendall(b"%")
            except OSError:
                return
            turn += 1

    try:
        with running_server(create_app(services), port := free_port()) as web:
            socks.extend(_start_put(port, _upload_url(services), length=1000) for _ in range(UPLOADS))
            trickler = threading.Thread(target=trickle, name="trickle", daemon=True)
            trickler.start()
            # Every upload has reached its route and opened its partial file: all 50 are in flight.
            _wait_for(lambda: len(_partials(services)) == UPLOADS, "the 50 uploads to start")

            samples: list[Sample] = []
            with httpx.Client(base_url=web, timeout=20) as client:
                end = time.monotonic() + TRICKLE_SECONDS
                while time.monotonic() < end:
                    for path in ("/healthz", review_page):
                        start = time.perf_counter()
                        status = client.get(path).status_code
                        samples.append(Sample(path, status, time.perf_counter() - start))
                    time.sleep(0.25)
                in_flight = len(_partials(services))
            stop.set()
            trickler.join(timeout=10)
            for sock in socks:
                sock.close()
            # Each broken-off upload deletes its partial file.
            _wait_for(lambda: not _partials(services), "the partial files to be deleted")
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        services.close()

    latencies = [s.seconds for s in samples]
    print(
        f"\n{len(samples)} answers during {UPLOADS} slow uploads: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert in_flight == UPLOADS  # still trickling when the last page answered
    assert {s.path for s in samples} == {"/healthz", review_page} and len(samples) >= 20
    assert [s for s in samples if s.status != 200] == []
    assert [s for s in samples if s.seconds >= ANSWER_BOUND_S] == []


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Services, int]]:
    services = _services(tmp_path, **request.param)
    with running_server(create_app(services), port := free_port()):
        yield services, port
    services.close()


@pytest.mark.parametrize("served", [{"upload_idle_seconds": 1}], indirect=True)
def test_a_silent_upload_ends_with_408_and_its_partial_file_is_deleted(served: tuple[Services, int]) -> None:
    services, port = served
    path = _upload_url(services)
    with _start_put(port, path, length=1000) as sock:
        sock.sendall(b"%PDF-1.7 ")
        status, body = _answer(sock)  # then nothing more: the server gives up after a second of silence
    assert status == 408
    assert body["detail"] == "no data arrived for 1 second; nothing was kept: send it again"
    assert _partials(services) == [] and not _store(services).exists(path.split("?")[0].removeprefix("/api/store/"))


@pytest.mark.parametrize("served", [{"upload_idle_seconds": 3, "upload_body_seconds": 3}], indirect=True)
def test_an_upload_that_outlasts_the_body_timeout_ends_with_408(served: tuple[Services, int]) -> None:
    services, port = served
    with _start_put(port, _upload_url(services), length=1000) as sock:
        done = threading.Event()

        def trickle() -> None:
            while not done.wait(0.3):
                try:
                    sock.sendall(b"%")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        try:
            status, body = _answer(sock)
        finally:
            done.set()
    assert status == 408
    assert body["detail"] == "the request body took longer than 3 seconds to arrive; nothing was kept: send it again"
    assert _partials(services) == []


@pytest.mark.parametrize("served", [{"upload_concurrency_per_client": 2}], indirect=True)
def test_one_upload_at_a_time_per_url_and_a_few_per_address(served: tuple[Services, int]) -> None:
    services, port = served
    first, second = _upload_url(services), _upload_url(services)
    with _start_put(port, first, length=4) as one, _start_put(port, second, length=4) as two:
        one.sendall(b"%")
        two.sendall(b"%")
        _wait_for(lambda: len(_partials(services)) == 2, "two uploads to start")
        base = f"http://127.0.0.1:{port}"
        again = httpx.put(base + first, content=b"%PDF", timeout=20)
        assert again.status_code == 409 and "already receiving a file" in again.json()["detail"]
        third = httpx.put(base + _upload_url(services), content=b"%PDF", timeout=20)
        assert third.status_code == 429 and third.headers["Retry-After"] == "10"
        assert "2 uploads are already arriving from this address" in third.json()["detail"]
        one.sendall(b"PDF")
        assert _answer(one)[0] == 201
    # Both finished or broken off: the URL and the address take uploads again.
    _wait_for(lambda: not _partials(services), "the second upload to be dropped")
    assert httpx.put(base + _upload_url(services), content=b"%PDF", timeout=20).status_code == 201
