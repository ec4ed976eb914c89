"""Tests for cleaning uploaded file names for display."""

from __future__ import annotations

import unicodedata

import pytest

from credflow.validation.names import MAX_NAME_LENGTH, DisplayName, safe_display_name


def _codes(result: DisplayName) -> list[str]:
    return [finding.code for finding in result.findings]


def test_traversal_keeps_only_the_last_part() -> None:
    result = safe_display_name("../../etc/passwd")
    assert result.name == "passwd"
    assert _codes(result) == ["unsafe_filename_path"]
    assert result.findings[0].message.startswith("The file name '../../etc/passwd' contains folder parts ('../')")


def test_windows_path() -> None:
    result = safe_display_name("C:\\Users\\x\\a.pdf")
    assert result.name == "a.pdf"
    assert _codes(result) == ["unsafe_filename_path"]
    assert "'C:\\Users\\x\\a.pdf'" in result.findings[0].message
    assert "('C:\\Users\\x\\')" in result.findings[0].message


def test_right_to_left_override_is_removed_and_reported() -> None:
    result = safe_display_name("invoice\u202efdp.exe")
    assert result.name == "invoicefdp.exe"
    assert _codes(result) == ["unsafe_filename_bidi"]
    message = result.findings[0].message
    assert "invoice<U+202E>fdp.exe" in message
    assert "\u202e" not in message
    assert "'.exe'" in message
    assert "disguise" in message


@pytest.mark.parametrize(
    "control", ["\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"]
)
def test_every_bidi_control_is_reported(control: str) -> None:
    result = safe_display_name(f"report{control}.pdf")
    assert result.name == "report.pdf"
    assert _codes(result) == ["unsafe_filename_bidi"]


def test_names_are_nfc_normalised() -> None:
    result = safe_display_name("re\u0301sume\u0301.pdf")
    assert result.name == "résumé.pdf"
    assert unicodedata.is_normalized("NFC", result.name)
    assert len(result.name) == 10
    assert result.findings == ()


def test_zero_width_and_control_characters_are_removed_silently() -> None:
    result = safe_display_name("les\u200bson\u200d pl\ufeffan\x00\x07.pdf")
    assert result.name == "lesson plan.pdf"
    assert result.findings == ()


def test_whitespace_is_collapsed_and_leading_dots_stripped() -> None:
    assert safe_display_name("  my \t\n  lesson   plan.docx  ").name == "my lesson plan.docx"
    assert safe_display_name(".hidden.pdf").name == "hidden.pdf"
    assert safe_display_name(" . .env").name == "env"


def test_long_names_are_capped_keeping_the_extension() -> None:
    result = safe_display_name("a" * 400 + ".pdf")
    assert len(result.name) == MAX_NAME_LENGTH
    assert result.name.endswith("aaa.pdf")
    assert result.findings == ()
    no_extension = safe_display_name("b" * 400)
    assert no_extension.name == "b" * MAX_NAME_LENGTH


@pytest.mark.parametrize("raw", ["...", "", "   ", "\u200b", "/", "../..", "\u202e"])
def test_names_that_clean_to_nothing_become_unnamed(raw: str) -> None:
    assert safe_display_name(raw).name == "unnamed"


def test_dots_alone_are_not_a_path() -> None:
    assert safe_display_name("...").findings == ()
    assert _codes(safe_display_name("..")) == ["unsafe_filename_path"]


def test_ordinary_names_pass_unchanged() -> None:
    for raw in ("Lesson plan (final).docx", "課程計畫.pdf", "notes.v2.txt", "photo 2024-05-01.jpg"):
        result = safe_display_name(raw)
        assert result == DisplayName(raw, ())


def test_path_and_bidi_findings_together() -> None:
    result = safe_display_name("uploads/\u202egpj.exe")
    assert result.name == "gpj.exe"
    assert _codes(result) == ["unsafe_filename_path", "unsafe_filename_bidi"]
    assert all("\u202e" not in finding.message for finding in result.findings)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("CON.pdf", "CON_.pdf"),
        ("nul.txt", "nul_.txt"),
        ("COM1", "COM1_"),
        ("lpt9.tar.gz", "lpt9_.tar.gz"),
        ("Aux .docx", "Aux_.docx"),
        ("prn.", "prn_"),
        ("conin$.txt", "conin$_.txt"),
        ("console.pdf", "console.pdf"),
        ("COM10.pdf", "COM10.pdf"),
        ("report.pdf. . .", "report.pdf"),
    ],
)
def test_windows_device_names_are_made_safe_to_save(raw, shown):
    assert safe_display_name(raw).name == shown
