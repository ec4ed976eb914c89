"""Tests of BackgroundSha256: the same digest as hashlib, on a thread that always ends."""

from __future__ import annotations

import gc
import hashlib
import os
import threading

import pytest

from credflow.storage.digest import THREAD_NAME, BackgroundSha256


def hashing_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


@pytest.mark.parametrize("pieces", [[], [0], [1], [10, 20], [99, 1], [100, 1, 200], [50] * 7, [1000, 0, 3]])
def test_the_digest_is_hashlibs_whatever_the_pieces(pieces: list[int]) -> None:
    data = os.urandom(sum(pieces))
    digest = BackgroundSha256(depth=2, inline_bytes=100)
    at = 0
    for length in pieces:
        digest.update(data[at : at + length])
        at += length
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()  # asking twice gives the same answer
    assert hashing_threads() == []


def test_small_input_is_hashed_without_a_thread_and_large_input_on_one() -> None:
    small = BackgroundSha256(inline_bytes=100)
    small.update(b"x" * 100)
    assert hashing_threads() == []
    large = BackgroundSha256(inline_bytes=100)
    large.update(b"x" * 101)
    assert len(hashing_threads()) == 1
    assert small.hexdigest() == hashlib.sha256(b"x" * 100).hexdigest()
    assert large.hexdigest() == hashlib.sha256(b"x" * 101).hexdigest()
    assert hashing_threads() == []


def test_a_buffer_the_caller_reuses_is_hashed_as_it_was_when_given() -> None:
    buffer = bytearray(b"a" * 4096)
    digest = BackgroundSha256(inline_bytes=0)
    digest.update(buffer)
    buffer[:] = b"b" * 4096
    digest.update(buffer)
    assert digest.hexdigest() == hashlib.sha256(b"a" * 4096 + b"b" * 4096).hexdigest()


def test_cancel_ends_the_thread_and_finishes_the_digest() -> None:
    digest = BackgroundSha256(depth=1, inline_bytes=0)
    for _ in range(5):
        digest.update(b"z" * 65536)
    digest.cancel()
    digest.cancel()
    assert hashing_threads() == []
    with pytest.raises(ValueError, match="finished"):
        digest.update(b"more")
    with pytest.raises(ValueError, match="cancelled"):
        digest.hexdigest()


def test_cancel_after_the_digest_was_read_changes_nothing() -> None:
    digest = BackgroundSha256(inline_bytes=0)
    digest.update(b"abc")
    expected = digest.hexdigest()
    digest.cancel()
    assert digest.hexdigest() == expected


def test_a_forgotten_digest_ends_its_thread_when_collected() -> None:
    digest = BackgroundSha256(inline_bytes=0)
    digest.update(b"abandoned")
    (thread,) = hashing_threads()
    del digest
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        BackgroundSha256(depth=0)
    with pytest.raises(ValueError):
        BackgroundSha256(inline_bytes=-1)
