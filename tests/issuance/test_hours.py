"""In-service hours export: RFC 4180 CSV that round-trips, formula injection neutralised, confirmation codes."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from credflow.issuance.hours import COLUMNS, HoursRecord, confirmation_code, hours_csv


def record(**overrides: object) -> HoursRecord:
    values: dict[str, object] = {
        "applicant_name": "Ana Alvarez",
        "applicant_email": "ana@example.org",
        "organisation": "Riverside Unified",
        "credential_id": "openscied-anchoring-phenomenon",
        "credential_title": "Preparing to Facilitate the Anchoring Phenomenon Routine",
        "hours": 3.0,
        "earned_on": date(2025, 3, 10),
        "decision_id": "9b2f0c1d",
        "confirmation": "CF-1A2B-3C4D",
    }
    values.update(overrides)
    return HoursRecord(**values)  # type: ignore[arg-type]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_header_then_one_row_per_record_with_crlf_line_ends():
    text = hours_csv([record(), record(applicant_name="Ben Okoro", hours=1.5, decision_id="77aa")])
    assert text.split("\r\n")[0] == ",".join(COLUMNS)
    assert text.endswith("\r\n") and text.count("\r\n") == 3
    header, first, second = rows(text)
    assert header[0] == "applicant_name" and header[-1] == "confirmation"
    assert first == [
        "Ana Alvarez",
        "ana@example.org",
        "Riverside Unified",
        "openscied-anchoring-phenomenon",
        "Preparing to Facilitate the Anchoring Phenomenon Routine",
        "3",
        "2025-03-10",
        "9b2f0c1d",
        "CF-1A2B-3C4D",
    ]
    assert second[0] == "Ben Okoro" and second[5] == "1.5"


def test_commas_quotes_and_line_breaks_round_trip():
    tricky = record(organisation='Riverside "North", Unit 4', credential_title="Line one\nline two")
    text = hours_csv([tricky])
    assert '"Riverside ""North"", Unit 4"' in text
    assert rows(text)[1][2] == 'Riverside "North", Unit 4'
    assert rows(text)[1][4] == "Line one\nline two"


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_cells_that_would_run_as_formulas_are_prefixed_with_a_quote(payload):
    text = hours_csv([record(applicant_name=payload, organisation=payload)])
    row = rows(text)[1]
    assert row[0] == "'" + payload and row[2] == "'" + payload


def test_ordinary_text_is_left_alone():
    row = rows(hours_csv([record(applicant_name="Ana-María O'Neil", organisation="A+ Academy")]))[1]
    assert row[0] == "Ana-María O'Neil" and row[2] == "A+ Academy"


def test_no_records_is_just_the_header():
    assert rows(hours_csv([])) == [list(COLUMNS)]


def test_confirmation_codes_are_short_stable_and_distinct():
    code = confirmation_code("5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e01")
    assert code == confirmation_code("5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e01")
    assert code != confirmation_code("5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e02")
    assert len(code) == len("CF-XXXX-XXXX") and code.startswith("CF-")


def test_negative_hours_are_refused():
    with pytest.raises(ValueError, match="negative"):
        record(hours=-3)
