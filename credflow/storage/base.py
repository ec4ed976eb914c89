"""The object-store interface every backend implements."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from credflow.errors import PermanentError

CHUNK_SIZE = 1 << 20

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredObject:
    """What a put stored: the key, the sha256 of the bytes and their count."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class UploadTarget:
    """Where a client sends one object's bytes itself, without passing through credflow.

    ``method`` is ``"PUT"`` (the bytes are the request body, sent with ``headers``) or
    ``"POST"`` (a multipart form: every entry of ``fields`` first, then the bytes as ``file``).
    """

    url: str
    method: str
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)


class ObjectTooLarge(PermanentError):
    """A put exceeded the caller's byte limit; nothing was kept."""


def new_key(prefix: str) -> str:
    """Return a fresh server-generated key under ``prefix``.

    Keys never contain anything a user sent (no filenames), so they cannot
    traverse folders or collide.
    """
    clean = prefix.strip("/")
    return f"{clean}/{uuid.uuid4().hex}" if clean else uuid.uuid4().hex


def validate_key(key: str) -> str:
    """Check that ``key`` is a safe object key and return it unchanged.

    A key is ``/``-separated segments of ``[A-Za-z0-9._-]``; it may not start
    with ``/``, contain an empty segment or ``..``, or be a ``.`` segment.

    Args:
        key: The key to check.

    Returns:
        The same key.

    Raises:
        ValueError: the key is empty or breaks one of the rules above.
    """
    if not key or key.startswith("/") or ".." in key:
        raise ValueError(f"invalid object key {key!r}")
    for segment in key.split("/"):
        if segment == "." or _SEGMENT.fullmatch(segment) is None:
            raise ValueError(f"invalid object key {key!r}")
    return key


class PartialWrite(Protocol):
    """An object being written: bytes in bounded writes, then committed whole or aborted (nothing kept)."""

    def write(self, data: bytes) -> None:
        """Append ``data``; raises ObjectTooLarge (and keeps nothing) past the put's byte limit."""
        ...

    def commit(self) -> StoredObject:
        """Make the object visible under its key, whole."""
        ...

    def abort(self) -> None:
        """Delete what was written; after a commit it does nothing."""
        ...


@dataclass(frozen=True)
class UploadedPart:
    """One part of a multipart upload the store holds: its number, its size and the store's tag for it."""

    number: int
    size: int
    etag: str


class DirectMultipart(Protocol):
    """A store that takes a large object straight from the client in numbered parts (S3 multipart).

    credflow starts the upload, signs each part's URL, reads back which parts arrived (a resumed upload
    skips them) and completes or aborts it; the bytes never pass through credflow.
    """

    def start_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload of ``key``; return the store's id for it."""
        ...

    def presign_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str:
        """A URL the client PUTs part ``number`` to, valid for ``expires_in`` seconds."""
        ...

    def uploaded_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts that arrived so far, by number. Raises NotFoundError once completed or aborted."""
        ...

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Join ``parts`` (in order) into the object ``key``."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown upload is not an error."""
        ...

    def upload_origin(self) -> str:
        """The origin (scheme://host[:port]) the part URLs point at, for the pages' connect-src."""
        ...


class UploadReceiver(Protocol):
    """A store that receives its presigned uploads through credflow's own upload URL (``PUT /api/store``)."""

    def verify_upload(
        self, key: str, *, expires: int, max_bytes: int, signature: str, now: float | None = None
    ) -> bool:
        """Tell whether an upload URL's signature is genuine and unexpired."""
        ...

    def begin_put(self, key: str, *, max_bytes: int | None = None) -> PartialWrite:
        """Start writing ``key`` (at most ``max_bytes``), committed or aborted by the caller."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether ``key`` holds an object."""
        ...

    def sweep(self, prefix: str, *, modified_before: float) -> list[str]:
        """Delete the objects (and partial writes) directly under ``prefix`` older than ``modified_before``."""
        ...

    def adopt(self, key: str, path: Path) -> int:
        """Make the finished local file ``path`` the object ``key`` (moved, not copied, when it can be); its size."""
        ...


class ObjectStore(Protocol):
    """Where evidence bytes live. Keys are ``/``-separated, server-generated strings."""

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Store ``stream`` under ``key`` in bounded memory, hashing on the way.

        Raises ObjectTooLarge (and keeps nothing) past ``max_bytes``.
        """
        ...

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Store a local file under ``key``."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object (small objects only). Raises NotFoundError."""
        ...

    def read_head(self, key: str, size: int) -> bytes:
        """Return at most the first ``size`` bytes of the object."""
        ...

    def stream(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the object's bytes from ``start`` to ``end`` inclusive, in chunks."""
        ...

    def size(self, key: str) -> int:
        """Return the object's size in bytes. Raises NotFoundError."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether ``key`` holds an object."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def move(self, key: str, new_key: str) -> None:
        """Give the object ``key`` the key ``new_key`` (no byte passes through credflow). Raises NotFoundError."""
        ...

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """Return a URL that reads the object for ``expires_in`` seconds."""
        ...

    def presigned_upload(
        self, key: str, *, expires_in: int, max_bytes: int, content_type: str | None = None
    ) -> UploadTarget:
        """Return where a client may upload one object to ``key`` for ``expires_in`` seconds.

        The store itself refuses more than ``max_bytes`` and an expired or altered target.
        """
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """Give a readable local file with the object's bytes for the ``with`` block."""
        ...

    def upload_receiver(self) -> UploadReceiver | None:
        """The store's receiver of its presigned uploads when they come through credflow (the local store).

        None when clients upload to the store itself (S3): credflow's upload URL then answers 404
        and its sweep of abandoned uploads leaves them to the store's own expiry.
        """
        ...

    def direct_multipart(self) -> DirectMultipart | None:
        """The store's multipart upload straight from the client (S3), or None (the local store: tus via credflow)."""
        ...


class ObjectReader(io.RawIOBase):
    """A readable stream over a stored object's chunks, opened on the first read (bounded memory).

    Wrap it in ``io.BufferedReader`` to hand an object to code that reads a file (the intake).
    """

    def __init__(self, open_chunks: Callable[[], Iterator[bytes]]) -> None:
        super().__init__()
        self._open = open_chunks
        self._chunks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._chunks is None:
            self._chunks = self._open()
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
