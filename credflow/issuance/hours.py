"""In-service hours: one record per earned micro-credential and the CSV export for PD directors."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from datetime import date

#: Leading characters that make spreadsheet programs read a cell as a formula (OWASP's list:
#: the four the CSV-injection advisories name, plus tab and carriage return).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class HoursRecord:
    """In-service hours earned with one micro-credential, and how to confirm them."""

    applicant_name: str
    applicant_email: str
    organisation: str
    credential_id: str
    credential_title: str
    hours: float
    earned_on: date
    decision_id: str
    confirmation: str

    def __post_init__(self) -> None:
        if self.hours < 0:
            raise ValueError(f"hours cannot be negative, got {self.hours}")


#: The CSV header: the record's field names, in order.
COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(HoursRecord))


def confirmation_code(decision_id: str) -> str:
    """A short confirmation id for a decision, to quote to a PD director (e.g. ``CF-1A2B-3C4D``).

    Args:
        decision_id: The decision that earned the micro-credential.

    Returns:
        The same code for the same decision, every time.
    """
    digest = hashlib.sha256(f"hours:{decision_id}".encode()).hexdigest()[:8].upper()
    return f"CF-{digest[:4]}-{digest[4:]}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    # A quote in front keeps a spreadsheet from running "=HYPERLINK(...)" typed as a name.
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def hours_csv(records: Iterable[HoursRecord]) -> str:
    """The records as CSV (RFC 4180: CRLF line ends, quotes where needed), header first.

    Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``,
    tab or carriage return) are prefixed with a single quote.

    Args:
        records: The records, in the order to list them.

    Returns:
        The CSV text.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_cell(value) for value in astuple(record)])
    return buffer.getvalue()
