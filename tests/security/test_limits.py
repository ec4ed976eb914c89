"""Findings 5, 6 and 8 over HTTP: body caps before and while reading, rate limits with Retry-After, the upload sweep."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from limits import parse

from cli.demo_reviewers import free_port, running_server
from cli.serve import sweep_uploads_forever
from credflow.db.models import utcnow
from credflow.services import Services, build_services
from credflow.storage.local import LocalStore
from web.api.uploads import SUBMIT_GRACE, sweep_abandoned_uploads
from web.app import create_app
from web.ratelimit import RateLimited, RateLimiter, Rule

CREDENTIAL = "openscied-anchoring-phenomenon"
MIB = 1 << 20


@pytest.fixture
def build(make_settings: Any) -> Iterator[Any]:
    made: list[Services] = []

    def make(**overrides: Any) -> Services:
        services = build_services(make_settings(**overrides))
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def _stored(services: Services) -> list[str]:
    root = services.settings.resolved_storage_dir
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _grant(client: TestClient, email: str) -> Any:
    body = {"email": email, "credential_id": CREDENTIAL, "requirement_key": "facilitation_plan"}
    return client.post("/api/uploads", json={**body, "filename": "plan.pdf", "size": 1000})


def _form(email: str, credential: str = "no-such-credential") -> dict[str, str]:
    return {"name": "Ana Alvarez", "email": email, "organisation": "Riverside", "credential_id": credential}


def _raw_request(port: int, head: str, body: bytes = b"") -> bytes:
    """Send ``head`` (and ``body``) on a raw socket and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_declared_length_over_the_cap_is_refused_before_a_byte_of_the_body(build: Any) -> None:
    services = build(ingest_max_bytes=10 * MIB)
    with running_server(create_app(services), port := free_port()):
        # 200 MB declared, nothing sent: the answer comes without the server waiting for the body.
        answer = _raw_request(
            port,
            "POST /api/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {200 * 1000 * 1000}\r\n\r\n",
        )
        store_answer = _raw_request(
            port,
            f"PUT /api/store/uploads/{'a' * 32}?expires=1&max_bytes=1&signature=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {11 * MIB}\r\n\r\n",
        )
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:200]
    detail = json.loads(body)["detail"]
    assert detail == (
        "the request body (190.7 MB) is over the 10.0 MB upload cap (CREDFLOW_INGEST_MAX_BYTES) plus "
        "1.0 MB of form fields; nothing was kept"
    )
    assert "GiB" not in detail
    assert store_answer.startswith(b"HTTP/1.1 413") and b"over the 10.0 MB limit" in store_answer
    assert _stored(services) == []


