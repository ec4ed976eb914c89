"""Tests of S3Store against moto's in-memory S3: what ends up stored, and error mapping."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, urlsplit

import boto3  # type: ignore[import-untyped]
import httpx
import moto.s3.models
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from moto import mock_aws

from credflow.errors import NotFoundError, PermanentError, TransientError
from credflow.storage.base import ObjectStore, ObjectTooLarge
from credflow.storage.digest import THREAD_NAME
from credflow.storage.s3 import S3Store

BUCKET = "credflow-test"
PART = 64 * 1024


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Real S3 wants 5 MiB parts; a small minimum keeps multipart tests fast.
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def store(s3: Any) -> S3Store:
    return S3Store(bucket=BUCKET, prefix="tenant-a/", part_size=PART)


def hashing_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


def test_small_put_is_one_object_with_sha256_metadata(store: S3Store, s3: Any) -> None:
    data = b"a small evidence file"
    stored = store.put_stream("evidence/abc", io.BytesIO(data), content_type="application/pdf")
    assert stored.key == "evidence/abc"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()

    head = s3.head_object(Bucket=BUCKET, Key="tenant-a/evidence/abc")
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/pdf"
    assert head["Metadata"] == {"sha256": stored.sha256}
    assert "-" not in head["ETag"]
    assert s3.get_object(Bucket=BUCKET, Key="tenant-a/evidence/abc")["Body"].read() == data
    assert store.sha256("evidence/abc") == stored.sha256


def test_exactly_one_part_is_a_single_put(store: S3Store, s3: Any) -> None:
    data = b"p" * PART
    store.put_stream("one", io.BytesIO(data))
    head = s3.head_object(Bucket=BUCKET, Key="tenant-a/one")
    assert "-" not in head["ETag"]
    assert head["ContentLength"] == PART


def test_three_part_object_is_uploaded_in_parts(store: S3Store, s3: Any) -> None:
    data = bytes(range(256)) * (PART * 2 // 256) + b"tail" * 100
    stored = store.put_stream("video/clip", io.BytesIO(data), content_type="video/mp4")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()

    key = "tenant-a/video/clip"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].strip('"').endswith("-3")
    assert head["Metadata"] == {"sha256": stored.sha256}
    assert head["ContentType"] == "video/mp4"
    assert s3.head_object(Bucket=BUCKET, Key=key, PartNumber=1)["PartsCount"] == 3
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_too_large_multipart_keeps_nothing(store: S3Store, s3: Any) -> None:
    with pytest.raises(ObjectTooLarge):
        store.put_stream("big", io.BytesIO(b"z" * (PART * 4)), max_bytes=PART * 3)
    assert not store.exists("big")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_too_large_single_part_keeps_nothing(store: S3Store, s3: Any) -> None:
    with pytest.raises(ObjectTooLarge):
        store.put_stream("small", io.BytesIO(b"z" * 100), max_bytes=99)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_stream_error_mid_upload_aborts(store: S3Store, s3: Any) -> None:
    class Broken(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.sent >= PART * 2:
                raise OSError("client went away")
            self.sent += PART
            return b"q" * PART

    with pytest.raises(OSError, match="client went away"):
        store.put_stream("broken", cast(BinaryIO, Broken()))
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    assert not store.exists("broken")
    assert hashing_threads() == []


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 2 * PART, 3 * PART + 5])
def test_the_hash_and_bytes_are_right_around_part_boundaries(store: S3Store, s3: Any, size: int) -> None:
    data = os.urandom(size)
    stored = store.put_stream("sized", io.BytesIO(data), max_bytes=size)
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert store.get_bytes("sized") == data and store.sha256("sized") == stored.sha256
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    assert hashing_threads() == []


def test_parts_are_hashed_on_their_own_thread_while_they_upload(store: S3Store) -> None:
    seen: list[int] = []

    class Watching(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            seen.append(len(hashing_threads()))
            if self.sent >= 4 * PART:
                return b""
            self.sent += PART
            return b"w" * PART

    stored = store.put_stream("watched", cast(BinaryIO, Watching()))
    assert stored.sha256 == hashlib.sha256(b"w" * 4 * PART).hexdigest()
    assert seen[0] == 0 and seen[-1] == 1  # reading ahead while the first parts upload and hash
    assert hashing_threads() == []


def test_reads(store: S3Store, tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    source = tmp_path / "doc.pdf"
    source.write_bytes(data)
    store.put_file("docs/a.pdf", source)
    assert store.exists("docs/a.pdf")
    assert store.size("docs/a.pdf") == len(data)
    assert store.get_bytes("docs/a.pdf") == data
    assert store.read_head("docs/a.pdf", 4) == data[:4]
    assert store.read_head("docs/a.pdf", 0) == b""
    assert b"".join(store.stream("docs/a.pdf")) == data
    assert b"".join(store.stream("docs/a.pdf", start=100, end=199)) == data[100:200]
    assert b"".join(store.stream("docs/a.pdf", start=len(data) - 3)) == data[-3:]
    assert b"".join(store.stream("docs/a.pdf", start=len(data) + 3)) == b""
    with store.local_path("docs/a.pdf") as path:
        assert path.read_bytes() == data
        assert path.suffix == ".pdf"
    assert not path.exists()


def test_empty_object(store: S3Store) -> None:
    stored = store.put_stream("empty", io.BytesIO(b""))
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.get_bytes("empty") == b""
    assert store.read_head("empty", 10) == b""
    assert b"".join(store.stream("empty", start=0, end=5)) == b""


def test_missing_key_raises_not_found(store: S3Store) -> None:
    assert not store.exists("nope")
    for call in (
        lambda: store.get_bytes("nope"),
        lambda: store.size("nope"),
        lambda: store.read_head("nope", 5),
        lambda: store.read_head("nope", 0),
        lambda: store.stream("nope"),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(NotFoundError), store.local_path("nope"):
        pass


def test_delete(store: S3Store) -> None:
    store.put_stream("k", io.BytesIO(b"x"))
    store.delete("k")
    assert not store.exists("k")
    store.delete("k")


def test_move_renames_the_object_and_keeps_its_bytes_and_hash(store: S3Store) -> None:
    stored = store.put_stream("uploads/abc", io.BytesIO(b"evidence" * 1000))
    store.move("uploads/abc", "drafts/abc")
    assert not store.exists("uploads/abc") and store.get_bytes("drafts/abc") == b"evidence" * 1000
    assert hashlib.sha256(store.get_bytes("drafts/abc")).hexdigest() == stored.sha256
    with pytest.raises(NotFoundError):
        store.move("uploads/abc", "drafts/other")
    assert not store.exists("drafts/other")


def test_presigned_url(store: S3Store) -> None:
    url = store.presigned_url("evidence/abc", expires_in=300)
    parts = urlsplit(url)
    assert parts.path.endswith("/tenant-a/evidence/abc") or parts.path == "/tenant-a/evidence/abc"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "X-Amz-Signature" in query


def test_keys_are_validated(store: S3Store) -> None:
    for key in ("../x", "/abs", "a//b"):
        with pytest.raises(ValueError):
            store.put_stream(key, io.BytesIO(b"x"))


def test_no_prefix(s3: Any) -> None:
    store = S3Store(bucket=BUCKET, part_size=PART)
    store.put_stream("plain", io.BytesIO(b"x"))
    assert s3.get_object(Bucket=BUCKET, Key="plain")["Body"].read() == b"x"


def test_missing_bucket_is_permanent_with_code(s3: Any) -> None:
    store = S3Store(bucket="no-such-bucket-here")
    with pytest.raises(PermanentError, match="NoSuchBucket"):
        store.put_stream("k", io.BytesIO(b"x"))


def test_unreachable_endpoint_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now; one quick try keeps the test fast.
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )
    store = S3Store(bucket=BUCKET, client=client)
    with pytest.raises(TransientError, match="unreachable"):
        store.get_bytes("k")


class _FakeClient:
    """Answers every call with one canned botocore ClientError."""

    def __init__(self, code: str, status: int) -> None:
        self.code = code
        self.status = status

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise ClientError(
                {
                    "Error": {"Code": self.code, "Message": "canned"},
                    "ResponseMetadata": {"HTTPStatusCode": self.status},
                },
                name,
            )

        return call


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("SlowDown", 503, TransientError),
        ("InternalError", 500, TransientError),
        ("Throttling", 400, TransientError),
        ("RequestTimeout", 400, TransientError),
        ("NoSuchKey", 404, NotFoundError),
        ("AccessDenied", 403, PermanentError),
    ],
)
def test_client_errors_are_mapped(code: str, status: int, kind: type[Exception]) -> None:
    store = S3Store(bucket=BUCKET, client=_FakeClient(code, status))
    with pytest.raises(kind) as caught:
        store.get_bytes("k")
    if kind is PermanentError:
        assert code in str(caught.value)
        assert not isinstance(caught.value, NotFoundError)


def test_is_an_object_store(store: S3Store) -> None:
    as_protocol: ObjectStore = store  # mypy checks the structural match
    assert as_protocol is store


def test_presigned_upload_is_a_post_whose_policy_caps_the_size(store: S3Store) -> None:
    target = store.presigned_upload("uploads/abc", expires_in=300, max_bytes=1234, content_type="video/mp4")
    assert target.method == "POST" and target.headers == {}
    assert target.fields["key"] == "tenant-a/uploads/abc" and target.fields["Content-Type"] == "video/mp4"
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    assert ["content-length-range", 0, 1234] in policy["conditions"]
    assert {"key": "tenant-a/uploads/abc"} in policy["conditions"]
    assert {"Content-Type": "video/mp4"} in policy["conditions"]
    with pytest.raises(ValueError):
        store.presigned_upload("uploads/abc", expires_in=300, max_bytes=0)
    with pytest.raises(ValueError):
        store.presigned_upload("../abc", expires_in=300, max_bytes=10)


def test_a_presigned_post_uploads_straight_to_s3(moto_endpoint: str) -> None:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    client.create_bucket(Bucket="credflow-presigned-post")
    store = S3Store(bucket="credflow-presigned-post", prefix="p", client=client)
    target = store.presigned_upload("uploads/clip", expires_in=60, max_bytes=100, content_type="video/mp4")
    assert target.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    posted = httpx.post(target.url, data=dict(target.fields), files={"file": ("c.mp4", b"frames", "video/mp4")})
    assert posted.status_code == 204, posted.text
    assert store.get_bytes("uploads/clip") == b"frames"
    assert client.head_object(Bucket="credflow-presigned-post", Key="p/uploads/clip")["ContentType"] == "video/mp4"
    # moto 5 ignores the policy (content-length-range, expiry, signature): real S3 answers an
    # oversize POST with 400 EntityTooLarge. The intake checks the size again before using an upload.
