"""Resumable uploads: tus to the local store and S3 multipart (moto server): who, what, resume, completion, claim."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from fastapi.testclient import TestClient

from credflow.db.models import utcnow
from credflow.services import Services, build_services
from credflow.storage.s3 import S3Store
from tests.utils.identity import session_cookie
from tests.utils.uploads import (
    TUS,
    VIDEO_CREDENTIAL,
    VIDEO_REQUIREMENT,
    mp4_bytes,
    tus_create,
    tus_patch,
)
from web.api.resumable import TUS_CHUNK_BYTES, resumable_dir, sweep_resumable
from web.api.uploads import read_grant, take_uploads
from web.app import create_app

LIMIT = 4 << 20  # CREDFLOW_INGEST_MAX_BYTES here: the video requirement's own 4 GiB is capped to 4 MiB
ANA, BEN = "ana@example.org", "ben@example.org"


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(make_settings: Any) -> Iterator[Services]:
    svc = build_services(make_settings(ingest_max_bytes=LIMIT))
    yield svc
    svc.close()


def _client(services: Services, clock: Clock, email: str | None) -> TestClient:
    client = TestClient(create_app(services, now=clock))
    if email is not None:
        name, value = session_cookie(services, email, now=clock())
        client.cookies.set(name, value)
    return client


@pytest.fixture
def ana(services: Services, clock: Clock) -> TestClient:
    return _client(services, clock, ANA)


@pytest.fixture
def ben(services: Services, clock: Clock) -> TestClient:
    return _client(services, clock, BEN)


def _complete(client: TestClient, location: str) -> httpx.Response:
    return client.post(f"{location}/complete", json={})


def _claimed_bytes(services: Services, email: str, reference: str, clock: Clock) -> bytes:
    """What the intake reads when a submission names ``reference`` (the grants' own claim path)."""
    [taken] = take_uploads(services, [reference], email=email, credential_id=VIDEO_CREDENTIAL, now=clock())
    try:
        return taken.upload.stream.read()
    finally:
        taken.upload.stream.close()


# --- tus, the local store ---------------------------------------------------------------------------


def test_the_browser_learns_to_speak_tus_to_the_local_store(ana: TestClient, services: Services) -> None:
    config = ana.get("/uploads/resumable")
    assert config.json() == {"protocol": "tus", "tus_endpoint": "/uploads/tus/", "chunk_bytes": TUS_CHUNK_BYTES}
    options = ana.options("/uploads/tus/", headers=TUS)
    assert options.status_code == 204 and "creation" in options.headers["Tus-Extension"]


def test_signed_out_visitors_can_neither_create_nor_learn_the_protocol(services: Services, clock: Clock) -> None:
    stranger = _client(services, clock, None)
    assert stranger.get("/uploads/resumable").status_code == 401
    refused = tus_create(stranger, 1000)
    assert refused.status_code == 401 and "sign in" in refused.json()["detail"]
    assert not resumable_dir(services).exists() or not any(resumable_dir(services).iterdir())


def test_a_file_over_the_requirement_limit_is_refused_before_a_byte(ana: TestClient, services: Services) -> None:
    refused = tus_create(ana, LIMIT + 1)
    assert refused.status_code == 413
    detail = "discussion.mp4 is 4,194,305 bytes, over the 4,194,304-byte limit for this requirement"
    assert refused.json()["detail"] == detail
    assert not resumable_dir(services).exists() or not any(p.is_file() for p in resumable_dir(services).iterdir())


@pytest.mark.parametrize(
    ("filename", "filetype", "says"),
    [
        ("discussion.pdf", "application/pdf", "not a file this requirement accepts"),
        ("discussion", "video/mp4", "a name ending in .mp4, .mov"),
        ("discussion.mp4", "application/pdf", "is of type application/pdf, not a video"),
    ],
)
def test_a_file_of_another_kind_is_refused_before_a_byte(
    ana: TestClient, filename: str, filetype: str, says: str
) -> None:
    refused = tus_create(ana, 1000, filename, filetype=filetype)
    assert refused.status_code == 415 and says in refused.json()["detail"]


def test_a_body_sent_with_the_creation_or_an_unknown_requirement_is_refused(ana: TestClient) -> None:
    with_body = ana.post(
        "/uploads/tus/",
        content=b"x" * 10,
        headers={
            **TUS,
            "Upload-Length": "10",
            "Upload-Metadata": "filename ZC5tcDQ=,filetype ,credential eA==,requirement eA==",
        },
    )
    assert with_body.status_code == 400
    unknown = tus_create(ana, 10, requirement="no_such_thing")
    assert unknown.status_code == 422 and "has no requirement 'no_such_thing'" in unknown.json()["detail"]


def test_an_upload_resumes_from_the_offset_head_reports_and_completes_into_a_claimable_upload_id(
    ana: TestClient, services: Services, clock: Clock
) -> None:
    data = mp4_bytes(3 * (1 << 20) + 12345)
    created = tus_create(ana, len(data))
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith("http://testserver/uploads/tus/")

    half = len(data) // 2
    assert tus_patch(ana, location, 0, data[:half]).headers["Upload-Offset"] == str(half)
    # The connection dropped here; the client asks where to go on.
    head = ana.head(location, headers=TUS)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(half)
    assert head.headers["Upload-Length"] == str(len(data))
    early = _complete(ana, location)
    assert early.status_code == 409 and f"{half:,} of {len(data):,} bytes arrived" in early.json()["detail"]
    stale = tus_patch(ana, location, 0, data[:100])  # a resend from the start is refused: offsets must match
    assert stale.status_code == 409
    assert tus_patch(ana, location, half, data[half:]).headers["Upload-Offset"] == str(len(data))

    done = _complete(ana, location)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["filename"] == "discussion.mp4" and body["size"] == len(data)
    assert body["description"] == "an MP4 video"
    assert body["reference"] == f"{VIDEO_REQUIREMENT}:{body['upload_id']}"
    grant = read_grant(services.settings.keyring, body["upload_id"], tz=clock().tzinfo)
    assert (grant.credential_id, grant.requirement_key, grant.max_bytes) == (VIDEO_CREDENTIAL, VIDEO_REQUIREMENT, LIMIT)
    assert grant.content_type == "video/mp4" and grant.upload_uuid == location.rsplit("/", 1)[1][:32]
    assert services.store.get_bytes(grant.key) == data
    # The working copy left for the store (moved, not copied); a retried completion gets the same answer.
    assert not (resumable_dir(services) / location.rsplit("/", 1)[1]).exists()
    assert _complete(ana, location).json() == body
    assert _claimed_bytes(services, ANA, body["reference"], clock) == data


def test_another_persons_upload_is_not_found(ana: TestClient, ben: TestClient, services: Services) -> None:
    data = mp4_bytes(100_000)
    location = tus_create(ana, len(data)).headers["Location"]
    assert tus_patch(ben, location, 0, data).status_code == 404
    assert ben.head(location, headers=TUS).status_code == 404
    assert _complete(ben, location).status_code == 404
    assert ben.delete(location, headers=TUS).status_code == 404
    assert ana.head(location, headers=TUS).headers["Upload-Offset"] == "0"  # Ben wrote nothing
    forged = location[:-1] + ("0" if location[-1] != "0" else "1")
    assert tus_patch(ana, forged, 0, data).status_code == 404


def test_bytes_past_the_declared_length_are_refused(ana: TestClient) -> None:
    location = tus_create(ana, 1000).headers["Location"]
    assert tus_patch(ana, location, 0, mp4_bytes(1001)).status_code == 400
    assert ana.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_bytes_that_are_not_a_video_are_refused_on_completion_and_not_kept(ana: TestClient, services: Services) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 100
    location = tus_create(ana, len(pdf)).headers["Location"]
    tus_patch(ana, location, 0, pdf)
    refused = _complete(ana, location)
    assert refused.status_code == 415
    assert (
        refused.json()["detail"]
        == "discussion.mp4 is a PDF document, not a MP4, MOV, M4V, WEBM or MKV file; it was not kept"
    )
    uid = location.rsplit("/", 1)[1]
    assert not (resumable_dir(services) / uid).exists()
    assert not services.store.exists(f"uploads/{uid[:32]}")


def test_the_sweep_deletes_unfinished_uploads_only_after_the_resume_window(ana: TestClient, services: Services) -> None:
    location = tus_create(ana, 1000).headers["Location"]
    uid = location.rsplit("/", 1)[1]
    tus_patch(ana, location, 0, mp4_bytes(500))
    now = (resumable_dir(services) / uid).stat().st_mtime
    assert sweep_resumable(services, now=now + 3600) == []
    swept = sweep_resumable(services, now=now + timedelta(days=2).total_seconds())
    assert swept == [uid, f"{uid}.info"]


# --- the page and its assets -------------------------------------------------------------------------


def test_the_try_page_runs_this_origins_scripts_and_names_the_requirement(ana: TestClient, services: Services) -> None:
    page = ana.get("/uploads/try")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert 'src="/static/upload.js"' in page.text and 'src="/static/vendor/tus.min.js"' in page.text
    assert 'class="evidence-upload card"' in page.text
    assert f'data-max-bytes="{LIMIT}"' in page.text and 'data-accept=".mp4,.mov,.qt,.m4v,.webm,.mkv"' in page.text
    # Other pages still run no script at all.
    assert "script-src" not in ana.get("/me").headers["Content-Security-Policy"]
    script = ana.get("/static/upload.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "form.evidence-upload" in script.text


def test_the_try_page_needs_a_session_and_says_what_arrived(ana: TestClient, services: Services, clock: Clock) -> None:
    stranger = _client(services, clock, None)
    assert stranger.get("/uploads/try", follow_redirects=False).headers["location"].startswith("/sign-in?next=")
    data = mp4_bytes(200_000)
    location = tus_create(ana, len(data)).headers["Location"]
    tus_patch(ana, location, 0, data)
    upload_id = _complete(ana, location).json()["upload_id"]
    page = ana.get("/uploads/try")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    fields = {"csrf": csrf, "credential": VIDEO_CREDENTIAL, "requirement": VIDEO_REQUIREMENT, "upload_id": upload_id}
    posted = ana.post("/uploads/try", data=fields, files={"file": ("", b"", "application/octet-stream")})
    assert posted.status_code == 200 and "discussion.mp4 arrived whole (195.3 KB)" in posted.text
    forged = ana.post("/uploads/try", data={**fields, "csrf": "x"}, files={"file": ("", b"")})
    assert forged.status_code == 403


# --- S3 multipart, straight to the bucket (moto server) --------------------------------------------


@pytest.fixture
def s3_services(make_settings: Any, moto_endpoint: str) -> Iterator[Services]:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    bucket = f"credflow-resumable-{uuid.uuid4().hex[:12]}"  # moto's server lives for the module
    s3.create_bucket(Bucket=bucket)
    svc = build_services(make_settings(ingest_max_bytes=64 << 20))
    yield dataclasses.replace(svc, store=S3Store(bucket=bucket, prefix="t", client=s3))
    svc.close()


def _start(
    client: TestClient, size: int, filename: str = "discussion.mp4", content_type: str = "video/mp4"
) -> httpx.Response:
    body = {
        "credential_id": VIDEO_CREDENTIAL,
        "requirement_key": VIDEO_REQUIREMENT,
        "filename": filename,
        "size": size,
        "content_type": content_type,
    }
    return client.post("/uploads/s3", json=body)


def _put_part(client: TestClient, token: str, number: int, data: bytes) -> None:
    url = client.post("/uploads/s3/parts", json={"token": token, "numbers": [number]}).json()["urls"][str(number)]
    sent = httpx.put(url, content=data)
    assert sent.status_code == 200, sent.text


def test_with_s3_parts_go_to_the_bucket_and_a_resumed_upload_skips_what_arrived(
    s3_services: Services, clock: Clock, moto_endpoint: str
) -> None:
    ana = _client(s3_services, clock, ANA)
    assert ana.get("/uploads/resumable").json()["protocol"] == "s3"
    assert moto_endpoint in ana.get("/uploads/try").headers["Content-Security-Policy"]
    assert ana.post("/uploads/tus/", headers=TUS).status_code in (404, 405)  # no tus with S3

    data = mp4_bytes((16 << 20) + 54321, seed=3)
    started = _start(ana, len(data))
    assert started.status_code == 201, started.text
    token, part = started.json()["token"], started.json()["part_bytes"]
    assert (part, started.json()["parts"]) == (16 << 20, 2)

    _put_part(ana, token, 1, data[:part])
    # The tab was closed; the page asks what the bucket holds and sends only the rest.
    status = ana.post("/uploads/s3/status", json={"token": token}).json()
    assert status["uploaded"] == [{"number": 1, "size": part}]
    early = ana.post("/uploads/s3/complete", json={"token": token})
    assert early.status_code == 409 and "parts 2 have not arrived" in early.json()["detail"]
    _put_part(ana, token, 2, data[part:])

    done = ana.post("/uploads/s3/complete", json={"token": token})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["size"] == len(data) and body["description"] == "an MP4 video"
    grant = read_grant(s3_services.settings.keyring, body["upload_id"], tz=clock().tzinfo)
    assert s3_services.store.size(grant.key) == len(data)
    again = ana.post("/uploads/s3/complete", json={"token": token})  # a retried completion
    assert again.status_code == 200 and again.json()["size"] == len(data)
    assert _claimed_bytes(s3_services, ANA, body["reference"], clock) == data


def test_with_s3_the_declared_size_and_kind_are_checked_before_the_upload_starts(
    s3_services: Services, clock: Clock
) -> None:
    ana = _client(s3_services, clock, ANA)
    assert _start(ana, (64 << 20) + 1).status_code == 413
    assert _start(ana, 1000, filename="talk.pdf").status_code == 415
    assert _start(ana, 1000, content_type="application/pdf").status_code == 415
    stranger = _client(s3_services, clock, None)
    assert _start(stranger, 1000).status_code == 401
    store = s3_services.store
    assert isinstance(store, S3Store)
    listed = store._client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert listed == []  # nothing was started for any of them


def test_with_s3_another_persons_token_is_not_found_and_a_forged_one_neither(
    s3_services: Services, clock: Clock
) -> None:
    ana, ben = _client(s3_services, clock, ANA), _client(s3_services, clock, BEN)
    token = _start(ana, 1000).json()["token"]
    for path in ("/uploads/s3/status", "/uploads/s3/complete", "/uploads/s3/abort"):
        assert ben.post(path, json={"token": token}).status_code == 404
    assert ben.post("/uploads/s3/parts", json={"token": token, "numbers": [1]}).status_code == 404
    assert ana.post("/uploads/s3/status", json={"token": token[:-2] + "xx"}).status_code == 404
    assert ana.post("/uploads/s3/parts", json={"token": token, "numbers": [2]}).status_code == 422
    # A grant is no multipart token, nor the other way round.
    with pytest.raises(Exception, match="403"):
        read_grant(s3_services.settings.keyring, token)


def test_with_s3_bytes_that_are_not_a_video_are_deleted_on_completion(s3_services: Services, clock: Clock) -> None:
    ana = _client(s3_services, clock, ANA)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 100
    started = _start(ana, len(pdf)).json()
    _put_part(ana, started["token"], 1, pdf)
    refused = ana.post("/uploads/s3/complete", json={"token": started["token"]})
    assert refused.status_code == 415 and "is a PDF document" in refused.json()["detail"]
    store = s3_services.store
    assert isinstance(store, S3Store)
    assert store._client.list_objects_v2(Bucket=store.bucket, Prefix="t/uploads/").get("KeyCount", 0) == 0


def test_with_s3_an_upload_started_too_long_ago_cannot_be_resumed(s3_services: Services, clock: Clock) -> None:
    ana = _client(s3_services, clock, ANA)
    token = _start(ana, 1000).json()["token"]
    clock.at += timedelta(hours=25)
    late = ana.post("/uploads/s3/status", json={"token": token})
    assert late.status_code in (401, 410)  # the session may have ended first; either way no resume
    if late.status_code == 410:
        assert "too long ago" in late.json()["detail"]