def test_a_body_without_a_length_is_stopped_once_it_passes_the_cap(build: Any) -> None:
    services = build(ingest_max_bytes=100_000)
    client = TestClient(create_app(services))

    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536):
            yield b"x" * 65536

    api = client.post(
        "/api/submissions", content=chunks(3 * MIB), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert api.status_code == 413
    assert api.json()["detail"] == (
        "the request body is over the 97.7 KB upload cap (CREDFLOW_INGEST_MAX_BYTES) plus 1.0 MB of form fields; "
        "nothing was kept"
    )
    page = client.post(  # a page's form: its own, smaller cap
        "/review/anything/submit",
        content=b"x" * 3 * MIB,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (
        page.status_code == 413 and page.text == "the request body (3.0 MB) is over the 2.0 MB limit; nothing was kept"
    )
    assert client.get("/healthz").status_code == 200
    assert _stored(services) == []


def test_upload_urls_are_rate_limited_per_applicant_with_retry_after(build: Any) -> None:
    client = TestClient(create_app(build(rate_limit_applicant="2/hour", rate_limit_client="100/hour")))
    assert [_grant(client, "ana@example.org").status_code for _ in range(2)] == [201, 201]
    refused = _grant(client, "ANA@example.org ")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(
        "too many upload URLs for this applicant (at most 2 per hour): try again in "
    )
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert _grant(client, "ben@example.org").status_code == 201  # another applicant's budget


def test_upload_urls_are_rate_limited_per_address_before_the_body_is_read(build: Any) -> None:
    client = TestClient(create_app(build(rate_limit_client="3/hour", rate_limit_applicant="100/hour")))
    assert [_grant(client, f"person{i}@example.org").status_code for i in range(3)] == [201, 201, 201]
    refused = _grant(client, "person4@example.org")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("too many upload URLs from this address (at most 3 per hour)")
    assert int(refused.headers["Retry-After"]) > 0
    # Even a malformed request is refused by the limit, before its body is parsed.
    assert client.post("/api/uploads", content=b"{not json").status_code == 429


def test_submissions_are_rate_limited_per_address_and_per_applicant(build: Any) -> None:
    client = TestClient(create_app(build(rate_limit_client="4/hour", rate_limit_applicant="2/hour")))
    statuses = [client.post("/api/submissions", data=_form("ana@example.org")).status_code for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    third = client.post("/api/submissions", data=_form("ana@example.org"))
    assert third.status_code == 429 and "for this applicant" in third.json()["detail"]
    assert "Retry-After" in third.headers
    # The address's budget: four submissions counted (the refused ones too), the fifth is refused up front.
    refused = client.post("/api/submissions", data=_form("ben@example.org"))
    assert refused.status_code == 429 and "submissions from this address" in refused.json()["detail"]
    resubmit = client.post("/api/submissions/abc/resubmit", data={})
    assert resubmit.status_code == 429
    assert client.get("/healthz").status_code == 200  # pages are not limited


def test_the_limits_are_validated_settings(make_settings: Any) -> None:
    from credflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"CREDFLOW_RATE_LIMIT_CLIENT: .*'lots' is not a rate limit"):
        make_settings(rate_limit_client="lots")
    with pytest.raises(ConfigurationError, match="CREDFLOW_UPLOAD_BODY_SECONDS \\(5\\) must be at least"):
        make_settings(upload_idle_seconds=10, upload_body_seconds=5)
    with pytest.raises(ConfigurationError, match="CREDFLOW_UPLOAD_IDLE_SECONDS"):
        make_settings(upload_idle_seconds=0)


def test_the_limiter_spends_every_budget_or_none() -> None:
    limiter = RateLimiter()
    tight = Rule("a", (parse("1/hour"),), what="tries", per="for this key")
    loose = Rule("b", (parse("5/hour"),), what="tries", per="from here")
    limiter.hit((tight, "k"), (loose, "k"))
    with pytest.raises(RateLimited) as refused:
        limiter.hit((tight, "k"), (loose, "k"))
    assert refused.value.rule is tight and "at most 1 per hour" in refused.value.message
    # The refused hit spent nothing of the loose budget: four more fit.
    for _ in range(4):
        limiter.hit((loose, "k"))
    with pytest.raises(RateLimited):
        limiter.hit((loose, "k"))


def test_the_app_cancels_its_limiters_expiry_timer_when_it_shuts_down(build: Any) -> None:
    """``limits`` keeps a non-daemon Timer after each hit: left pending, it holds the process open."""
    app = create_app(build())
    (limiter,) = [m.kwargs["limiter"] for m in app.user_middleware if "limiter" in m.kwargs]
    assert isinstance(limiter, RateLimiter)
    pending = threading.Timer(3600, lambda: None)  # as the storage's own, but one that would not end by itself
    with TestClient(app):
        limiter._storage.timer = pending
        pending.start()
    assert pending.finished.is_set()  # cancelled by the lifespan's shutdown
    pending.join(timeout=30)
    assert not pending.is_alive()


def test_abandoned_local_uploads_are_swept_once_no_grant_can_claim_them(build: Any) -> None:
    services = build(upload_url_seconds=3600)
    store = services.store
    assert isinstance(store, LocalStore)
    now = utcnow()
    kept_for = timedelta(seconds=3600) + SUBMIT_GRACE
    store.put_stream("uploads/" + "a" * 32, io.BytesIO(b"old"))
    store.put_stream("uploads/" + "b" * 32, io.BytesIO(b"recent"))
    store.put_stream("evidence/" + "c" * 32, io.BytesIO(b"evidence"))
    partial = store.begin_put("uploads/" + "d" * 32)
    partial.write(b"half")
    old = (now - kept_for - timedelta(hours=2)).timestamp()
    recent = (now - kept_for + timedelta(minutes=5)).timestamp()
    for path in (store.root / "uploads" / ("a" * 32), partial.temp_path, store.root / "evidence" / ("c" * 32)):
        os.utime(path, (old, old))
    os.utime(store.root / "uploads" / ("b" * 32), (recent, recent))

    swept = sweep_abandoned_uploads(services, now=now)

    assert swept == sorted(["uploads/" + "a" * 32, f"uploads/{partial.temp_path.name}"])
    assert sorted(_stored(services)) == ["evidence/" + "c" * 32, "uploads/" + "b" * 32]
    # Two hours later the recent one is past its grant's use too.
    assert sweep_abandoned_uploads(services, now=now + timedelta(hours=2)) == ["uploads/" + "b" * 32]


def test_credflow_serve_sweeps_abandoned_uploads_when_it_starts(build: Any) -> None:
    services = build(upload_url_seconds=3600)
    store = services.store
    assert isinstance(store, LocalStore)
    store.put_stream("uploads/" + "a" * 32, io.BytesIO(b"unclaimed"))
    stopped = threading.Event()
    stopped.set()  # one pass, then stop
    sweep_uploads_forever(services, stopped, clock=lambda: utcnow() + timedelta(days=3))
    assert _stored(services) == []


def test_nonsense_lengths_are_refused_and_the_server_keeps_answering(build: Any) -> None:
    services = build()
    store = services.store
    assert isinstance(store, LocalStore)
    upload = store.presigned_upload("uploads/" + "f" * 32, expires_in=600, max_bytes=1000)
    path = upload.url.removeprefix(services.settings.public_url)
    with running_server(create_app(services), port := free_port()) as web:
        for length in ("9" * 5000, "-5", "12abc", "99999999999999999999999"):
            answer = _raw_request(port, f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n")
            assert answer.split(b"\r\n", 1)[0].split()[1] in (b"400", b"413"), (length, answer[:100])
        assert httpx.get(f"{web}/healthz", timeout=20).status_code == 200
    assert not store.exists("uploads/" + "f" * 32)
