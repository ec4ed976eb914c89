"""Deep content checks of evidence files that read structure only: nothing is unpacked or run."""

from __future__ import annotations

import io
import itertools
import re
import struct
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from pypdf import PasswordType, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject

from credflow.formatting import human_size
from credflow.validation.formats import Sniffed
from credflow.validation.sniff import ZipDirectoryTooLarge, open_zip


@dataclass(frozen=True)
class Finding:
    """One problem found in an evidence file.

    Attributes:
        code: A stable machine code, e.g. ``"zip_bomb"``; safe to branch on and store.
        message: What is wrong, in plain words for the teacher who uploaded the file.
        fix: What the teacher can do about it.
    """

    code: str
    message: str
    fix: str


_ZIP_FORMATS = frozenset({"docx", "pptx", "xlsx", "odt", "odp", "zip"})
_BMFF_FORMATS = frozenset({"mp4", "mov", "m4v", "3gp", "m4a"})

_NOUNS = {
    "docx": "Word document",
    "pptx": "PowerPoint presentation",
    "xlsx": "Excel spreadsheet",
    "odt": "OpenDocument text document",
    "odp": "OpenDocument presentation",
    "zip": "zip archive",
}
_REEXPORT = {
    "docx": "Export the document again from Word or Google Docs and upload the new file.",
    "pptx": "Export the presentation again from PowerPoint, Keynote or Google Slides and upload the new file.",
    "xlsx": "Export the spreadsheet again from Excel or Google Sheets and upload the new file.",
    "odt": "Save the document again from LibreOffice or Word and upload the new file.",
    "odp": "Save the presentation again from LibreOffice or PowerPoint and upload the new file.",
    "zip": "Create the zip archive again from your original files and upload the new archive.",
}
_MACRO_FREE = {
    "docx": "Save the document again as a normal Word document (.docx, not macro-enabled) and upload the new file.",
    "pptx": "Save the presentation again as a normal PowerPoint file (.pptx, not macro-enabled) and upload it.",
    "xlsx": "Save the spreadsheet again as a normal Excel workbook (.xlsx, not macro-enabled) and upload it.",
    "odt": "Remove the macros (Tools > Macros > Organize Macros), save the document again and upload it.",
    "odp": "Remove the macros (Tools > Macros > Organize Macros), save the presentation again and upload it.",
}
_UNLOCK = "Remove the password protection, save the file again and upload the new, unprotected file."

# Entries smaller than this are never called bombs for their ratio alone: small, repetitive XML
# parts compress far better than 100:1 in perfectly ordinary documents.
_RATIO_FLOOR = 1 << 20

# PDF walking budget: hostile files can hold millions of objects; stop looking, never hang.
_PDF_MAX_OBJECTS = 100_000
_PDF_MAX_PAGES = 10_000
_PDF_MAX_DEPTH = 32
_PDF_MAX_PLACES = 3
# pypdf reads the whole file into memory when it has to rebuild a broken cross-reference table,
# and a stream's whole data when an object it is asked for is a stream; beyond this size such a
# read is refused and the PDF reported as damaged, so inspection memory stays bounded.
_PDF_MAX_REPAIR_BYTES = 64 * 1024 * 1024
_PDF_MAX_READ_BYTES = 64 * 1024 * 1024
_SCAN_CHUNK = 1 << 20
_SCAN_CARRY = 64  # longer than the longest #-escaped spelling of /JavaScript (31 bytes)
# A PDF name starting with J (possibly written #4A); names end at whitespace or a delimiter.
_J_NAME = re.compile(rb"/(?:J|#4[Aa])[^\x00\t\n\x0c\r ()<>\[\]{}/%]*")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")

_MAX_IMAGE_CHUNKS = 1_000_000
#: Pillow's own decompression-bomb line (twice its warning level, about 179 million pixels): far
#: beyond any camera photo or scan, and a picture this large takes gigabytes to open.
MAX_IMAGE_PIXELS = 2 * 89_478_485
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
_MAX_TOP_LEVEL_BOXES = 100_000
_TAIL_PROBE = 64 * 1024

