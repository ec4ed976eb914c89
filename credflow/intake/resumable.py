"""Rules of resumable uploads: what a large file must look like before its first byte, and after its last.

Pure: no session, no services. The web app (``web/api/resumable.py``) asks these rules before it
accepts a tus upload or starts an S3 multipart upload (the declared name, type and size), and again
when the last byte has arrived (what the bytes really are, sniffed like intake does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from credflow.formatting import human_size
from credflow.validation.formats import Sniffed

#: How long an unfinished upload may be resumed (a closed tab reopened the next day). S3's own rule
#: aborts incomplete multipart uploads after two days (infra/s3/lifecycle.json), so this stays below it.
RESUME_WINDOW = timedelta(hours=24)

#: S3 multipart: every part but the last at least 5 MiB, at most 10,000 parts.
MIN_PART_BYTES = 5 << 20
MAX_PARTS = 10_000
#: The part size credflow asks for: large enough that a 4 GiB video is 256 parts, small enough to resend.
PART_BYTES = 16 << 20

#: The file name endings of each evidence format (lower case, with the dot).
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "mp4": (".mp4",),
    "mov": (".mov", ".qt"),
    "m4v": (".m4v",),
    "webm": (".webm",),
    "mkv": (".mkv",),
    "avi": (".avi",),
    "3gp": (".3gp", ".3g2"),
    "mp3": (".mp3",),
    "m4a": (".m4a",),
    "wav": (".wav",),
    "ogg": (".ogg", ".oga"),
    "jpeg": (".jpg", ".jpeg"),
    "png": (".png",),
    "gif": (".gif",),
    "webp": (".webp",),
    "heic": (".heic", ".heif"),
    "pdf": (".pdf",),
    "docx": (".docx",),
    "pptx": (".pptx",),
    "xlsx": (".xlsx",),
    "odt": (".odt",),
    "odp": (".odp",),
    "rtf": (".rtf",),
    "txt": (".txt",),
}

#: Formats stored inside a zip: a sniff of the first bytes alone sees a zip, not which one.
_ZIP_BASED = frozenset({"docx", "pptx", "xlsx", "odt", "odp"})

#: The MIME families a browser may report for a file of each requirement kind.
_KIND_MIME_FAMILIES: dict[str, tuple[str, ...]] = {
    "video": ("video/",),
    "image": ("image/",),
    "document": ("application/", "text/", "image/"),
}
#: Types that say nothing about the file (the browser did not know it).
_UNSAID_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


class Refusal(StrEnum):
    """Why a resumable upload is refused; the web app answers each with its own status."""

    TOO_LARGE = "too_large"
    WRONG_KIND = "wrong_kind"
    EMPTY = "empty"
    INCOMPLETE = "incomplete"


class UploadRefused(ValueError):
    """A resumable upload that the rules refuse; the message says why in a teacher's words."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Declared:
    """What the browser says about a file before sending it."""

    filename: str
    size: int
    content_type: str


def over(size: int, limit: int) -> str:
    """``"12.0 MB, over the 10.0 MB"``; in bytes when the rounded sizes would read the same."""
    shown, cap = human_size(size), human_size(limit)
    if shown == cap:
        shown, cap = f"{size:,} bytes", f"{limit:,}-byte"
    return f"{shown}, over the {cap}"


def extensions_of(formats: Iterable[str]) -> tuple[str, ...]:
    """The file name endings of ``formats``, in order (``("mp4", "mov")`` -> ``(".mp4", ".mov", ".qt")``)."""
    return tuple(ext for fmt in formats for ext in FORMAT_EXTENSIONS.get(fmt, ()))


def accept_attribute(formats: Iterable[str]) -> str:
    """The ``accept``/``data-accept`` value of a file input for ``formats`` (``".mp4,.mov,.qt"``)."""
    return ",".join(extensions_of(formats))


