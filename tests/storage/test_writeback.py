"""Tests of start_writeback: Linux starts writing a file's range; elsewhere, and on what is not a file, it says no."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from credflow.storage.writeback import start_writeback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_writeback_starts_on_a_regular_file(tmp_path: Path) -> None:
    with (tmp_path / "f").open("wb") as out:
        out.write(b"x" * 100_000)
        out.flush()
        assert start_writeback(out.fileno(), 0, 100_000)


def test_writeback_is_refused_on_a_pipe() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"x")
        assert not start_writeback(write_end, 0, 1)
    finally:
        os.close(read_end)
        os.close(write_end)