_PDF_REMAKE = (
    "Open the original document and create the PDF again with 'Save as PDF' or 'Print to PDF', "
    "then upload the new file."
)


def inspect_content(
    path: Path,
    sniffed: Sniffed,
    *,
    max_unpacked_bytes: int = 1 << 30,
    max_ratio: float = 100.0,
    max_entries: int = 10_000,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> list[Finding]:
    """Look inside a file for the problems its format is known for, without unpacking or running it.

    Zip-based files are judged from their central directory, PDFs from their object structure plus a
    raw byte scan, JPEG/PNG/GIF from their segment/chunk/block layout and ISO media files from their
    top-level boxes. Other formats get no checks here.

    Args:
        path: The uploaded file.
        sniffed: What :func:`credflow.validation.sniff.sniff` said the file is.
        max_unpacked_bytes: Most bytes a zip-based file may declare it unpacks to.
        max_ratio: Highest compression ratio allowed for an archive entry (or the whole archive).
        max_entries: Most entries a zip-based file may hold.
        max_pixels: Most pixels a picture may declare (width times height), read from its header.

    Returns:
        The problems found, at most one per code; empty for a clean file.

    Raises:
        OSError: If the file cannot be read.
    """
    fmt = sniffed.format
    if fmt in _ZIP_FORMATS:
        return _inspect_zip(
            path, fmt, max_unpacked_bytes=max_unpacked_bytes, max_ratio=max_ratio, max_entries=max_entries
        )
    if fmt == "pdf":
        return _inspect_pdf(path)
    if fmt in _PILLOW_FORMATS:
        oversized = _declared_pixels(path, fmt, max_pixels=max_pixels)
        if oversized is not None:
            return [oversized]
        return _inspect_image(path, fmt) if fmt != "webp" else []
    if fmt in _BMFF_FORMATS:
        return _inspect_iso_bmff(path, fmt)
    if sniffed.mime == "application/encrypted":
        # Password-protected Office files are an encrypted OLE container, not a zip at all.
        return [
            Finding(
                "encrypted_document",
                "The document is protected with a password, so reviewers cannot open it.",
                _UNLOCK,
            )
        ]
    return []


def printable(text: str, limit: int = 80) -> str:
    """Render untrusted text for a message: invisible and control characters shown as ``<U+XXXX>``.

    Args:
        text: Text from the upload (a file name, an archive entry name).
        limit: Most characters of ``text`` to show; longer text is cut with an ellipsis.

    Returns:
        Text that displays exactly as stored and cannot reorder or hide parts of the message.
    """
    shown = []
    for ch in text[:limit]:
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            shown.append(f"<U+{ord(ch):04X}>")
        else:
            shown.append(ch)
    return "".join(shown) + ("…" if len(text) > limit else "")


# --------------------------------------------------------------------------- zip-based files


def _inspect_zip(path: Path, fmt: str, *, max_unpacked_bytes: int, max_ratio: float, max_entries: int) -> list[Finding]:
    noun = _NOUNS[fmt]
    fix = _REEXPORT[fmt]
    with path.open("rb") as fh:
        try:
            with open_zip(fh, max_entries=max_entries) as archive:
                infos = archive.infolist()
                directory_start = archive.start_dir
        except ZipDirectoryTooLarge as exc:
            if exc.entries > max_entries:
                reason = f"it holds {exc.entries:,} files (the limit is {max_entries:,})"
            else:
                reason = f"its table of contents alone is {human_size(exc.directory_bytes)}"
            return [_zip_bomb(noun, reason, fix)]
        except zipfile.BadZipFile:
            return [
                Finding(
                    "corrupt_archive",
                    f"The {noun} is damaged: its table of contents could not be read, so it cannot be opened.",
                    fix,
                )
            ]

    findings: list[Finding] = []
    bomb = _zip_bomb_reason(infos, max_unpacked_bytes=max_unpacked_bytes, max_ratio=max_ratio, max_entries=max_entries)
    if bomb is not None:
        findings.append(_zip_bomb(noun, bomb, fix))
    slip = _zip_slip(infos, noun, fix)
    if slip is not None:
        findings.append(slip)
    if any(info.header_offset < 0 or info.header_offset + info.compress_size > directory_start for info in infos):
        findings.append(Finding("corrupt_archive", f"The {noun} is damaged: parts of its contents are missing.", fix))
    if any(info.flag_bits & 0x1 for info in infos):
        locked = (
            f"The file is a password-protected {noun}: reviewers cannot open what is inside it."
            if fmt == "zip"
            else f"Some of the contents of the {noun} are protected with a password, so reviewers cannot open them."
        )
        findings.append(Finding("encrypted_document", locked, _UNLOCK))
    if fmt in _MACRO_FREE and any(_is_macro_part(info.filename) for info in infos):
        findings.append(
            Finding(
                "office_macros",
                f"The {noun} contains macros (small programs that can run when the file is opened); "
                "we do not accept documents with macros.",
                _MACRO_FREE[fmt],
            )
        )
    return findings


def _zip_bomb(noun: str, reason: str, fix: str) -> Finding:
    return Finding(
        "zip_bomb",
        f"The {noun} is built like a 'zip bomb': {reason}. Files like this are made to overload computers.",
        fix,
    )


def _zip_bomb_reason(
    infos: list[zipfile.ZipInfo], *, max_unpacked_bytes: int, max_ratio: float, max_entries: int
) -> str | None:
    if len(infos) > max_entries:
        return f"it holds {len(infos):,} files (the limit is {max_entries:,})"
    total = sum(info.file_size for info in infos)
    if total > max_unpacked_bytes:
        return (
            f"it would unpack to {human_size(total)}, far more than any real document "
            f"(the limit is {human_size(max_unpacked_bytes)})"
        )
    for info in infos:
        if info.file_size >= _RATIO_FLOOR and info.file_size > max_ratio * info.compress_size:
            ratio = info.file_size / max(info.compress_size, 1)
            return (
                f"the part '{printable(info.filename)}' is squeezed {ratio:,.0f} times smaller than its real size "
                f"(ordinary files shrink less than {max_ratio:,.0f} times)"
            )
    packed = sum(info.compress_size for info in infos)
    if total >= _RATIO_FLOOR and total > max_ratio * packed:
        return f"its contents are squeezed {total / max(packed, 1):,.0f} times smaller than their real size"
    # Entries that share the same compressed bytes multiply the unpacked size without growing the file.
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in itertools.pairwise(ordered):
        if current.header_offset + current.compress_size > following.header_offset:
            return "several of its parts overlap and reuse the same data"
    return None


def _unsafe_entry_problem(name: str) -> str | None:
    """Describe why an entry name could write outside the extraction folder; ``{name}`` marks the quote."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"[A-Za-z]:", unified):
        return "a path that points outside its folder ('{name}')"
    if ".." in unified.split("/"):
        return "a path that escapes its folder ('{name}')"
    if "\\" in name:
        return "a name with backslashes ('{name}'), which some programs treat as folder separators"
    return None


def _zip_slip(infos: list[zipfile.ZipInfo], noun: str, fix: str) -> Finding | None:
    unsafe = [(info.filename, problem) for info in infos if (problem := _unsafe_entry_problem(info.filename))]
    if not unsafe:
        return None
    name, problem = unsafe[0]
    others = len(unsafe) - 1
    more = f" (and {others} more like it)" if others else ""
    described = problem.replace("{name}", printable(name))
    return Finding(
        "zip_slip",
        f"The {noun} contains {described}{more}; this is a sign of a malicious archive.",
        fix,
    )


def _is_macro_part(name: str) -> bool:
    lowered = name.lower()
    # OOXML keeps VBA in vbaProject.bin; OpenDocument keeps Basic macros under Basic/ or Scripts/.
    return lowered.endswith("vbaproject.bin") or lowered.startswith(("basic/", "scripts/"))


# --------------------------------------------------------------------------- PDF


class _RepairTooLarge(Exception):
    """pypdf asked to read a large PDF whole, which it only does to repair a broken file."""


class _RepairLimitedFile(io.BufferedReader):
    """A file that refuses reads above a size limit, whole-file or not, to keep pypdf's memory bounded."""

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            position = self.tell()
            end = self.seek(0, io.SEEK_END)
            self.seek(position)
            if end - position > _PDF_MAX_REPAIR_BYTES:
                raise _RepairTooLarge
        elif size > _PDF_MAX_READ_BYTES:
            raise _RepairTooLarge
        return super().read(size)


class _PdfWalk:
    """Collects where a PDF's structure holds scripts, automatic actions and program launches."""

    def __init__(self) -> None:
        self.places: dict[str, list[str]] = {}
        self._seen: set[tuple[int, int]] = set()
        self._budget = _PDF_MAX_OBJECTS

    def note(self, code: str, place: str) -> None:
        places = self.places.setdefault(code, [])
        if place not in places:
            places.append(place)

    def resolve(self, obj: PdfObject | None) -> PdfObject | None:
        """Dereference ``obj``; None once the object was visited before or the budget is spent."""
        if self._budget <= 0:
            return None
        self._budget -= 1
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in self._seen:
                return None
            self._seen.add(key)
            return obj.get_object()
        return obj

    def action(self, obj: PdfObject | None, place: str, depth: int = 0) -> None:
        if depth > _PDF_MAX_DEPTH:
            return
        action = self.resolve(obj)
        if isinstance(action, ArrayObject):
            for item in action:
                self.action(item, place, depth + 1)
            return
        if not isinstance(action, DictionaryObject):
            return
        kind = action.get("/S")
        if kind == "/JavaScript" or "/JS" in action:
            self.note("pdf_javascript", place)
        if kind == "/Launch":
            self.note("pdf_launch", place)
        if "/Next" in action:
            self.action(action.raw_get("/Next"), place, depth + 1)

    def triggers(self, obj: PdfObject | None, place: str) -> bool:
        """Check an additional-actions (/AA) dictionary; True when it holds any trigger."""
        triggers = self.resolve(obj)
        if not isinstance(triggers, DictionaryObject) or not triggers:
            return False
        for key in triggers:
            self.action(triggers.raw_get(key), place)
        return True

    def document(self, reader: PdfReader) -> None:
        root = reader.root_object
        # Pages first: objects are visited once, and a widget annotation that is also a form field
        # is best described by the page it sits on.
        if "/Pages" in root:
            self._pages(root.raw_get("/Pages"))
        names = self.resolve(root.raw_get("/Names")) if "/Names" in root else None
        if isinstance(names, DictionaryObject) and "/JavaScript" in names:
            self.note("pdf_javascript", "in the document's list of scripts")
        opening = self.resolve(root.raw_get("/OpenAction")) if "/OpenAction" in root else None
        # An /OpenAction array is just "show this page"; a /GoTo action is the same thing spelled out.
        if isinstance(opening, DictionaryObject):
            if opening.get("/S") != "/GoTo":
                self.note("pdf_auto_action", "when the document is opened")
            self.action(opening, "when the document is opened")
        if "/AA" in root and self.triggers(root.raw_get("/AA"), "in the document's automatic actions"):
            self.note("pdf_auto_action", "on document events such as opening, saving or printing")
        if "/Outlines" in root:
            self._outlines(root.raw_get("/Outlines"))
        if "/AcroForm" in root:
            form = self.resolve(root.raw_get("/AcroForm"))
            if isinstance(form, DictionaryObject) and "/Fields" in form:
                self._fields(form.raw_get("/Fields"), 0)

    def _pages(self, tree: PdfObject) -> None:
        """Walk the page tree in reading order, within the object budget.

        pypdf's ``reader.pages`` would first load every page of the document; walking the tree here
        keeps a hostile page count bounded by the budget instead.
        """
        pending: list[tuple[PdfObject, int]] = [(tree, 0)]
        number = 0
        while pending and number < _PDF_MAX_PAGES:
            obj, depth = pending.pop()
            node = self.resolve(obj)
            if depth > _PDF_MAX_DEPTH or not isinstance(node, DictionaryObject):
                continue
            if node.get("/Type") == "/Pages" or "/Kids" in node:
                kids = self.resolve(node.raw_get("/Kids")) if "/Kids" in node else None
                if isinstance(kids, ArrayObject):
                    pending.extend((kid, depth + 1) for kid in reversed(kids))
            else:
                number += 1
                self._page(node, number)

    def _page(self, page: DictionaryObject, number: int) -> None:
        if "/AA" in page and self.triggers(page.raw_get("/AA"), f"when page {number} is shown"):
            self.note("pdf_auto_action", f"when page {number} is shown")
        annotations = self.resolve(page.raw_get("/Annots")) if "/Annots" in page else None
        if not isinstance(annotations, ArrayObject):
            return
        place = f"in a link or button on page {number}"
        for item in annotations:
            annotation = self.resolve(item)
            if isinstance(annotation, DictionaryObject):
                if "/A" in annotation:
                    self.action(annotation.raw_get("/A"), place)
                if "/AA" in annotation:
                    self.triggers(annotation.raw_get("/AA"), place)

    def _outlines(self, obj: PdfObject) -> None:
        pending: list[PdfObject] = [obj]
        while pending:
            node = self.resolve(pending.pop())
            if not isinstance(node, DictionaryObject):
                continue
            if "/A" in node:
                self.action(node.raw_get("/A"), "in a bookmark")
            pending.extend(node.raw_get(key) for key in ("/First", "/Next") if key in node)

    def _fields(self, obj: PdfObject, depth: int) -> None:
        fields = self.resolve(obj)
        if depth > _PDF_MAX_DEPTH or not isinstance(fields, ArrayObject):
            return
        for item in fields:
            field = self.resolve(item)
            if not isinstance(field, DictionaryObject):
                continue
            if "/A" in field:
                self.action(field.raw_get("/A"), "in a form field")
            if "/AA" in field:
                self.triggers(field.raw_get("/AA"), "in a form field")
            if "/Kids" in field:
                self._fields(field.raw_get("/Kids"), depth + 1)


def _inspect_pdf(path: Path) -> list[Finding]:
    walk = _PdfWalk()
    corrupt = False
    locked = False
    with _RepairLimitedFile(io.FileIO(path, "r")) as fh:
        try:
            reader = PdfReader(fh, strict=False)
            if reader.is_encrypted:
                locked = _pdf_needs_password(reader)
            if not locked:
                walk.document(reader)
        # pypdf signals damage with a wide range of exception types (PdfReadError, KeyError,
        # ValueError, RecursionError, ...); any of them means "could not read the structure".
        except Exception:
            corrupt = True

    findings: list[Finding] = []
    if locked:
        findings.append(
            Finding(
                "encrypted_document",
                "The PDF is protected with a password, so reviewers cannot open it.",
                "Remove the password (or make an unprotected copy with 'Print to PDF') and upload the new file.",
            )
        )
    elif corrupt:
        findings.append(
            Finding(
                "corrupt_pdf",
                "The PDF is damaged: its internal structure could not be read, so it may not open for reviewers.",
                "Open the PDF to check that it displays correctly, then save or export it again and upload "
                "the new file.",
            )
        )
    if "pdf_javascript" in walk.places:
        findings.append(
            Finding(
                "pdf_javascript",
                f"The PDF contains JavaScript ({_places(walk.places['pdf_javascript'])}). Scripts can run when "
                "the PDF is opened, so we do not accept PDFs that contain them.",
                _PDF_REMAKE,
            )
        )
    elif _raw_javascript(path):
        # Only reported when the structure walk found nothing, so one script is never reported twice.
        findings.append(
            Finding(
                "pdf_javascript",
                "The PDF contains JavaScript hidden in a part of the file that PDF readers do not normally "
                "list. Hidden scripts are a common sign of a harmful file.",
                _PDF_REMAKE,
            )
        )
    if "pdf_auto_action" in walk.places:
        findings.append(
            Finding(
                "pdf_auto_action",
                f"The PDF is set up to do something by itself ({_places(walk.places['pdf_auto_action'])}), such "
                "as opening a website or running a script. We do not accept PDFs that act on their own.",
                _PDF_REMAKE,
            )
        )
    if "pdf_launch" in walk.places:
        findings.append(
            Finding(
                "pdf_launch",
                f"The PDF tries to start another program or open another file "
                f"({_places(walk.places['pdf_launch'])}). This is a common trick in harmful files.",
                _PDF_REMAKE,
            )
        )
    return findings


def _pdf_needs_password(reader: PdfReader) -> bool:
    """True when the PDF cannot be opened without a password.

    Many PDFs are encrypted with an empty user password purely to carry permission flags (no
    printing, no copying); those open for everyone and are inspected like any other PDF.
    """
    try:
        return reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except Exception:  # unsupported encryption (pypdf raises several types): it cannot be opened
        return True


def _places(places: list[str]) -> str:
    shown = "; ".join(places[:_PDF_MAX_PLACES])
    return shown + ("; and elsewhere" if len(places) > _PDF_MAX_PLACES else "")


def _raw_javascript(path: Path) -> bool:
    """Scan the raw bytes for a /JS or /JavaScript name, also when spelled with #xx escapes.

    This catches script objects that no reference leads to (pypdf never visits those) and names
    inside encrypted files, whose dictionary keys are not encrypted.
    """
    with path.open("rb") as fh:
        carry = b""
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            data = carry + chunk
            for match in _J_NAME.finditer(data):
                if chunk and match.end() == len(data):
                    continue  # the name may go on in the next chunk; the carry brings it back
                name = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group()[1:])
                if name in {b"JS", b"JavaScript"}:
                    return True
            if not chunk:
                return False
            carry = data[-_SCAN_CARRY:]


