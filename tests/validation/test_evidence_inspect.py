"""Tests for the structural content checks of evidence files."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from credflow.formatting import human_size
from credflow.validation import inspect as evidence_inspect
from credflow.validation.formats import sniffed_as
from credflow.validation.inspect import Finding, inspect_content, printable
from credflow.validation.sniff import sniff
from tests.utils import badfiles

Generator = Callable[[Path], Path]


def _check(path: Path, **limits: Any) -> list[Finding]:
    return inspect_content(path, sniff(path), **limits)


def _codes(path: Path) -> list[str]:
    return [finding.code for finding in _check(path)]


EXPECTED: list[tuple[Generator, list[str]]] = [
    (badfiles.zero_byte, []),
    (badfiles.random_bytes, []),
    (badfiles.zip_bomb_docx, ["zip_bomb"]),
    (badfiles.zip_slip_docx, ["zip_slip"]),
    (badfiles.clean_docx, []),
    (badfiles.clean_pptx, []),
    (badfiles.clean_xlsx, []),
    (badfiles.clean_odt, []),
    (badfiles.macro_docx, ["office_macros"]),
    (badfiles.plain_zip_named_docx, []),
    (badfiles.encrypted_zip, ["encrypted_document"]),
    (badfiles.corrupt_zip, ["corrupt_archive"]),
    (badfiles.compressed_zeros_zip, ["zip_bomb"]),
    (badfiles.many_entries_zip, []),
    (badfiles.clean_pdf, []),
    (badfiles.pdf_with_javascript, ["pdf_javascript"]),
    (badfiles.pdf_with_open_action, ["pdf_auto_action"]),
    (badfiles.pdf_with_launch, ["pdf_launch"]),
    (badfiles.pdf_with_hidden_javascript, ["pdf_javascript"]),
    (badfiles.pdf_with_goto_open_action, []),
    (badfiles.encrypted_pdf, ["encrypted_document"]),
    (badfiles.permissions_only_pdf, []),
    (badfiles.corrupt_pdf, ["corrupt_pdf"]),
    (badfiles.clean_jpeg, []),
    (badfiles.jpeg_with_zip_appended, ["appended_data"]),
    (badfiles.jpeg_with_padding, []),
    (badfiles.truncated_jpeg, ["truncated_image"]),
    (badfiles.clean_png, []),
    (badfiles.png_with_appended_data, ["appended_data"]),
    (badfiles.truncated_png, ["truncated_image"]),
    (badfiles.clean_gif, []),
    (badfiles.gif_with_appended_data, ["appended_data"]),
    (badfiles.svg_named_png, []),
    (badfiles.hls_playlist, []),
    (badfiles.elf_named_pdf, []),
    (badfiles.html_named_pdf, []),
    (badfiles.plain_text, []),
    (badfiles.clean_mp4_boxes, []),
    (badfiles.truncated_mp4_boxes, ["truncated_media"]),
    (badfiles.mp4_without_moov, ["truncated_media"]),
]


@pytest.mark.parametrize(("make", "codes"), EXPECTED, ids=[make.__name__ for make, _ in EXPECTED])
def test_generated_files_get_the_expected_findings(tmp_path: Path, make: Generator, codes: list[str]) -> None:
    findings = _check(make(tmp_path))
    assert [finding.code for finding in findings] == codes
    for finding in findings:
        assert finding.message.endswith(".")
        assert finding.fix.endswith(".")


def test_zip_bomb_generation_is_fast_and_small(tmp_path: Path) -> None:
    path = badfiles.zip_bomb_docx(tmp_path)
    assert path.stat().st_size < 8 << 20
    with zipfile.ZipFile(path) as archive:
        assert sum(info.file_size for info in archive.infolist()) > badfiles.BOMB_SIZE
    (finding,) = _check(path)
    assert "5.0 GB" in finding.message
    assert finding.message.startswith("The Word document")


def test_zip_bomb_limits_are_parameters(tmp_path: Path) -> None:
    docx = badfiles.clean_docx(tmp_path)
    assert _codes(docx) == []
    assert [f.code for f in _check(docx, max_unpacked_bytes=100)] == ["zip_bomb"]
    many = badfiles.many_entries_zip(tmp_path, count=50)
    (finding,) = _check(many, max_entries=10)
    assert finding.code == "zip_bomb"
    assert "50 files" in finding.message
    zeros = badfiles.compressed_zeros_zip(tmp_path)
    assert _check(zeros, max_ratio=5000.0) == []


def test_zip_slip_names_the_entry(tmp_path: Path) -> None:
    (finding,) = _check(badfiles.zip_slip_docx(tmp_path))
    assert finding.message == (
        "The Word document contains a path that escapes its folder ('../../evil.sh'); "
        "this is a sign of a malicious archive."
    )
    assert finding.fix == "Export the document again from Word or Google Docs and upload the new file."


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("/etc/cron.d/job", "outside its folder"),
        ("C:/Windows/evil.dll", "outside its folder"),
        ("..\\..\\evil.bat", "escapes its folder"),
        ("word\\document.xml", "backslashes"),
        ("media/../../../x", "escapes its folder"),
    ],
)
def test_unsafe_archive_paths(tmp_path: Path, entry: str, words: str) -> None:
    path = tmp_path / "evidence.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fine.txt", "ok")
        archive.writestr(zipfile.ZipInfo(entry), "bad")
    (finding,) = _check(path)
    assert finding.code == "zip_slip"
    assert words in finding.message
    assert "zip archive" in finding.message


def test_safe_archive_names_with_dots_are_not_zip_slip(tmp_path: Path) -> None:
    path = tmp_path / "evidence.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("notes..txt", "..hidden", "a/b..c/d.txt", "dir/"):
            archive.writestr(name, "ok")
    assert _check(path) == []


def test_appended_zip_is_named_as_such(tmp_path: Path) -> None:
    (finding,) = _check(badfiles.jpeg_with_zip_appended(tmp_path))
    assert "a hidden zip archive is appended" in finding.message


def test_jpeg_thumbnail_end_marker_is_not_mistaken_for_the_end(tmp_path: Path) -> None:
    path = badfiles.clean_jpeg(tmp_path)
    assert path.read_bytes().count(b"\xff\xd9") == 2
    assert _check(path) == []


def test_jpeg_with_motion_photo_video_appended(tmp_path: Path) -> None:
    motion = badfiles.clean_mp4_boxes(tmp_path).read_bytes()
    path = tmp_path / "photo.jpg"
    path.write_bytes(badfiles.TINY_JPEG + motion)
    (finding,) = _check(path)
    assert finding.code == "appended_data"
    assert "video clip" in finding.message


def test_jpeg_restart_markers_and_fill_bytes_inside_the_scan(tmp_path: Path) -> None:
    scan_end = badfiles.TINY_JPEG.rindex(b"\xff\xd9")
    # Restart markers, a stuffed FF00 and fill bytes before EOI are all part of a valid scan.
    data = badfiles.TINY_JPEG[:scan_end] + b"\xff\xd0\x12\xff\x00\x34\xff\xff\xff\xd9"
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    assert _check(path) == []
    path.write_bytes(data + b"MZ\x90\x00 more")
    assert _codes(path) == ["appended_data"]


def test_truncated_media_says_how_much_is_missing(tmp_path: Path) -> None:
    (finding,) = _check(badfiles.truncated_mp4_boxes(tmp_path))
    missing = badfiles.TRUNCATED_MDAT_DECLARED - badfiles.TRUNCATED_MDAT_PRESENT
    assert f"{missing:,} bytes" in finding.message
    assert "missing" in finding.message


def test_missing_moov_has_its_own_message(tmp_path: Path) -> None:
    truncated = _check(badfiles.truncated_mp4_boxes(tmp_path, "cut.mp4"))
    no_index = _check(badfiles.mp4_without_moov(tmp_path, "unfinished.mp4"))
    assert truncated[0].code == no_index[0].code == "truncated_media"
    assert "no index" in no_index[0].message
    assert truncated[0].message != no_index[0].message


@pytest.mark.parametrize(
    ("tail", "codes"),
    [
        (badfiles.box(b"mdat", bytes(10), declared=0), []),  # size 0: runs to the end of the file
        (badfiles.box(b"mdat", bytes(10), large=True), []),
        (badfiles.box(b"mdat", bytes(10), declared=1 << 40, large=True), ["truncated_media"]),
        (badfiles.box(b"mdat", bytes(10), declared=4), ["truncated_media"]),  # smaller than its own header
        (b"\x00\x00\x01", ["truncated_media"]),  # cut inside a box header
    ],
)
def test_box_walk_edge_cases(tmp_path: Path, tail: bytes, codes: list[str]) -> None:
    source = badfiles.clean_mp4_boxes(tmp_path)
    head = source.read_bytes()
    head = head[: head.index(b"mdat") - 4]  # ftyp + moov, without the 64-bit mdat
    path = tmp_path / "clip.mov"
    path.write_bytes(head + tail)
    assert _codes(path) == codes


def test_javascript_is_reported_once(tmp_path: Path) -> None:
    path = badfiles.pdf_with_javascript(tmp_path)
    assert b"/JavaScript" in path.read_bytes()  # the raw scan would match too
    assert _codes(path) == ["pdf_javascript"]


def test_javascript_open_action_is_both_a_script_and_an_auto_action(tmp_path: Path) -> None:
    path = tmp_path / "reflection.pdf"
    path.write_bytes(
        badfiles._pdf(badfiles._pdf_objects(catalog_extra=b"/OpenAction << /S /JavaScript /JS (this.print\\(\\)) >> "))
    )
    assert sorted(_codes(path)) == ["pdf_auto_action", "pdf_javascript"]


def test_open_action_destination_does_not_hide_the_page(tmp_path: Path) -> None:
    path = tmp_path / "reflection.pdf"
    objects = badfiles._pdf_objects(
        catalog_extra=b"/OpenAction [3 0 R /Fit] ",
        page_extra=b"/Annots [6 0 R] ",
        extra=[b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /Launch /F (calc.exe) >> >>"],
    )
    path.write_bytes(badfiles._pdf(objects))
    assert _codes(path) == ["pdf_launch"]


def test_page_additional_actions_and_annotation_scripts(tmp_path: Path) -> None:
    path = tmp_path / "reflection.pdf"
    path.write_bytes(
        badfiles._pdf(
            badfiles._pdf_objects(
                page_extra=b"/AA << /O << /S /URI /URI (https://example.com) >> >> /Annots [6 0 R] ",
                extra=[
                    b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /URI /URI (x) /Next 7 0 R >> >>",
                    b"<< /S /JavaScript /JS 8 0 R >>",
                    b"<< /Length 2 >>\nstream\n//\nendstream",
                ],
            )
        )
    )
    findings = {finding.code: finding for finding in _check(path)}
    assert set(findings) == {"pdf_auto_action", "pdf_javascript"}
    assert "page 1" in findings["pdf_auto_action"].message
    assert "page 1" in findings["pdf_javascript"].message


def test_pdf_is_read_without_loading_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the repair limit at zero any whole-file read fails; a sound PDF never needs one.
    monkeypatch.setattr(evidence_inspect, "_PDF_MAX_REPAIR_BYTES", 0)
    assert _codes(badfiles.clean_pdf(tmp_path)) == []
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(badfiles.clean_pdf(tmp_path).read_bytes().replace(b"startxref", b"startxrex"))
    assert _codes(broken) == ["corrupt_pdf"]


def test_pdf_objects_larger_than_the_read_cap_are_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A hostile PDF can point its opening action at a stream as large as the file: pypdf would read it
    # whole. Any read over the cap is refused, so inspection memory stays bounded whatever the size.
    monkeypatch.setattr(evidence_inspect, "_PDF_MAX_READ_BYTES", 1 << 16)
    assert _codes(badfiles.pdf_with_stream_action(tmp_path, size=1 << 20)) == ["corrupt_pdf"]
    assert _codes(badfiles.clean_pdf(tmp_path)) == []
    monkeypatch.setattr(evidence_inspect, "_PDF_MAX_READ_BYTES", 4 << 20)
    assert _codes(badfiles.pdf_with_stream_action(tmp_path, size=1 << 20)) == ["pdf_auto_action"]


def test_password_protected_office_file(tmp_path: Path) -> None:
    path = tmp_path / "reflection.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    sniffed = sniffed_as("unknown", kind="document", mime="application/encrypted")
    assert [finding.code for finding in inspect_content(path, sniffed)] == ["encrypted_document"]


def test_corrupt_zip_directory_offsets(tmp_path: Path) -> None:
    path = badfiles.clean_docx(tmp_path)
    data = bytearray(path.read_bytes())
    # Push the first central directory record's local-header offset past the directory.
    record = data.index(b"PK\x01\x02")
    data[record + 42 : record + 46] = (len(data)).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert "corrupt_archive" in _codes(path)


def test_printable_and_human_size() -> None:
    assert printable("invoice\u202efdp.exe") == "invoice<U+202E>fdp.exe"
    assert printable("a" * 100, limit=10) == "a" * 10 + "…"
    assert human_size(1) == "1 byte"
    assert human_size(300) == "300 bytes"
    assert human_size(5 << 30) == "5.0 GB"
    assert human_size(1536) == "1.5 KB"
