"""An exclusive file lock for test set-up that installs things (xdist workers may reach it at once)."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def installing(target: Path) -> Iterator[None]:
    """Hold a lock named after ``target`` for the block, so one test process at a time installs into it."""
    digest = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"credflow-install-{digest}.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
