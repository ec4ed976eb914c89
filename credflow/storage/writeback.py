"""Early writeback: ask Linux to start writing a file's dirty pages now, so the closing fsync has little left to do."""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

#: ``SYNC_FILE_RANGE_WRITE`` from <linux/fs.h>: start writing the range's dirty pages, without waiting.
SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    # Python's os module has no sync_file_range; glibc and musl export it on Linux.
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    found: Callable[[int, int, int, int], int] = function
    return found


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Start writing ``length`` bytes of the open file ``fd`` from ``offset`` to the disk, without waiting for it.

    An fsync afterwards is still what makes the bytes durable; it just finds most of them
    already written, so the disk works while the caller is still producing bytes.

    Args:
        fd: A file descriptor open for writing.
        offset: Where the range starts.
        length: How many bytes the range covers.

    Returns:
        False where the system cannot (not Linux, or the file refuses it): the fsync then does
        all the writing, as it would without this call.
    """
    function = _sync_file_range()
    return function is not None and function(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0