# --------------------------------------------------------------------------- images


def _declared_pixels(path: Path, fmt: str, *, max_pixels: int) -> Finding | None:
    """Refuse a picture by the size its header declares, before anything decodes it.

    Pillow reads only the header here (``open`` is lazy); a header Pillow cannot read is left to
    the structure checks, which say what is damaged.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=[_PILLOW_FORMATS[fmt]]) as picture:
                width, height = picture.size
        except Image.DecompressionBombError as exc:
            # Beyond Pillow's own line, which names the pixel count but not the sides.
            counted = re.search(r"\((\d+) pixels\)", str(exc))
            declared = _megapixels(int(counted.group(1))) if counted else f"more than {_megapixels(max_pixels)}"
        except Exception:  # any unreadable header (Pillow raises many kinds); the walkers judge damage
            return None
        else:
            if width * height <= max_pixels:
                return None
            declared = f"{width:,} × {height:,} pixels ({_megapixels(width * height)})"
    return Finding(
        "image_too_many_pixels",
        f"The picture declares a size of {declared}; the limit is {_megapixels(max_pixels)}. Pictures this "
        "large take gigabytes of memory to open (a 'decompression bomb') and no camera or scanner makes them.",
        "Export or save the picture at a lower resolution (a few thousand pixels across is plenty) and upload that.",
    )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.0f} million pixels"


class _Truncated(Exception):
    """The image ends before its end marker."""


class _Damaged(Exception):
    """The image's structure stops making sense before its end marker."""


