"""Storing a file: ``LocalStore.put_stream`` (hash + write + fsync) versus a plain write + fsync of the same bytes."""

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
# Issue 15: hashing overlaps the disk, so a put costs little more than the write it cannot avoid.
TARGET = 0.9


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="3. put_stream vs write + fsync",
        unit="MB/s",
        baseline_label="write+fsync",
        subject_label="put_stream",
        target=f"ratio >= {TARGET}",
    )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_file(path: Path, dst: Path) -> None:
    # put_stream without the hash, the temp file or the rename: read, write, fsync.
    with path.open("rb") as fh, dst.open("wb") as out:
        while chunk := fh.read(CHUNK_SIZE):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _put(store: LocalStore, path: Path, key: str) -> StoredObject:
    with path.open("rb") as fh:
        return store.put_stream(key, fh)


def run(sizes: Sizes, workdir: Path) -> Result:
    """Time both sides ``sizes.hash_reps`` times each, alternating, and report MB/s medians."""
    result = empty()
    path = random_file(sizes.hash_bytes)
    size = path.stat().st_size
    store = LocalStore(workdir / "objects", public_url="http://127.0.0.1:8000", secret=b"bench-secret")
    copy_path = workdir / "copy.bin"
    expected = _hash_file(path)  # also warms the page cache, so both sides read from memory

    def mbps(seconds: float) -> float:
        return size / 1e6 / seconds

    base: list[float] = []
    subj: list[float] = []
    hashing: list[float] = []
    for rep, baseline_first in alternating(sizes.hash_reps):
        for side in ("baseline", "subject") if baseline_first else ("subject", "baseline"):
            if side == "baseline":
                seconds, _ = timed(partial(_copy_file, path, copy_path))
                copy_path.unlink()
                base.append(mbps(seconds))
            else:
                key = f"bench/put-{rep}"
                seconds, stored = timed(partial(_put, store, path, key))
                store.delete(key)
                subj.append(mbps(seconds))
                if stored.size != size or stored.sha256 != expected:
                    result.notes.append(f"put_stream stored {stored.size} bytes with sha256 {stored.sha256[:12]}…")
        seconds, _ = timed(partial(_hash_file, path))
        hashing.append(mbps(seconds))
        log(NAME, f"rep {rep + 1}/{sizes.hash_reps}: write+fsync {base[-1]:.0f} MB/s, put_stream {subj[-1]:.0f} MB/s")

    result.baseline, result.subject = median(base), median(subj)
    result.ratio = ratio(result.subject, result.baseline)
    result.passed = result.ratio >= TARGET and not result.notes
    result.samples = {"baseline_mb_s": base, "subject_mb_s": subj, "hashlib_mb_s": hashing}
    result.details = {"bytes": size, "reps": sizes.hash_reps, "hashlib_mb_s_median": median(hashing)}
    result.notes.append(
        f"{size / MIB:.0f} MiB file read from the page cache; MB = 10^6 bytes; "
        f"ratio is subject/baseline throughput (higher is better for the subject)"
    )
    result.notes.append(
        f"context: hashlib alone over the file runs at {median(hashing):.0f} MB/s; put_stream hashes on a "
        "thread of its own while it writes, so it can reach the disk's speed only when hashing is faster"
    )
    return result
