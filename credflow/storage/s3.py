"""An object store on Amazon S3 (or any S3-compatible service) through boto3."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ChecksumError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from credflow.errors import CredflowError, NotFoundError, PermanentError, TransientError
from credflow.storage.base import (
    CHUNK_SIZE,
    ObjectTooLarge,
    StoredObject,
    UploadedPart,
    UploadTarget,
    validate_key,
)
from credflow.storage.digest import BackgroundSha256

# The user metadata entry (x-amz-meta-sha256) holding the hex sha256 of the bytes.
SHA256_METADATA = "sha256"

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_TRANSIENT_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "InternalError",
        "PriorRequestNotComplete",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)


def _client_error_code(exc: Any) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def _translate(exc: Exception, what: str) -> CredflowError:
    if isinstance(exc, ClientError):
        code, status = _client_error_code(exc)
        if code in _NOT_FOUND_CODES:
            return NotFoundError(f"no stored object {what}")
        if code in _TRANSIENT_CODES or status == 429 or status >= 500:
            return TransientError(f"S3 failed on {what}: {code or status} ({exc})")
        return PermanentError(f"S3 refused {what}: {code or status} ({exc})")
    if isinstance(exc, BotoConnectionError | HTTPClientError | IncompleteReadError | ChecksumError):
        # Connection refused/reset, timeouts and truncated bodies may all succeed on a later try.
        return TransientError(f"S3 unreachable for {what}: {exc}")
    return PermanentError(f"S3 client error for {what}: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """Turn botocore's exceptions into credflow's error kinds."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, what) from exc