def _inspect_image(path: Path, fmt: str) -> list[Finding]:
    with path.open("rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        end: int | None
        try:
            if fmt == "jpeg":
                end = _jpeg_end(fh, size)
            elif fmt == "png":
                end = _png_end(fh, size)
            else:
                end = _gif_end(fh, size)
        except _Truncated:
            return [
                Finding(
                    "truncated_image",
                    "The picture is incomplete: the file stops before the end of the image, so part of it is missing.",
                    "Upload the picture again from the original; if that fails too, open it and save a new copy.",
                )
            ]
        except _Damaged:
            return [
                Finding(
                    "truncated_image",
                    "The picture is damaged: its data stops making sense before the end of the image.",
                    "Open the picture, save or export a new copy (or take a screenshot of it) and upload that.",
                )
            ]
        if end is None or end >= size:
            return []
        return _appended_finding(fh, end, size)


def _jpeg_end(fh: BinaryIO, size: int) -> int:
    """Walk the JPEG marker segments; return the offset just after the EOI marker that ends the scan.

    Searching for the last (or first) FFD9 is wrong both ways: EXIF thumbnails hold their own FFD9
    and appended data can hold any bytes, so the segments are followed one by one.
    """
    if fh.read(2) != b"\xff\xd8":
        raise _Damaged
    while True:
        byte = fh.read(1)
        if not byte:
            raise _Truncated
        if byte != b"\xff":
            raise _Damaged
        marker = byte
        while marker == b"\xff":  # any number of fill bytes may precede a marker
            marker = fh.read(1)
        if not marker:
            raise _Truncated
        code = marker[0]
        if code == 0xD9:
            return fh.tell()
        if 0xD0 <= code <= 0xD8 or code == 0x01:
            continue  # markers without a length field
        if code == 0x00:
            raise _Damaged
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            raise _Truncated
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:
            raise _Damaged
        segment_end = fh.tell() + length - 2
        if segment_end > size:
            raise _Truncated
        fh.seek(segment_end)
        if code == 0xDA:
            fh.seek(_skip_entropy_coded(fh))


def _skip_entropy_coded(fh: BinaryIO) -> int:
    """Return the offset of the first marker after a scan's compressed data."""
    base = fh.tell()
    while True:
        fh.seek(base)
        chunk = fh.read(_SCAN_CHUNK)
        if len(chunk) < 2:
            raise _Truncated
        start = 0
        while True:
            at = chunk.find(b"\xff", start)
            if at < 0:
                base += len(chunk)
                break
            if at + 1 >= len(chunk):
                base += at  # re-read this FF together with the byte after it
                break
            following = chunk[at + 1]
            # FF00 is an escaped data byte, FFD0-FFD7 are restart markers inside the scan, FFFF is fill.
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                start = at + 1
                continue
            return base + at


def _png_end(fh: BinaryIO, size: int) -> int | None:
    if fh.read(8) != b"\x89PNG\r\n\x1a\n":
        raise _Damaged
    for _ in range(_MAX_IMAGE_CHUNKS):
        header = fh.read(8)
        if len(header) < 8:
            raise _Truncated
        length, chunk_type = struct.unpack(">I4s", header)
        length = int(length)
        if length > 0x7FFFFFFF:
            raise _Damaged
        chunk_end = fh.tell() + length + 4  # data plus CRC
        if chunk_end > size:
            raise _Truncated
        if chunk_type == b"IEND":
            return chunk_end
        fh.seek(chunk_end)
    return None  # absurdly many chunks: give up rather than spend minutes on one picture


def _gif_end(fh: BinaryIO, size: int) -> int | None:
    header = fh.read(13)
    if len(header) < 13:
        raise _Truncated
    if header[:6] not in {b"GIF87a", b"GIF89a"}:
        raise _Damaged
    _skip_color_table(fh, header[10], size)
    for _ in range(_MAX_IMAGE_CHUNKS):
        introducer = fh.read(1)
        if not introducer:
            raise _Truncated
        if introducer == b";":
            return fh.tell()
        if introducer == b"!":  # extension: a label byte, then data sub-blocks
            if not fh.read(1):
                raise _Truncated
        elif introducer == b",":  # image: a descriptor, a colour table, the LZW code size, sub-blocks
            descriptor = fh.read(9)
            if len(descriptor) < 9:
                raise _Truncated
            _skip_color_table(fh, descriptor[8], size)
            if not fh.read(1):
                raise _Truncated
        else:
            raise _Damaged
        if not _skip_sub_blocks(fh, size):
            return None
    return None


def _skip_color_table(fh: BinaryIO, flags: int, size: int) -> None:
    if flags & 0x80:
        table_end = fh.tell() + 3 * (1 << ((flags & 0x07) + 1))
        if table_end > size:
            raise _Truncated
        fh.seek(table_end)


def _skip_sub_blocks(fh: BinaryIO, size: int) -> bool:
    """Skip GIF data sub-blocks up to the zero terminator; False if there are absurdly many."""
    for _ in range(_MAX_IMAGE_CHUNKS):
        length = fh.read(1)
        if not length:
            raise _Truncated
        if length == b"\x00":
            return True
        block_end = fh.tell() + length[0]
        if block_end > size:
            raise _Truncated
        fh.seek(block_end)
    return False


def _appended_finding(fh: BinaryIO, end: int, size: int) -> list[Finding]:
    extra = size - end
    fh.seek(end)
    first = fh.read(_TAIL_PROBE)
    if not _has_payload(fh, first):
        return []  # zero or 0xFF padding, as some cameras write: harmless
    tail_start = max(end, size - _TAIL_PROBE)
    fh.seek(tail_start)
    tail = fh.read(_TAIL_PROBE)
    fix = "Open the picture and save or export it again as a new file (or take a screenshot of it), then upload that."
    if b"PK\x03\x04" in first or b"PK\x05\x06" in tail:
        message = (
            f"The picture has extra data after the end of the image: a hidden zip archive is appended "
            f"({human_size(extra)}). This is a common way to smuggle files past checks."
        )
    elif first[4:8] == b"ftyp":
        message = (
            f"The picture has a video clip appended after the end of the image ({human_size(extra)}), "
            "as some phones add for 'motion' or 'live' photos."
        )
        fix = "Turn off the motion or live effect, or export a still copy of the photo, and upload that file."
    else:
        message = (
            f"The picture has {human_size(extra)} of extra data after the end of the image. "
            "Extra data like this can hide other files."
        )
    return [Finding("appended_data", message, fix)]


def _has_payload(fh: BinaryIO, first: bytes) -> bool:
    chunk = first
    while chunk:
        if chunk.strip(b"\x00\xff"):
            return True
        chunk = fh.read(_SCAN_CHUNK)
    return False


# --------------------------------------------------------------------------- ISO media (MP4 family)


def _inspect_iso_bmff(path: Path, fmt: str) -> list[Finding]:
    noun = "audio file" if fmt == "m4a" else "video"
    fix = (
        f"Copy or export the {noun} again from the device that recorded it, wait until the upload has "
        "completely finished, and upload the new file."
    )
    with path.open("rb") as fh:
        size = fh.seek(0, io.SEEK_END)
        position = 0
        has_index = False
        for _ in range(_MAX_TOP_LEVEL_BOXES):
            if position >= size:
                break
            fh.seek(position)
            header = fh.read(8)
            if len(header) < 8:
                return [_truncated_media(noun, position + 8 - size, fix)]
            box_size, box_type = struct.unpack(">I4s", header)
            header_size = 8
            if box_size == 1:  # a 64-bit size follows the type
                large = fh.read(8)
                if len(large) < 8:
                    return [_truncated_media(noun, position + 16 - size, fix)]
                (box_size,) = struct.unpack(">Q", large)
                header_size = 16
            elif box_size == 0:  # the last box, running to the end of the file
                box_size = size - position
            if box_size < header_size:
                return [
                    Finding(
                        "truncated_media",
                        f"The {noun} file is damaged: part of its structure has an impossible size.",
                        fix,
                    )
                ]
            if box_type == b"moov":
                has_index = True
            if position + box_size > size:
                return [_truncated_media(noun, position + box_size - size, fix)]
            position += box_size
        else:
            return []  # too many boxes to walk (long fragmented recordings): nothing conclusive
    if has_index:
        return []
    return [
        Finding(
            "truncated_media",
            f"The {noun} file has no index (the 'moov' part that says where everything is), so it cannot be "
            "played. This usually happens when a recording was interrupted before it was saved.",
            fix,
        )
    ]


def _truncated_media(noun: str, missing: int, fix: str) -> Finding:
    return Finding(
        "truncated_media",
        f"The {noun} file is incomplete: the last {human_size(missing)} ({missing:,} bytes) are missing, so it "
        "will not play to the end. This usually means the upload or copy was cut short.",
        fix,
    )
