"""The rules of resumable uploads: declared name, type and size; sniffed bytes; completeness; S3 part plans."""

from __future__ import annotations

import pytest

from credflow.intake.resumable import (
    MAX_PARTS,
    MIN_PART_BYTES,
    PART_BYTES,
    Declared,
    Refusal,
    UploadRefused,
    accept_attribute,
    check_complete,
    check_declared,
    check_sniffed,
    part_plan,
)
from credflow.validation.formats import sniffed_as

VIDEO = ("mp4", "mov", "webm")
GIB = 1 << 30


def _refusal(call: object) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_a_phone_video_of_the_right_kind_and_size_passes() -> None:
    for name, mime in (
        ("IMG_0042.MOV", "video/quicktime"),
        ("talk.mp4", ""),
        ("talk.webm", "application/octet-stream"),
    ):
        check_declared(Declared(name, 3 * GIB, mime), kind="video", formats=VIDEO, max_bytes=4 * GIB)


def test_the_declared_size_is_checked_against_the_limit_and_zero() -> None:
    big = _refusal(
        lambda: check_declared(Declared("a.mp4", 5 * GIB, ""), kind="video", formats=VIDEO, max_bytes=4 * GIB)
    )
    assert (
        big.reason is Refusal.TOO_LARGE and big.message == "a.mp4 is 5.0 GB, over the 4.0 GB limit for this requirement"
    )
    just = _refusal(
        lambda: check_declared(Declared("a.mp4", 4 * GIB + 1, ""), kind="video", formats=VIDEO, max_bytes=4 * GIB)
    )
    assert "4,294,967,297 bytes, over the 4,294,967,296-byte limit" in just.message
    empty = _refusal(lambda: check_declared(Declared("a.mp4", 0, ""), kind="video", formats=VIDEO, max_bytes=4 * GIB))
    assert empty.reason is Refusal.EMPTY


def test_a_name_or_type_of_another_kind_is_refused() -> None:
    by_name = _refusal(lambda: check_declared(Declared("a.avi", 10, ""), kind="video", formats=VIDEO, max_bytes=100))
    assert by_name.reason is Refusal.WRONG_KIND and "choose a MP4, MOV or WEBM file" in by_name.message
    by_type = _refusal(
        lambda: check_declared(Declared("a.mp4", 10, "image/png"), kind="video", formats=VIDEO, max_bytes=100)
    )
    assert by_type.message == "a.mp4 is of type image/png, not a video: choose a MP4, MOV or WEBM file"
    # A document may be a photo of paper: image types pass for documents.
    check_declared(Declared("a.jpg", 10, "image/jpeg"), kind="document", formats=("pdf", "jpeg"), max_bytes=100)


def test_accept_lists_every_ending_of_the_formats() -> None:
    assert accept_attribute(("mp4", "mov", "jpeg")) == ".mp4,.mov,.qt,.jpg,.jpeg"


def test_sniffed_bytes_must_be_one_of_the_formats_and_a_zip_head_is_left_to_intake() -> None:
    check_sniffed(sniffed_as("mov"), filename="a.mov", formats=VIDEO, head_only=False)
    pdf = _refusal(lambda: check_sniffed(sniffed_as("pdf"), filename="a.mp4", formats=VIDEO, head_only=False))
    assert pdf.message == "a.mp4 is a PDF document, not a MP4, MOV or WEBM file; it was not kept"
    check_sniffed(sniffed_as("zip"), filename="a.docx", formats=("pdf", "docx"), head_only=True)
    whole = _refusal(
        lambda: check_sniffed(sniffed_as("zip"), filename="a.docx", formats=("pdf", "docx"), head_only=False)
    )
    assert whole.reason is Refusal.WRONG_KIND


def test_a_complete_upload_has_exactly_the_declared_bytes() -> None:
    check_complete(filename="a.mp4", received=10, declared=10, max_bytes=10)
    short = _refusal(lambda: check_complete(filename="a.mp4", received=9, declared=10, max_bytes=10))
    assert short.reason is Refusal.INCOMPLETE and "9 of 10 bytes arrived" in short.message
    assert _refusal(lambda: check_complete(filename="a.mp4", received=11, declared=10, max_bytes=20)).reason is (
        Refusal.TOO_LARGE
    )
    assert _refusal(lambda: check_complete(filename="a.mp4", received=11, declared=11, max_bytes=10)).reason is (
        Refusal.TOO_LARGE
    )


def test_part_plans_keep_to_s3s_limits() -> None:
    small = part_plan(1000)
    assert (small.part_bytes, small.count, small.part_size(1)) == (PART_BYTES, 1, 1000)
    four = part_plan(4 * GIB + 5)
    assert four.count == 257 and four.part_size(257) == 5 and four.part_size(1) == PART_BYTES
    huge = part_plan(5000 * GIB)
    assert huge.count <= MAX_PARTS and huge.part_bytes * huge.count >= 5000 * GIB
    with pytest.raises(ValueError):
        part_plan(0)
    with pytest.raises(ValueError):
        part_plan(10, part_bytes=MIN_PART_BYTES - 1)
    with pytest.raises(ValueError):
        four.part_size(258)