def format_names(formats: Sequence[str]) -> str:
    """``"MP4, MOV or WEBM"``: the formats as a teacher reads them."""
    names = [fmt.upper() for fmt in formats]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_declared(declared: Declared, *, kind: str, formats: Sequence[str], max_bytes: int) -> None:
    """Refuse a file by what the browser declares, before a byte of it is accepted.

    Args:
        declared: The file's name, size and type as the browser reports them.
        kind: The requirement's kind (``"video"``, ``"image"``, ``"document"``).
        formats: The formats the requirement accepts.
        max_bytes: The most bytes a file for the requirement may have.

    Raises:
        UploadRefused: empty, larger than ``max_bytes``, or a name or type of another kind.
    """
    name = declared.filename
    if declared.size <= 0:
        raise UploadRefused(Refusal.EMPTY, f"{name} is empty (0 bytes): choose the file again")
    if declared.size > max_bytes:
        raise UploadRefused(Refusal.TOO_LARGE, f"{name} is {over(declared.size, max_bytes)} limit for this requirement")
    allowed = extensions_of(formats)
    lowered = name.lower()
    if not any(lowered.endswith(ext) for ext in allowed):
        raise UploadRefused(
            Refusal.WRONG_KIND,
            f"{name} is not a file this requirement accepts: choose a {format_names(formats)} file "
            f"(a name ending in {', '.join(allowed)})",
        )
    mime = declared.content_type.strip().lower()
    families = _KIND_MIME_FAMILIES.get(kind, ())
    if mime not in _UNSAID_TYPES and families and not mime.startswith(families):
        raise UploadRefused(
            Refusal.WRONG_KIND,
            f"{name} is of type {mime}, not a {kind}: choose a {format_names(formats)} file",
        )


def check_sniffed(sniffed: Sniffed, *, filename: str, formats: Sequence[str], head_only: bool) -> None:
    """Refuse a whole upload whose bytes are not one of ``formats`` (judged as intake judges them).

    Args:
        sniffed: What the sniffer made of the bytes.
        filename: The file's name, for the message.
        formats: The formats the requirement accepts.
        head_only: Only the first bytes were sniffed (a file in S3): a zip-based document then
            looks like a zip, so such a file is left for intake's full check rather than refused.

    Raises:
        UploadRefused: the bytes are something else.
    """
    if sniffed.format in formats:
        return
    if head_only and sniffed.format in ("zip", "unknown") and _ZIP_BASED.intersection(formats):
        return
    raise UploadRefused(
        Refusal.WRONG_KIND,
        f"{filename} is {sniffed.description}, not a {format_names(formats)} file; it was not kept",
    )


def check_complete(*, filename: str, received: int, declared: int, max_bytes: int) -> None:
    """Refuse an upload whose bytes do not add up to the declared size, or exceed the limit.

    Raises:
        UploadRefused: fewer bytes than declared (incomplete), or more than declared or allowed.
    """
    if received > max_bytes:
        raise UploadRefused(Refusal.TOO_LARGE, f"{filename} is {over(received, max_bytes)} limit; it was not kept")
    if received < declared:
        raise UploadRefused(
            Refusal.INCOMPLETE,
            f"{filename} is not complete: {received:,} of {declared:,} bytes arrived; resume the upload",
        )
    if received > declared:
        raise UploadRefused(
            Refusal.TOO_LARGE, f"{filename} sent {received:,} bytes, more than the {declared:,} it declared"
        )


@dataclass(frozen=True)
class PartPlan:
    """How an S3 multipart upload of ``size`` bytes is cut: ``count`` parts of ``part_bytes`` (the last shorter)."""

    size: int
    part_bytes: int
    count: int

    def part_size(self, number: int) -> int:
        """The size part ``number`` (1-based) must have."""
        if not 1 <= number <= self.count:
            raise ValueError(f"part {number} is outside 1-{self.count}")
        return self.part_bytes if number < self.count else self.size - self.part_bytes * (self.count - 1)


def part_plan(size: int, *, part_bytes: int = PART_BYTES) -> PartPlan:
    """The parts of an S3 multipart upload of ``size`` bytes: ``part_bytes`` each, larger if 10,000 would not do.

    Raises:
        ValueError: ``size`` is not positive or ``part_bytes`` is below S3's 5 MiB minimum.
    """
    if size <= 0:
        raise ValueError("a multipart upload needs at least one byte")
    if part_bytes < MIN_PART_BYTES:
        raise ValueError(f"parts must be at least {MIN_PART_BYTES} bytes")
    chunk = max(part_bytes, math.ceil(size / MAX_PARTS))
    return PartPlan(size=size, part_bytes=chunk, count=math.ceil(size / chunk))
