"""A sha256 computed on its own thread, so hashing a stream overlaps writing or uploading it."""

from __future__ import annotations

import hashlib
import queue
import threading
import weakref

from credflow.storage.base import CHUNK_SIZE

#: The name of every hashing thread (tests look for leftovers by it).
THREAD_NAME = "credflow-sha256"

_STOP = b""  # an empty chunk ends the thread; update() never queues one of its own


def _hash_chunks(
    chunks: queue.Queue[bytes], digest: hashlib._Hash, cancelled: threading.Event, failures: list[BaseException]
) -> None:
    # Keeps draining after a failure or a cancel, so a caller blocked on a full queue is always freed.
    while chunk := chunks.get():
        if cancelled.is_set() or failures:
            continue
        try:
            digest.update(chunk)
        except BaseException as exc:  # handed to the caller by hexdigest()
            failures.append(exc)


def _cancel(chunks: queue.Queue[bytes], cancelled: threading.Event) -> None:
    cancelled.set()
    chunks.put(_STOP)


class BackgroundSha256:
    """The sha256 of the chunks given to :meth:`update`, in order, hashed on a thread of its own.

    hashlib releases the GIL while it hashes a large buffer, so the caller's next write or
    upload runs while the previous chunk is hashed. At most ``depth`` chunks wait for the
    thread; :meth:`update` blocks beyond that, so memory stays bounded. The first
    ``inline_bytes`` are hashed on the caller's thread: a small object never starts one.
    The thread ends with :meth:`hexdigest` or :meth:`cancel` (call one of them, or both; a
    forgotten instance ends its thread when it is garbage-collected).
    """

    def __init__(self, *, depth: int = 8, inline_bytes: int = CHUNK_SIZE) -> None:
        """Prepare an empty digest; no thread starts before ``inline_bytes`` are exceeded.

        Raises:
            ValueError: ``depth`` is not positive or ``inline_bytes`` is negative.
        """
        if depth <= 0 or inline_bytes < 0:
            raise ValueError("depth must be positive and inline_bytes not negative")
        self._digest = hashlib.sha256()
        self._inline_left = inline_bytes
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=depth)
        self._cancelled = threading.Event()
        self._failures: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._stop: weakref.finalize[..., BackgroundSha256] | None = None
        self._result: str | None = None
        self._finished = False

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` (copied first unless it is immutable ``bytes``).

        Raises:
            ValueError: the digest was already read or cancelled.
        """
        if self._finished:
            raise ValueError("this sha256 is finished")
        if not data:
            return
        if self._thread is None:
            if len(data) <= self._inline_left:
                self._inline_left -= len(data)
                self._digest.update(data)
                return
            self._start()
        # The thread reads the chunk later: a buffer the caller may reuse must be copied now.
        self._chunks.put(data if type(data) is bytes else bytes(data))

    def _start(self) -> None:
        # The thread's arguments must not refer to self, or the finalizer could never run.
        self._thread = threading.Thread(
            target=_hash_chunks,
            args=(self._chunks, self._digest, self._cancelled, self._failures),
            name=THREAD_NAME,
            daemon=True,
        )
        self._thread.start()
        self._stop = weakref.finalize(self, _cancel, self._chunks, self._cancelled)

    def hexdigest(self) -> str:
        """Wait for every chunk to be hashed and return the hex sha256 (the same on later calls).

        Raises:
            ValueError: the digest was cancelled.
        """
        if self._result is not None:
            return self._result
        if self._finished:
            raise ValueError("this sha256 was cancelled")
        self._finished = True
        if self._thread is not None and self._stop is not None:
            self._stop.detach()
            self._chunks.put(_STOP)
            self._thread.join()
        if self._failures:
            raise self._failures[0]
        self._result = self._digest.hexdigest()
        return self._result

    def cancel(self) -> None:
        """Drop the chunks still waiting and end the thread; after :meth:`hexdigest`, or twice, it does nothing."""
        if self._finished:
            return
        self._finished = True
        if self._thread is not None and self._stop is not None:
            self._stop()
            self._thread.join()
