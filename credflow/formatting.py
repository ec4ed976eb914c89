"""Shared formatting for messages, emails and pages: one way to show a byte count."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Format a byte count the way file managers do (``"5.0 GB"``, ``"300 bytes"``).

    Every message, email and page shows sizes through this function, so one file's size
    reads the same wherever it appears.

    Args:
        size: A number of bytes.

    Returns:
        The size in bytes, KB, MB or GB (powers of 1024, one decimal; larger sizes in GB).
    """
    if size < 1024:
        return f"{size} bytes" if size != 1 else "1 byte"
    value = size / 1024
    units = iter(("KB", "MB", "GB"))
    unit = next(units)
    for bigger in units:
        if value < 1024:
            break
        value /= 1024
        unit = bigger
    return f"{value:.1f} {unit}"
