"""sha256 throughput: hashlib over a file in 1 MiB chunks versus ``LocalStore.put_stream`` of the same file."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

from bench.common import MIB, Sizes, alternating, log, median, random_file, ratio, timed
from bench.report import Result
from credflow.storage.base import CHUNK_SIZE, StoredObject
from credflow.storage.local import LocalStore

NAME = "sha256"


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="3. sha256 throughput",
        unit="MB/s",
        baseline_label="hashlib",
        subject_label="put_stream",
    )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_file(path: Path, dst: Path) -> None:
    # put_stream without the hash: read, write, fsync; tells the hash's share from the disk's.
    with path.open("rb") as fh, dst.open("wb") as out:
        while chunk := fh.read(CHUNK_SIZE):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    dst.unlink()


def _put(store: LocalStore, path: Path, key: str) -> StoredObject:
    with path.open("rb") as fh:
        return store.put_stream(key, fh)


def run(sizes: Sizes, workdir: Path) -> Result:
    """Time both sides ``sizes.hash_reps`` times each, alternating, and report MB/s medians."""
    result = empty()
    path = random_file(sizes.hash_bytes)
    size = path.stat().st_size
    store = LocalStore(workdir / "objects", public_url="http://127.0.0.1:8000", secret=b"bench-secret")
    _hash_file(path)  # warm the page cache so both sides read from memory

    def mbps(seconds: float) -> float:
        return size / 1e6 / seconds

    base: list[float] = []
    subj: list[float] = []
    copy: list[float] = []
    expected = ""
    for rep, baseline_first in alternating(sizes.hash_reps):
        for side in ("baseline", "subject") if baseline_first else ("subject", "baseline"):
            if side == "baseline":
                seconds, expected = timed(partial(_hash_file, path))
                base.append(mbps(seconds))
            else:
                key = f"bench/hash-{rep}"
                seconds, stored = timed(partial(_put, store, path, key))
                store.delete(key)
                subj.append(mbps(seconds))
                if stored.size != size or (expected and stored.sha256 != expected):
                    result.notes.append(f"put_stream stored {stored.size} bytes with sha256 {stored.sha256[:12]}…")
        seconds, _ = timed(partial(_copy_file, path, workdir / "copy.bin"))
        copy.append(mbps(seconds))
        log(NAME, f"rep {rep + 1}/{sizes.hash_reps}: hashlib {base[-1]:.0f} MB/s, put_stream {subj[-1]:.0f} MB/s")

    result.baseline, result.subject = median(base), median(subj)
    result.ratio = ratio(result.subject, result.baseline)
    result.samples = {"baseline_mb_s": base, "subject_mb_s": subj, "copy_fsync_mb_s": copy}
    result.details = {"bytes": size, "reps": sizes.hash_reps, "copy_fsync_mb_s_median": median(copy)}
    result.notes.append(
        f"{size / MIB:.0f} MiB file read from the page cache; MB = 10^6 bytes; "
        f"ratio is subject/baseline throughput (higher is better for the subject)"
    )
    result.notes.append(
        f"context: read + write + fsync without hashing runs at {median(copy):.0f} MB/s, "
        "so put_stream's cost splits into hashing and the disk write"
    )
    return result
