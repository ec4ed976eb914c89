"""Upload URLs for the HTTP intake: grant, upload straight to storage, submit by reference (local store and S3)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.db.models import EvidenceItem, utcnow
from credflow.errors import ConfigurationError
from credflow.lifecycle import State
from credflow.services import Services
from credflow.storage.local import LocalStore
from credflow.storage.s3 import S3Store
from credflow.submissions import get_submission, transition
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers
from tests.utils.identity import api_token
from web.app import create_app

CREDENTIAL = "openscied-anchoring-phenomenon"
LIMIT = 200_000  # CREDFLOW_INGEST_MAX_BYTES in these tests: below the plan's own 25 MiB


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def services(make_settings: Any) -> Iterator[Services]:
    from credflow.services import build_services

    svc = build_services(make_settings(ingest_max_bytes=LIMIT, upload_url_seconds=600))
    yield svc
    svc.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def started() -> list[str]:
    """The submissions whose flow the app started."""
    return []


@pytest.fixture
def client(services: Services, clock: Clock, started: list[str]) -> TestClient:
    return TestClient(create_app(services, on_submitted=started.append, now=clock))


def _plan(tmp_path: Path, title: str = "Plan") -> bytes:
    return ev.pdf(tmp_path / f"{abs(hash(title))}.pdf", title).read_bytes()


def _grant(
    client: TestClient,
    *,
    email: str = "ana@example.org",
    size: int = 1000,
    requirement: str = "facilitation_plan",
    token: str | None = None,
    filename: str = "lesson plan.pdf",
) -> httpx.Response:
    body = {
        "email": email,
        "credential_id": CREDENTIAL,
        "requirement_key": requirement,
        "filename": filename,
        "size": size,
        "content_type": "application/pdf",
    }
    return client.post("/api/uploads", json=body, headers={"Authorization": f"Bearer {token}"} if token else {})


def _put(client: TestClient, grant: dict[str, Any], data: Any) -> httpx.Response:
    assert grant["method"] == "PUT"
    return client.put(grant["url"], content=data, headers=grant["headers"])


def _submit(
    client: TestClient,
    *,
    email: str = "ana@example.org",
    uploaded: list[str] | None = None,
    files: list[Any] | None = None,
    key: str | None = None,
    token: str | None = None,
) -> httpx.Response:
    data: dict[str, Any] = {
        "name": "Ana Alvarez",
        "email": email,
        "organisation": "Riverside Unified",
        "credential_id": CREDENTIAL,
        "answers": json.dumps(anchoring_answers()),
    }
    if uploaded:
        data["uploaded"] = uploaded
    if files:
        data["requirement_keys"] = ["facilitation_plan"] * len(files)
    return client.post(
        "/api/submissions",
        data=data,
        files=files or None,
        headers={
            **({"Idempotency-Key": key} if key else {}),
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )


def _evidence(services: Services, submission_id: str) -> list[EvidenceItem]:
    with services.db.session() as session:
        items = list(session.scalars(select(EvidenceItem).where(EvidenceItem.submission_id == submission_id)))
        session.expunge_all()
        return items


def _uploads_left(services: Services) -> list[str]:
    store = services.store
    assert isinstance(store, LocalStore)
    folder = store.root / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_uploaded_file_is_submitted_and_validated_like_a_multipart_one(
    client: TestClient, services: Services, tmp_path: Path, clock: Clock, started: list[str]
) -> None:
    plan = _plan(tmp_path)
    answer = _grant(client, size=len(plan))
    assert answer.status_code == 201, answer.text
    grant = answer.json()
    assert grant["max_bytes"] == LIMIT and grant["fields"] is None
    assert datetime.fromisoformat(grant["expires_at"]) == clock.at + timedelta(seconds=600)
    assert grant["reference"] == f"facilitation_plan:{grant['upload_id']}"
    _, claims = URLSafeSerializer("any key").loads_unsafe(grant["upload_id"])
    assert "ana@example.org" not in json.dumps(claims)  # signed, not encrypted: no address in it
    path = urlsplit(grant["url"]).path
    assert path.startswith("/api/store/uploads/") and "lesson" not in path  # a server key, never the name

    put = _put(client, grant, plan)
    assert put.status_code == 201, put.text
    assert put.json() == {"size": len(plan), "sha256": hashlib.sha256(plan).hexdigest()}

    sent = _submit(client, uploaded=[grant["reference"]])
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["created"] is True and started == [body["submission_id"]]
    [item] = _evidence(services, body["submission_id"])
    assert item.sha256 == hashlib.sha256(plan).hexdigest() and item.size == len(plan)
    assert item.original_name == "lesson plan.pdf" and item.declared_type == "application/pdf"
    assert item.storage_key.startswith("evidence/") and services.store.get_bytes(item.storage_key) == plan
    # The upload object is gone (the evidence has its copy); only the used-marker is left.
    assert _uploads_left(services) == [f"{path.rsplit('/', 1)[1]}.used"]

    multipart = _submit(client, email="bo@example.org", files=[("files", ("lesson plan.pdf", plan, "application/pdf"))])
    [twin] = _evidence(services, multipart.json()["submission_id"])
    for field in ("requirement_key", "position", "original_name", "sha256", "size", "declared_type"):
        assert getattr(item, field) == getattr(twin, field), field
    outcomes = [run_validation(services, sid) for sid in (body["submission_id"], multipart.json()["submission_id"])]
    assert outcomes[0] == outcomes[1] and outcomes[0].state is State.AWAITING_REVIEW
    [validated] = _evidence(services, body["submission_id"])
    assert validated.sniffed_format == "pdf" and validated.validation == []


def test_an_uploaded_file_with_the_wrong_content_is_returned_like_a_multipart_one(
    client: TestClient, services: Services
) -> None:
    fake = b"this is not a PDF at all\n" * 40
    grant = _grant(client, size=len(fake)).json()
    assert _put(client, grant, fake).status_code == 201
    uploaded = _submit(client, uploaded=[grant["reference"]]).json()["submission_id"]
    multipart = _submit(client, email="bo@example.org", files=[("files", ("lesson plan.pdf", fake, "application/pdf"))])
    first = run_validation(services, uploaded)
    second = run_validation(services, multipart.json()["submission_id"])
    assert first.state is State.RETURNED and first == second


def test_an_expired_upload_url_is_refused_and_stores_nothing(
    client: TestClient, services: Services, clock: Clock, tmp_path: Path
) -> None:
    grant = _grant(client).json()
    clock.advance(601)
    put = _put(client, grant, _plan(tmp_path))
    assert put.status_code == 403 and "expired" in put.text
    assert _uploads_left(services) == []


def test_a_forged_or_altered_upload_url_is_refused(client: TestClient, services: Services, tmp_path: Path) -> None:
    grant = _grant(client).json()
    parts = urlsplit(grant["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    flipped = query["signature"][:-1] + ("1" if query["signature"].endswith("0") else "0")
    attempts = [
        {**query, "signature": flipped},
        {**query, "max_bytes": str(int(query["max_bytes"]) * 100)},
        {**query, "expires": str(int(query["expires"]) + 3600)},
    ]
    for altered in attempts:
        url = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(altered)}"
        answer = client.put(url, content=b"%PDF-1.7 forged")
        assert answer.status_code == 403 and "not valid" in answer.text, altered
    other_key = f"{parts.scheme}://{parts.netloc}/api/store/uploads/{'0' * 32}?{parts.query}"
    assert client.put(other_key, content=b"x").status_code == 403
    assert _uploads_left(services) == []
    assert _put(client, grant, _plan(tmp_path)).status_code == 201  # the genuine URL still works


def test_an_oversize_upload_is_refused_with_413_and_nothing_is_kept(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    declared = _grant(client, size=LIMIT + 1)
    assert declared.status_code == 413
    assert "'lesson plan.pdf' is 200,001 bytes, over the 200,000-byte limit for 'facilitation_plan'" in declared.text
    too_big = _grant(client, size=3 * LIMIT).json()["detail"]
    assert too_big == "file 'lesson plan.pdf' is 585.9 KB, over the 195.3 KB limit for 'facilitation_plan'"

    grant = _grant(client).json()
    with_length = _put(client, grant, b"%" * (LIMIT + 1))
    assert with_length.status_code == 413 and "nothing was kept" in with_length.text

    # A declared Content-Length over the cap is refused before any byte is read.
    declared_only = client.put(grant["url"], content=b"%PDF", headers={"Content-Length": str(LIMIT + 1)})
    assert declared_only.status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the store's byte cap stops it
        for _ in range(5):
            yield b"%" * (LIMIT // 4)

    streamed = _put(client, grant, chunked())
    assert streamed.status_code == 413
    assert _uploads_left(services) == []
    store = services.store
    assert isinstance(store, LocalStore)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    refused = _submit(client, uploaded=[grant["reference"]])
    assert refused.status_code == 409 and "never completed" in refused.text

    exact = _put(client, grant, b"%" * LIMIT)  # exactly the limit is fine
    assert exact.status_code == 201 and exact.json()["size"] == LIMIT


def test_another_applicants_upload_is_refused(client: TestClient, services: Services, tmp_path: Path) -> None:
    grant = _grant(client, email="ana@example.org").json()
    assert _put(client, grant, _plan(tmp_path)).status_code == 201
    stolen = _submit(client, email="bo@example.org", uploaded=[grant["reference"]])
    assert stolen.status_code == 403 and "issued to another applicant" in stolen.text
    assert len(_uploads_left(services)) == 1  # Ana's upload is untouched
    assert _submit(client, email="Ana@Example.org", uploaded=[grant["reference"]]).status_code == 201


def test_a_never_completed_upload_and_bad_references_get_clear_errors(client: TestClient, tmp_path: Path) -> None:
    grant = _grant(client).json()
    never = _submit(client, uploaded=[grant["reference"]])
    assert never.status_code == 409
    assert "the upload of 'lesson plan.pdf' for 'facilitation_plan' was never completed" in never.text
    assert _submit(client, uploaded=["facilitation_plan"]).status_code == 422
    forged = _submit(client, uploaded=[f"facilitation_plan:{grant['upload_id'][:-2]}xx"])
    assert forged.status_code == 403 and "forged or altered" in forged.text
    wrong_key = _submit(client, uploaded=[f"dqb_artifact:{grant['upload_id']}"])
    assert wrong_key.status_code == 422 and "cannot answer 'dqb_artifact'" in wrong_key.text
    assert _put(client, grant, _plan(tmp_path)).status_code == 201
    twice = _submit(client, uploaded=[grant["reference"], grant["reference"]])
    assert twice.status_code == 422 and "named twice" in twice.text


def test_grants_are_refused_for_text_answers_and_unknown_requirements(client: TestClient) -> None:
    text = _grant(client, requirement="reflection")
    assert text.status_code == 422 and "written answer" in text.text
    unknown = _grant(client, requirement="nope")
    assert unknown.status_code == 422 and "no requirement 'nope'" in unknown.text
    assert _grant(client, email="not-an-email").status_code == 422


def test_an_upload_joins_one_submission_only_but_a_retry_with_the_same_key_is_idempotent(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    grant = _grant(client).json()
    assert _put(client, grant, _plan(tmp_path)).status_code == 201
    first = _submit(client, uploaded=[grant["reference"]], key="send-1")
    assert first.status_code == 201
    ana = api_token(services, "ana@example.org")
    retry = _submit(client, uploaded=[grant["reference"]], key="send-1", token=ana)
    assert retry.status_code == 201, retry.text
    assert retry.json()["submission_id"] == first.json()["submission_id"] and retry.json()["created"] is False

    reused = _submit(client, uploaded=[grant["reference"]], key="send-2", token=ana)
    assert reused.status_code == 409
    assert f"already used by submission {first.json()['submission_id']}" in reused.text
    again = _put(client, grant, _plan(tmp_path, "Other"))
    assert again.status_code == 409 and "already used" in again.text
    assert len(_evidence(services, first.json()["submission_id"])) == 1


def test_a_returning_applicant_needs_their_token_and_resubmits_with_an_upload(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    first = _submit(client, files=[("files", ("plan.pdf", _plan(tmp_path), "application/pdf"))]).json()
    sid, token = first["submission_id"], api_token(services, "ana@example.org")
    bo = _submit(client, email="bo@example.org", files=[("files", ("p.pdf", _plan(tmp_path), "application/pdf"))])
    without = _grant(client)
    assert without.status_code == 403 and "send your applicant token" in without.text
    bo_token = api_token(services, "bo@example.org")
    wrong = _grant(client, token=bo_token)
    assert wrong.status_code == 403 and "not the one of ana@example.org" in wrong.text
    assert _grant(client, token="forged.token").status_code == 401

    with services.db.session() as session:
        sub = get_submission(session, sid)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
            transition(session, sub, state, actor="t")
    grant = _grant(client, token=token).json()
    revised = _plan(tmp_path, "Revised plan")
    assert _put(client, grant, revised).status_code == 201
    intruder = client.post(
        f"/api/submissions/{bo.json()['submission_id']}/resubmit",
        headers={"Authorization": f"Bearer {bo_token}"},
        data={"uploaded": [grant["reference"]]},
    )
    assert intruder.status_code == 403 and "another applicant" in intruder.text
    again = client.post(
        f"/api/submissions/{sid}/resubmit",
        headers={"Authorization": f"Bearer {token}"},
        data={"uploaded": [grant["reference"]]},
    )
    assert again.status_code == 201, again.text
    assert again.json()["attempt"] == 2
    [item] = _evidence(services, again.json()["submission_id"])
    assert item.sha256 == hashlib.sha256(revised).hexdigest()


def test_a_submission_after_the_grace_period_is_refused(client: TestClient, clock: Clock, tmp_path: Path) -> None:
    grant = _grant(client).json()
    assert _put(client, grant, _plan(tmp_path)).status_code == 201
    clock.advance(600 + 24 * 3600 + 1)
    late = _submit(client, uploaded=[grant["reference"]])
    assert late.status_code == 403 and "expired" in late.text


def test_the_schema_documents_the_upload_endpoints(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "post" in schema["paths"]["/uploads"] and "put" in schema["paths"]["/store/{key}"]
    grant = schema["components"]["schemas"]["UploadOut"]["properties"]
    assert {"upload_id", "url", "method", "headers", "fields", "expires_at", "max_bytes"} <= set(grant)
    form = schema["components"]["schemas"]["Body_create_submission_submissions_post"]["properties"]
    assert "uploaded" in form
    put_body = schema["paths"]["/store/{key}"]["put"]["requestBody"]["content"]
    assert "application/octet-stream" in put_body


def test_the_upload_url_lifetime_is_a_validated_setting(make_settings: Any) -> None:
    assert make_settings().upload_url_seconds == 3600
    for nonsense in (0, 30, 8 * 24 * 3600):
        with pytest.raises(ConfigurationError, match="CREDFLOW_UPLOAD_URL_SECONDS"):
            make_settings(upload_url_seconds=nonsense)


def test_with_s3_the_browser_posts_to_s3_and_credflow_refuses_what_s3_should_have(
    services: Services, moto_endpoint: str, tmp_path: Path
) -> None:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    bucket = "credflow-uploads-e2e"
    s3.create_bucket(Bucket=bucket)
    on_s3 = dataclasses.replace(services, store=S3Store(bucket=bucket, prefix="t", client=s3))
    client = TestClient(create_app(on_s3))

    plan = _plan(tmp_path)
    grant = _grant(client, size=len(plan)).json()
    assert grant["method"] == "POST" and grant["headers"] == {}
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    assert ["content-length-range", 0, LIMIT] in policy["conditions"]
    posted = httpx.post(grant["url"], data=grant["fields"], files={"file": ("x.pdf", plan, "application/pdf")})
    assert posted.status_code in (200, 201, 204), posted.text
    sent = _submit(client, uploaded=[grant["reference"]])
    assert sent.status_code == 201, sent.text
    [item] = _evidence(services, sent.json()["submission_id"])
    assert item.sha256 == hashlib.sha256(plan).hexdigest()
    assert on_s3.store.get_bytes(item.storage_key) == plan
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="t/uploads/").get("Contents", [])
    assert [obj["Key"].endswith(".used") for obj in listed] == [True]

    # moto does not enforce content-length-range (real S3 answers EntityTooLarge): credflow checks again.
    ana = api_token(services, "ana@example.org")
    big = _grant(client, token=ana).json()
    oversize = b"%" * (LIMIT + 1)
    httpx.post(big["url"], data=big["fields"], files={"file": ("x.pdf", oversize, "application/pdf")})
    refused = _submit(client, uploaded=[big["reference"]], token=ana)
    assert refused.status_code == 413 and "200,001 bytes, over the 200,000-byte limit; it was deleted" in refused.text
    assert not on_s3.store.exists(f"uploads/{big['fields']['key'].rsplit('/', 1)[1]}")


def test_a_large_upload_arrives_whole_through_the_streaming_store_url(make_settings: Any) -> None:
    from credflow.services import build_services

    services = build_services(make_settings())
    try:
        store = services.store
        assert isinstance(store, LocalStore)
        data = hashlib.sha256(b"seed").digest() * (3 * (1 << 20) // 32 + 12345)
        target = store.presigned_upload("uploads/" + "e" * 32, expires_in=600, max_bytes=len(data))

        def odd_chunks() -> Iterator[bytes]:  # no Content-Length: read until the body ends
            for start in range(0, len(data), 300_007):
                yield data[start : start + 300_007]

        with TestClient(create_app(services)) as client:
            stored = client.put(target.url, content=odd_chunks(), headers=dict(target.headers))
        assert stored.status_code == 201, stored.text
        assert stored.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        assert store.get_bytes("uploads/" + "e" * 32) == data
    finally:
        services.close()
