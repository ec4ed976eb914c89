"""HTTP byte ranges (RFC 9110 §14): which bytes of an object a ``Range`` header asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
#: Past this many digits a position is beyond any object (and ``int()`` refuses over 4,300 digits).
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    """A byte position as written, or a number past any object's end when it has more digits than that."""
    significant = digits.lstrip("0") or "0"
    return _BEYOND if len(significant) > _MAX_DIGITS else int(significant)


class RangeNotSatisfiable(Exception):
    """The range lies wholly past the end of the object (answer 416 with ``bytes */size``)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no byte of the requested range lies within the {size} bytes of the object")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """Resolve a ``Range`` header against an object of ``size`` bytes.

    Supports one range of the forms ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``; an end past
    the object is clamped to its last byte, however many digits it has. Anything else (no header, other units, several
    ranges, malformed values) is ignored, as RFC 9110 allows, and the whole object is sent.

    Args:
        header: The request's ``Range`` header, if any.
        size: The object's size in bytes.

    Returns:
        The range to send with 206, or None to send the whole object with 200.

    Raises:
        RangeNotSatisfiable: the range starts past the end, or asks for the last 0 bytes.
    """
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last n bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1, size)
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax: ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1), size)