def _read_part(stream: BinaryIO, part_size: int) -> bytes:
    # Reading in CHUNK_SIZE pieces keeps short reads (pipes, sockets) from ending a part early.
    buffer = bytearray()
    while len(buffer) < part_size:
        chunk = stream.read(min(CHUNK_SIZE, part_size - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


def _body_chunks(body: Any, what: str) -> Iterator[bytes]:
    try:
        with _s3_errors(what):
            yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


class S3Store:
    """Objects in one S3 bucket, every key under an optional ``prefix``."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: Any | None = None,
        part_size: int = 8 << 20,
    ) -> None:
        """Create a store for ``bucket``; nothing is contacted until the first call.

        Args:
            bucket: The bucket name.
            prefix: Folder-like prefix put before every key (``"evidence"`` -> ``evidence/<key>``).
            region: AWS region of the bucket.
            endpoint_url: An S3-compatible endpoint (MinIO, ...); None for AWS.
            client: A ready boto3 S3 client (tests, custom sessions); built from the above when None.
            part_size: Multipart part size in bytes. S3 requires at least 5 MiB for every part but
                the last; about two parts are held in memory during an upload.

        Raises:
            ValueError: ``bucket`` is empty or ``part_size`` is not positive.
        """
        if not bucket:
            raise ValueError("S3Store needs a bucket name")
        if part_size <= 0:
            raise ValueError("part_size must be positive")
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._part_size = part_size
        if client is None:
            config = Config(
                signature_version="s3v4",
                retries={"mode": "standard", "max_attempts": 3},
                # We hash with sha256 ourselves; extra CRC checksums trip some S3-compatible servers.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
        self._client: Any = client

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket

    def _full_key(self, key: str) -> str:
        validate_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Upload ``stream`` under ``key``, hashing each part on a thread of its own while it uploads.

        Data that fits in one part goes up with a single PutObject. Larger data
        goes up as an explicit multipart upload; since metadata is fixed when
        an upload starts and the sha256 is only known at the end, the parts are
        then copied server-side into a second multipart upload that carries the
        ``sha256`` metadata (no bytes travel through this process again).

        Args:
            key: Destination key (the prefix is added).
            stream: Binary stream read until EOF.
            content_type: Stored as the object's Content-Type.
            max_bytes: Refuse the object once it grows past this many bytes.

        Returns:
            The key, the hex sha256 and the byte count.

        Raises:
            ObjectTooLarge: more than ``max_bytes`` were read; nothing was kept.
            NotFoundError, TransientError, PermanentError: S3 failed.
        """
        full_key = self._full_key(key)
        size = 0

        def next_part() -> bytes:
            nonlocal size
            part = _read_part(stream, self._part_size)
            size += len(part)
            if max_bytes is not None and size > max_bytes:
                raise ObjectTooLarge(f"object {key!r} exceeds the {max_bytes}-byte limit")
            return part

        first = next_part()
        second = next_part() if len(first) == self._part_size else b""
        if not second:
            sha256 = hashlib.sha256(first).hexdigest()
            with _s3_errors(full_key):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=full_key,
                    Body=first,
                    ContentType=content_type,
                    Metadata={SHA256_METADATA: sha256},
                )
            return StoredObject(key=key, sha256=sha256, size=size)

        with _s3_errors(full_key):
            upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=full_key, ContentType=content_type
            )["UploadId"]
        parts: list[dict[str, Any]] = []
        # Each part is hashed on the digest's thread while it uploads; at most two wait to be hashed.
        digest = BackgroundSha256(depth=2, inline_bytes=0)
        try:
            # About two parts are alive at once: the one going up and the one read ahead.
            part, lookahead = first, second
            del first, second
            while part:
                number = len(parts) + 1
                digest.update(part)
                with _s3_errors(full_key):
                    answer = self._client.upload_part(
                        Bucket=self._bucket, Key=full_key, UploadId=upload_id, PartNumber=number, Body=part
                    )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "Size": len(part)})
                part = lookahead
                lookahead = next_part() if part else b""
            sha256 = digest.hexdigest()
            with _s3_errors(full_key):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=full_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
                )
        except BaseException:
            digest.cancel()
            self._abort(full_key, upload_id)
            raise

        try:
            self._copy_with_metadata(full_key, parts, content_type, sha256)
        except BaseException:
            # Without its sha256 the object breaks the put contract: keep nothing.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.delete_object(Bucket=self._bucket, Key=full_key)
            raise
        return StoredObject(key=key, sha256=sha256, size=size)

    def _abort(self, full_key: str, upload_id: str) -> None:
        # Best effort: the original error matters more than a failed abort (a bucket
        # lifecycle rule should sweep leftovers).
        with contextlib.suppress(ClientError, BotoCoreError):
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=full_key, UploadId=upload_id)

    def _copy_with_metadata(self, full_key: str, parts: list[dict[str, Any]], content_type: str, sha256: str) -> None:
        with _s3_errors(full_key):
            upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=full_key, ContentType=content_type, Metadata={SHA256_METADATA: sha256}
            )["UploadId"]
        try:
            copied = []
            offset = 0
            for part in parts:
                last = offset + part["Size"] - 1
                with _s3_errors(full_key):
                    answer = self._client.upload_part_copy(
                        Bucket=self._bucket,
                        Key=full_key,
                        UploadId=upload_id,
                        PartNumber=part["PartNumber"],
                        CopySource={"Bucket": self._bucket, "Key": full_key},
                        CopySourceRange=f"bytes={offset}-{last}",
                    )
                copied.append({"PartNumber": part["PartNumber"], "ETag": answer["CopyPartResult"]["ETag"]})
                offset = last + 1
            with _s3_errors(full_key):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=full_key, UploadId=upload_id, MultipartUpload={"Parts": copied}
                )
        except BaseException:
            self._abort(full_key, upload_id)
            raise

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Upload the local file ``path`` under ``key``.

        Args:
            key: Destination key (the prefix is added).
            path: File to upload.
            content_type: Stored as the object's Content-Type.

        Returns:
            The key, the hex sha256 and the byte count.
        """
        with Path(path).open("rb") as handle:
            return self.put_stream(key, handle, content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            NotFoundError: no object under ``key``.
        """
        full_key = self._full_key(key)
        with _s3_errors(full_key):
            body = self._client.get_object(Bucket=self._bucket, Key=full_key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def read_head(self, key: str, size: int) -> bytes:
        """Return at most the first ``size`` bytes of the object.

        Raises:
            NotFoundError: no object under ``key``.
        """
        if size <= 0:
            self.size(key)
            return b""
        return b"".join(self.stream(key, start=0, end=size - 1))

    def stream(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``start`` to ``end`` inclusive (to the end when ``end`` is None).

        The GET is sent now, so a missing key fails here rather than on the
        first ``next()``; a range past the end yields nothing.

        Raises:
            NotFoundError: no object under ``key``.
            ValueError: ``start`` is negative or ``end`` is before ``start``.
        """
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        full_key = self._full_key(key)
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": full_key}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            with _s3_errors(full_key):
                body = self._client.get_object(**request)["Body"]
        except PermanentError as exc:
            if _client_error_code(exc.__cause__)[0] == "InvalidRange":
                return iter(())
            raise
        return _body_chunks(body, full_key)

    def _head(self, key: str) -> dict[str, Any]:
        full_key = self._full_key(key)
        with _s3_errors(full_key):
            answer: dict[str, Any] = self._client.head_object(Bucket=self._bucket, Key=full_key)
        return answer

    def size(self, key: str) -> int:
        """Return the object's size in bytes.

        Raises:
            NotFoundError: no object under ``key``.
        """
        return int(self._head(key)["ContentLength"])

    def sha256(self, key: str) -> str | None:
        """Return the hex sha256 recorded in the object's metadata, if any.

        Raises:
            NotFoundError: no object under ``key``.
        """
        value = self._head(key).get("Metadata", {}).get(SHA256_METADATA)
        return None if value is None else str(value)

    def exists(self, key: str) -> bool:
        """Tell whether ``key`` holds an object."""
        try:
            self._head(key)
        except NotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object; S3 treats a missing key as already deleted."""
        full_key = self._full_key(key)
        with _s3_errors(full_key):
            self._client.delete_object(Bucket=self._bucket, Key=full_key)

    def move(self, key: str, new_key: str) -> None:
        """Copy the object inside the bucket (multipart past 5 GB: boto3's managed copy), then delete the old key.

        Raises:
            NotFoundError: no object under ``key``.
        """
        self._head(key)  # NotFoundError before anything is written
        source, target = self._full_key(key), self._full_key(new_key)
        with _s3_errors(target):
            self._client.copy({"Bucket": self._bucket, "Key": source}, self._bucket, target)
        self.delete(key)

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """Return a SigV4 presigned GET URL valid for ``expires_in`` seconds.

        Raises:
            ValueError: the key is invalid or ``expires_in`` is not positive.
        """
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        full_key = self._full_key(key)
        with _s3_errors(full_key):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": full_key}, ExpiresIn=expires_in
            )
        return url

    def direct_multipart(self) -> S3Store:
        """This store: browsers send large files straight to the bucket in presigned parts."""
        return self

    def start_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload of ``key`` (the prefix is added); return S3's UploadId.

        Raises:
            TransientError, PermanentError: S3 failed.
        """
        full_key = self._full_key(key)
        with _s3_errors(full_key):
            answer = self._client.create_multipart_upload(Bucket=self._bucket, Key=full_key, ContentType=content_type)
        return str(answer["UploadId"])

    def presign_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str:
        """A SigV4 presigned PUT URL for part ``number`` (1 to 10,000) of the upload, valid ``expires_in`` seconds.

        Raises:
            ValueError: the key is invalid, ``number`` is out of S3's range or ``expires_in`` not positive.
        """
        if not 1 <= number <= 10_000:
            raise ValueError(f"part number {number} is outside 1-10000")
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        full_key = self._full_key(key)
        params = {"Bucket": self._bucket, "Key": full_key, "UploadId": upload_id, "PartNumber": number}
        with _s3_errors(full_key):
            url: str = self._client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)
        return url

    def uploaded_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts S3 holds for the upload, by number (every page of ListParts).

        Raises:
            NotFoundError: no such upload (completed, aborted or expired).
        """
        full_key = self._full_key(key)
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            try:
                with _s3_errors(full_key):
                    page = self._client.list_parts(
                        Bucket=self._bucket, Key=full_key, UploadId=upload_id, PartNumberMarker=marker
                    )
            except PermanentError as exc:
                if _client_error_code(exc.__cause__)[0] == "NoSuchUpload":
                    raise NotFoundError(f"no multipart upload {upload_id[:12]}... of {full_key}") from None
                raise
            for part in page.get("Parts", []):
                parts.append(UploadedPart(number=int(part["PartNumber"]), size=int(part["Size"]), etag=part["ETag"]))
            if not page.get("IsTruncated"):
                return sorted(parts, key=lambda p: p.number)
            marker = int(page["NextPartNumberMarker"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Join ``parts`` into the object ``key``.

        Raises:
            TransientError, PermanentError: S3 failed.
        """
        full_key = self._full_key(key)
        listed = [{"PartNumber": p.number, "ETag": p.etag} for p in sorted(parts, key=lambda p: p.number)]
        with _s3_errors(full_key):
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=full_key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown upload is already gone."""
        full_key = self._full_key(key)
        try:
            with _s3_errors(full_key):
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=full_key, UploadId=upload_id)
        except (NotFoundError, PermanentError) as exc:
            if isinstance(exc, PermanentError) and _client_error_code(exc.__cause__)[0] != "NoSuchUpload":
                raise

    def upload_origin(self) -> str:
        """The scheme and host (and port) of this bucket's presigned URLs (no request is sent).

        Without credentials (nothing can be signed, nor uploaded) it is the client's endpoint.
        """
        try:
            url = self.presigned_url("origin-probe", expires_in=60)
        except PermanentError:
            url = str(self._client.meta.endpoint_url)
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def upload_receiver(self) -> None:
        """None: clients upload to the bucket itself, with the presigned POST of :meth:`presigned_upload`."""
        return None

    def presigned_upload(
        self, key: str, *, expires_in: int, max_bytes: int, content_type: str | None = None
    ) -> UploadTarget:
        """Return a SigV4 presigned POST (a policy) for ``key``, valid for ``expires_in`` seconds.

        The policy's ``content-length-range`` condition makes S3 itself refuse more than
        ``max_bytes`` (EntityTooLarge), and the key is fixed by an exact-match condition. A
        given ``content_type`` is a form field the policy requires as sent.

        Args:
            key: The object's key (the prefix is added; server-generated).
            expires_in: Seconds the policy stays valid; must be positive.
            max_bytes: Most bytes the object may have; must be positive.
            content_type: The object's Content-Type, or None to leave S3's default.

        Returns:
            A POST target: send ``fields`` then the bytes as the form's ``file``.

        Raises:
            ValueError: the key is invalid, or ``expires_in`` or ``max_bytes`` is not positive.
        """
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        full_key = self._full_key(key)
        fields: dict[str, str] = {}
        conditions: list[Any] = [["content-length-range", 0, max_bytes]]
        if content_type:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        with _s3_errors(full_key):
            post: dict[str, Any] = self._client.generate_presigned_post(
                Bucket=self._bucket, Key=full_key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
            )
        return UploadTarget(url=str(post["url"]), method="POST", fields={k: str(v) for k, v in post["fields"].items()})

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """Download the object to a temp file, yield its path, delete it afterwards.

        Raises:
            NotFoundError: no object under ``key``.
        """
        chunks = self.stream(key)
        suffix = Path(key).suffix
        with tempfile.NamedTemporaryFile(prefix="credflow-s3-", suffix=suffix) as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            yield Path(handle.name)
