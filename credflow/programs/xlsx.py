"""The hours listing as an Excel workbook (openpyxl): typed cells, a totals row, column widths.

Text cells are stored as text, never as formulas: openpyxl would store a name typed as
``=HYPERLINK(...)`` as a formula, so every string cell is marked a string after it is set.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from credflow.programs.rules import HoursLine, hours_totals

#: The sheet's columns: header, width bounds come from the content.
HEADERS: tuple[str, ...] = (
    "Educator",
    "Email",
    "Organisation",
    "Micro-credential",
    "Micro-credential id",
    "Earned on",
    "Hours",
    "Confirmation",
)
SHEET = "In-service hours"
DATE_FORMAT = "yyyy-mm-dd"
HOURS_FORMAT = "0.##"
MAX_WIDTH = 60


def _text(cell: Cell, value: str) -> None:
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.data_type = "s"  # never a formula, whatever the text starts with


def hours_xlsx(lines: Sequence[HoursLine], *, filters: str, generated_at: datetime) -> bytes:
    """The listing as an .xlsx workbook: a header row, one typed row per line, a totals row.

    Dates are Excel dates, hours numbers; the header is bold and frozen; each column is as wide
    as its longest cell (up to 60 characters). The document's properties say what was filtered.

    Args:
        lines: The listing, in order.
        filters: The filters in words (the workbook's description).
        generated_at: When it was made (the workbook's creation time).

    Returns:
        The workbook's bytes.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = SHEET
    book.properties.title = "In-service hours"
    book.properties.description = ILLEGAL_CHARACTERS_RE.sub("", filters)
    book.properties.created = generated_at.replace(tzinfo=None)
    bold = Font(bold=True)
    for column, header in enumerate(HEADERS, start=1):
        cell = sheet.cell(row=1, column=column)
        _text(cell, header)
        cell.font = bold
    for row, line in enumerate(lines, start=2):
        record = line.record
        for column, text in enumerate(
            (record.applicant_name, record.applicant_email, record.organisation, record.credential_title),
            start=1,
        ):
            _text(sheet.cell(row=row, column=column), text)
        _text(sheet.cell(row=row, column=5), record.credential_id)
        earned = sheet.cell(row=row, column=6, value=record.earned_on)
        earned.number_format = DATE_FORMAT
        hours = sheet.cell(row=row, column=7, value=float(record.hours))
        hours.number_format = HOURS_FORMAT
        _text(sheet.cell(row=row, column=8), record.confirmation)
    totals = hours_totals(lines)
    last = len(lines) + 2
    label = sheet.cell(row=last, column=1)
    _text(label, f"Total ({totals.lines} micro-credentials, {len(totals.educators)} educators)")
    label.font = bold
    # A value, not =SUM(): readers that do not calculate (openpyxl, previews) still see the total.
    total = sheet.cell(row=last, column=7, value=float(totals.hours))
    total.number_format = HOURS_FORMAT
    total.font = bold
    sheet.freeze_panes = "A2"
    for column in range(1, len(HEADERS) + 1):
        longest = max(
            (
                len(str(cell.value))
                for (cell,) in sheet.iter_rows(max_row=last - 1, min_col=column, max_col=column)
                if cell.value
            ),
            default=8,
        )
        if column == 6:
            longest = max(longest, 10)  # a date shows as yyyy-mm-dd
        sheet.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, longest + 2)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
