"""An object store on the local file system, with HMAC-signed download links."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from credflow.errors import NotFoundError
from credflow.storage.base import CHUNK_SIZE, ObjectTooLarge, StoredObject, UploadTarget, validate_key
from credflow.storage.digest import BackgroundSha256
from credflow.storage.writeback import start_writeback

#: Where ``credflow serve`` accepts the signed uploads of :meth:`LocalStore.presigned_upload`.
UPLOAD_PATH = "/api/store"

# Temp files share the target's folder so os.replace stays a same-file-system rename.
_TEMP_PREFIX = ".credflow-tmp-"

#: Written bytes between two requests that the disk start writing them: without those requests
#: the page cache holds the dirty bytes and the disk idles until the closing fsync.
WRITEBACK_BYTES = 64 << 20


def _fsync_folder(folder: Path) -> None:
    # A rename is only durable once the folder entry itself reaches the disk.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_range(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = handle.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


class PartialPut:
    """One object being written: a temp file beside the target, hashed and counted on the way.

    The bytes are hashed on a thread of their own while the caller writes the next ones, and
    every ``writeback_bytes`` the disk is asked to start writing what came in (Linux), so the
    disk, the hashing and the caller all work at once. :meth:`commit` fsyncs the file once
    and renames it over the target (readers see the old object or the new one, never a
    partial file); :meth:`abort`, or leaving a ``with`` block uncommitted, deletes it and
    ends the hashing thread. Each :meth:`write` is a bounded blocking call.
    """

    def __init__(
        self,
        key: str,
        target: Path,
        *,
        max_bytes: int | None,
        writeback_bytes: int = WRITEBACK_BYTES,
        writeback: Callable[[int, int, int], bool] = start_writeback,
    ) -> None:
        """Create the temp file beside ``target``.

        Args:
            key: The object's key.
            target: The object's file.
            max_bytes: Refuse the object once it grows past this many bytes (None: no limit).
            writeback_bytes: How many written bytes make :func:`start_writeback` worth a call.
            writeback: Starts the disk writing a range of the file; once it answers False it is
                not called again for this put.
        """
        self.key = key
        self._target = target
        self._max_bytes = max_bytes
        self._digest = BackgroundSha256()
        self._writeback: Callable[[int, int, int], bool] | None = writeback
        self._writeback_bytes = writeback_bytes
        self._written_back = 0  # the bytes before this offset are on their way to the disk
        self.size = 0
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
        self._temp = Path(temp_name)
        self._out: BinaryIO | None = os.fdopen(fd, "wb")

    @property
    def temp_path(self) -> Path:
        """The partial file (gone once committed or aborted)."""
        return self._temp

    def write(self, data: bytes) -> None:
        """Append ``data``.

        Raises:
            ObjectTooLarge: the object grew past ``max_bytes``; the partial file is deleted.
            ValueError: the put was already committed or aborted.
        """
        out = self._out
        if out is None:
            raise ValueError(f"the put of {self.key!r} is finished")
        self.size += len(data)
        if self._max_bytes is not None and self.size > self._max_bytes:
            self.abort()
            raise ObjectTooLarge(f"object {self.key!r} exceeds the {self._max_bytes}-byte limit")
        self._digest.update(data)  # hashed on the digest's thread while the write below runs
        out.write(data)
        pending = self.size - self._written_back
        if self._writeback is not None and pending >= self._writeback_bytes:
            out.flush()
            if not self._writeback(out.fileno(), self._written_back, pending):
                self._writeback = None  # unsupported here: the fsync in commit() writes everything
            self._written_back = self.size

    def commit(self) -> StoredObject:
        """Make the bytes written so far the object ``key``, durably.

        Raises:
            ValueError: the put was already committed or aborted.
        """
        out = self._out
        if out is None:
            raise ValueError(f"the put of {self.key!r} is finished")
        self._out = None
        try:
            with out:
                out.flush()
                os.fsync(out.fileno())
            sha256 = self._digest.hexdigest()  # the last chunks were hashed during the fsync
            self._temp.replace(self._target)
        except BaseException:
            self._digest.cancel()
            self._temp.unlink(missing_ok=True)
            raise
        _fsync_folder(self._target.parent)
        return StoredObject(key=self.key, sha256=sha256, size=self.size)

    def abort(self) -> None:
        """Delete the partial file and end the hashing; aborting twice, or after a commit, does nothing."""
        if self._out is None:
            return
        self._digest.cancel()
        self._out.close()
        self._out = None
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> PartialPut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class LocalStore:
    """Objects as files under ``root``; presigned URLs point at ``credflow serve`` on ``public_url``.

    Download links go to ``{public_url}/files/{key}``; upload links to
    ``{public_url}/api/store/{key}``, where the web app checks them with
    :meth:`verify_upload` and streams the body in with :meth:`put_stream`.
    """

    def __init__(self, root: Path, *, public_url: str, secret: bytes) -> None:
        """Create a store rooted at ``root`` (created on the first put).

        Args:
            root: Folder that holds every object.
            public_url: Base URL of the web app that serves ``/files/{key}``.
            secret: HMAC key signing download links; keep it private.

        Raises:
            ValueError: ``secret`` is empty.
        """
        if not secret:
            raise ValueError("LocalStore needs a non-empty secret to sign URLs")
        self._root = Path(root).resolve()
        self._public_url = public_url.rstrip("/")
        self._secret = secret

    @property
    def root(self) -> Path:
        """The resolved folder holding the objects."""
        return self._root

    def _path(self, key: str) -> Path:
        path = (self._root / validate_key(key)).resolve()
        # Resolving follows symlinks, so this also refuses a link planted inside root.
        if not path.is_relative_to(self._root):
            raise ValueError(f"object key {key!r} escapes the store root")
        return path

    def _open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"no stored object {key!r}") from None

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Copy ``stream`` to the file for ``key`` chunk by chunk, hashing on the way (see :class:`PartialPut`).

        The bytes go to a temp file in the target folder, are fsync'd, and then
        replace the target atomically: readers see the old object or the new
        one, never a partial file. ``content_type`` is not kept by this backend.

        Args:
            key: Destination key.
            stream: Binary stream read until EOF in ``CHUNK_SIZE`` pieces.
            content_type: Ignored here; part of the ObjectStore interface.
            max_bytes: Refuse the object once it grows past this many bytes.

        Returns:
            The key, the hex sha256 and the byte count.

        Raises:
            ObjectTooLarge: more than ``max_bytes`` were read; nothing was kept.
            ValueError: the key is invalid.
        """
        del content_type
        with self.begin_put(key, max_bytes=max_bytes) as part:
            while chunk := stream.read(CHUNK_SIZE):
                part.write(chunk)
            return part.commit()

    def begin_put(self, key: str, *, max_bytes: int | None = None) -> PartialPut:
        """Start writing the object ``key`` piece by piece (for callers that receive the bytes asynchronously).

        Use it as a context manager: leaving the block without :meth:`PartialPut.commit` deletes
        the partial file, so a broken or refused upload never leaves bytes behind.

        Raises:
            ValueError: the key is invalid.
        """
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        return PartialPut(key, target, max_bytes=max_bytes)

    def sweep(self, prefix: str, *, modified_before: float) -> list[str]:
        """Delete every file under the folder ``prefix`` last modified before ``modified_before``.

        For folders of short-lived objects (``uploads/``): the objects themselves and the
        partial files of puts that never finished. Files in sub-folders are left alone.

        Args:
            prefix: A key prefix naming a folder of the store.
            modified_before: Unix time; older files go.

        Returns:
            The names deleted, relative to the store root.
        """
        folder = self._path(prefix.strip("/"))
        if not folder.is_dir():
            return []
        deleted = []
        for entry in os.scandir(folder):
            # lstat: a symlink planted in the folder is judged (and removed) itself, never followed.
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= modified_before:
                    continue
                Path(entry.path).unlink()
            except FileNotFoundError:
                continue  # taken or deleted meanwhile
            deleted.append(f"{prefix.strip('/')}/{entry.name}")
        return sorted(deleted)

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Store a copy of the local file ``path`` under ``key``.

        Args:
            key: Destination key.
            path: File to copy.
            content_type: Ignored here; part of the ObjectStore interface.

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
        with self._open(key) as handle:
            return handle.read()

    def read_head(self, key: str, size: int) -> bytes:
        """Return at most the first ``size`` bytes of the object.

        Raises:
            NotFoundError: no object under ``key``.
        """
        with self._open(key) as handle:
            return handle.read(max(size, 0))

    def stream(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``start`` to ``end`` inclusive (to EOF when ``end`` is None).

        The file is opened now, so a missing key fails here rather than on the
        first ``next()``; a range past the end yields nothing.

        Raises:
            NotFoundError: no object under ``key``.
            ValueError: ``start`` is negative or ``end`` is before ``start``.
        """
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        return _read_range(self._open(key), start, end)

    def size(self, key: str) -> int:
        """Return the object's size in bytes.

        Raises:
            NotFoundError: no object under ``key``.
        """
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError(f"no stored object {key!r}")
        return path.stat().st_size

    def exists(self, key: str) -> bool:
        """Tell whether ``key`` holds an object."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is fine."""
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def move(self, key: str, new_key: str) -> None:
        """Rename the object's file (one file system: atomic). Raises NotFoundError."""
        source, target = self._path(key), self._path(new_key)
        if not source.is_file():
            raise NotFoundError(f"no stored object {key!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)

    def _signature(self, key: str, expires: int) -> str:
        # The newline cannot occur in a key, so (key, expires) pairs cannot collide.
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """Return ``{public_url}/files/{key}?expires=<unix>&signature=<hex>``.

        Args:
            key: The object's key (not checked for existence).
            expires_in: Seconds the link stays valid; must be positive.

        Raises:
            ValueError: the key is invalid or ``expires_in`` is not positive.
        """
        validate_key(key)
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        expires = int(time.time()) + expires_in
        signature = self._signature(key, expires)
        return f"{self._public_url}/files/{quote(key, safe='/')}?expires={expires}&signature={signature}"

    def verify_signature(self, key: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """Tell whether a link's ``expires`` and ``signature`` are genuine and unexpired.

        Args:
            key: The key from the link's path.
            expires: The link's ``expires`` query value (unix seconds).
            signature: The link's ``signature`` query value.
            now: Current unix time; defaults to ``time.time()``.

        Returns:
            True only for a valid key, a signature made by this store, and an
            expiry not yet passed.
        """
        return _genuine(key, expires, now, lambda: self._signature(key, expires), signature)

    def _upload_signature(self, key: str, expires: int, max_bytes: int) -> str:
        # "put" keeps a download signature from ever passing as an upload one.
        message = f"put\n{key}\n{expires}\n{max_bytes}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def direct_multipart(self) -> None:
        """None: clients send large files to credflow itself (the tus protocol), never to this folder."""
        return None

    def adopt(self, key: str, path: Path) -> int:
        """Make the finished file ``path`` the object ``key``: renamed in when on the same file system, else copied.

        Readers see no object or the whole one. ``path`` is gone afterwards.

        Args:
            key: The object's key (server-generated).
            path: A complete file nobody writes any more.

        Returns:
            The object's size in bytes.

        Raises:
            ValueError: the key is invalid.
        """
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = Path(path)
        with source.open("rb") as handle:
            os.fsync(handle.fileno())  # the bytes are durable before the name says the object exists
        try:
            source.replace(target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another file system: copy through a temp file beside the target, then drop the source.
            with source.open("rb") as handle:
                stored = self.put_stream(key, handle)
            source.unlink()
            return stored.size
        _fsync_folder(target.parent)
        return target.stat().st_size

    def upload_receiver(self) -> LocalStore:
        """This store: its presigned uploads come to credflow's ``PUT /api/store`` (see :meth:`verify_upload`)."""
        return self

    def presigned_upload(
        self, key: str, *, expires_in: int, max_bytes: int, content_type: str | None = None
    ) -> UploadTarget:
        """Return a signed ``PUT {public_url}/api/store/{key}?expires=&max_bytes=&signature=``.

        The signature covers the key, the expiry and the byte cap, so none can be changed.

        Args:
            key: The object's key (server-generated).
            expires_in: Seconds the URL stays valid; must be positive.
            max_bytes: Most bytes the upload may carry; must be positive.
            content_type: Sent back as the request's Content-Type header (not kept by this backend).

        Returns:
            A PUT target: the body is the object's bytes.

        Raises:
            ValueError: the key is invalid, or ``expires_in`` or ``max_bytes`` is not positive.
        """
        validate_key(key)
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        expires = int(time.time()) + expires_in
        signature = self._upload_signature(key, expires, max_bytes)
        url = (
            f"{self._public_url}{UPLOAD_PATH}/{quote(key, safe='/')}"
            f"?expires={expires}&max_bytes={max_bytes}&signature={signature}"
        )
        headers = {"Content-Type": content_type or "application/octet-stream"}
        return UploadTarget(url=url, method="PUT", headers=headers)

    def verify_upload(
        self, key: str, *, expires: int, max_bytes: int, signature: str, now: float | None = None
    ) -> bool:
        """Tell whether an upload URL's query values are genuine and unexpired.

        Args:
            key: The key from the URL's path.
            expires: The ``expires`` query value (unix seconds).
            max_bytes: The ``max_bytes`` query value.
            signature: The ``signature`` query value.
            now: Current unix time; defaults to ``time.time()``.

        Returns:
            True only for a valid key, values signed by this store and an expiry not yet passed.
        """
        return _genuine(key, expires, now, lambda: self._upload_signature(key, expires, max_bytes), signature)

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """Yield the object's own file path (no copy); do not modify the file.

        Raises:
            NotFoundError: no object under ``key``.
        """
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError(f"no stored object {key!r}")
        yield path


def _genuine(key: str, expires: int, now: float | None, expected: Callable[[], str], signature: str) -> bool:
    """A signed link's check: a valid key, an expiry not yet passed, and the signature ``expected()`` makes."""
    try:
        validate_key(key)
    except ValueError:
        return False
    if expires < (time.time() if now is None else now):
        return False
    # Bytes, because compare_digest refuses non-ASCII str and the signature comes from a URL.
    return hmac.compare_digest(expected().encode(), signature.encode())
