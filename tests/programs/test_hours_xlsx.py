"""The hours workbook: opened with openpyxl, its cells are typed, its totals right and its text never a formula."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from credflow.issuance.hours import HoursRecord
from credflow.programs.rules import HoursLine
from credflow.programs.xlsx import HEADERS, SHEET, hours_xlsx

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def line(name: str, *, hours: float = 3.0, on: date = date(2026, 9, 15)) -> HoursLine:
    record = HoursRecord(
        applicant_name=name,
        applicant_email="ana@example.org",
        organisation="Westfield High",
        credential_id="openscied-anchoring-phenomenon",
        credential_title="Preparing to Facilitate the Anchoring Phenomenon Routine",
        hours=hours,
        earned_on=on,
        decision_id="d1",
        confirmation="CF-08E7-0B28",
    )
    return HoursLine(applicant_id=name, program="openscied-facilitator", record=record)


def test_the_workbook_has_a_header_typed_rows_a_totals_row_and_widths() -> None:
    data = hours_xlsx(
        [line("Ana Alvarez"), line("Ben Okoro", hours=1.5, on=date(2026, 10, 5))],
        filters="Westfield High, any date",
        generated_at=NOW,
    )
    book = load_workbook(io.BytesIO(data))
    sheet = book[SHEET]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert tuple(rows[0]) == HEADERS
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert rows[1][0] == "Ana Alvarez" and rows[1][5] == datetime(2026, 9, 15) and rows[1][6] == 3
    assert sheet["F2"].is_date and sheet["F2"].number_format == "yyyy-mm-dd"
    assert sheet["G3"].data_type == "n" and rows[2][6] == 1.5
    assert rows[3][0] == "Total (2 micro-credentials, 2 educators)" and rows[3][6] == 4.5 and sheet["G4"].font.bold
    assert sheet.column_dimensions["D"].width == len("Preparing to Facilitate the Anchoring Phenomenon Routine") + 2
    assert sheet.column_dimensions["F"].width >= 12
    assert book.properties.description == "Westfield High, any date"


def test_text_that_looks_like_a_formula_stays_text() -> None:
    payload = '=HYPERLINK("http://evil.example","click")'
    book = load_workbook(io.BytesIO(hours_xlsx([line(payload)], filters="", generated_at=NOW)))
    cell = book[SHEET]["A2"]
    assert cell.value == payload and cell.data_type == "s"


def test_control_characters_are_dropped_not_fatal() -> None:
    book = load_workbook(io.BytesIO(hours_xlsx([line("Ana\x07 Alvarez")], filters="", generated_at=NOW)))
    assert book[SHEET]["A2"].value == "Ana Alvarez"


def test_an_empty_listing_still_has_its_header_and_a_zero_total() -> None:
    sheet = load_workbook(io.BytesIO(hours_xlsx([], filters="", generated_at=NOW)))[SHEET]
    assert [c.value for c in sheet[1]] == list(HEADERS)
    assert sheet["A2"].value == "Total (0 micro-credentials, 0 educators)" and sheet["G2"].value == 0
