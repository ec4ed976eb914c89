"""Shared formatting for messages, emails and pages: one way to show a byte count, a date, and a YAML error."""

from __future__ import annotations

from datetime import date
from typing import Any


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


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def yaml_error(exc: Exception, *, source: str) -> str:
    """Describe a YAML syntax error as ``"answers.yaml line 3, column 5: what is wrong"``.

    PyYAML's own text spans several lines, names ``"<unicode string>"`` and quotes tokens such
    as ``'<stream end>'``; people read this instead, and the commonest slips get a hint.

    Args:
        exc: The ``yaml.YAMLError`` raised while parsing (marks, when it has them, are 0-based).
        source: How to name the document (``answers.yaml``, ``pool file pool.yaml``).

    Returns:
        One line: where the parser stopped, in words, what it found, and a hint where one helps.
    """
    problem = str(getattr(exc, "problem", None) or "").strip()
    mark = getattr(exc, "problem_mark", None)
    if not problem or mark is None:
        return f"{source}: not valid YAML: {' '.join(str(exc).split())}"
    context = str(getattr(exc, "context", None) or "").strip()
    opened = getattr(exc, "context_mark", None)
    if "quoted scalar" in context and "end of stream" in problem and opened is not None:
        what = f"the quote opened at {_at(opened)} is never closed"
    elif "mapping values are not allowed" in problem:
        what = "a colon and a space inside a value: put the whole value in quotes, or check the indentation"
    elif "'\\t'" in problem:
        what = "a tab: indent YAML with spaces only"
    elif "<stream end>" in problem and "flow" in context:
        bracket = opened is not None and ("flow mapping" in context or "flow sequence" in context)
        what = "the file ends before every [ or { is closed" + (f" (the one at {_at(opened)})" if bracket else "")
    elif "<block end>" in problem:
        what = f"the indentation does not line up with the lines above ({problem})"
    else:
        started = f" ({context} that starts at {_at(opened)})" if context and opened is not None else ""
        what = f"{problem}{started}"
    return f"{source} {_at(mark)}: {what}"


def long_date(value: date) -> str:
    """A date as people read it in pages and mail: "3 December 2026" (no leading zero)."""
    return f"{value.day} {value:%B %Y}"


def weekday_date(value: date) -> str:
    """A date with its weekday, for deadlines: "Thursday 3 December 2026"."""
    return f"{value:%A} {long_date(value)}"
