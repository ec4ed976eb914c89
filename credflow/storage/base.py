"""The object-store interface every backend implements."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from credflow.errors import PermanentError

CHUNK_SIZE = 1 << 20


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
