"""Decide what an evidence file really is from its bytes; the file name is never consulted."""

from __future__ import annotations

import codecs
import errno
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import magic

from credflow.validation.formats import Sniffed, sniffed_as

# libmagic and every check below only need the start of the file; 64 KiB covers ID3 tags, XML
# prologs and long ftyp brand lists while keeping memory flat for multi-gigabyte uploads.
HEAD_BYTES = 64 * 1024

# Limits applied before letting zipfile load a central directory into memory.
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_DIRECTORY_BYTES = 64 * 1024 * 1024

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"
_ZIP64_EOCD_SIZE = 56

_EXECUTABLE_MIMES = frozenset(
    {
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-object",
        "application/x-coredump",
        "application/x-mach-binary",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/vnd.microsoft.portable-executable",
        "application/x-msi",
    }
)
_MACHO_MAGICS = frozenset(
    {
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",  # universal binary (also a Java class file: code either way)
    }
)

_APK = "an Android app (APK)"
_JAR = "a Java program (JAR)"

# libmagic MIME types that name one of our formats outright.
_MIME_FORMATS: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "video/quicktime": "mov",  # QuickTime files old enough to have no ftyp box
    "audio/mpeg": "mp3",
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/x-wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/ogg": "ogg",
    "video/ogg": "ogg",
    "application/ogg": "ogg",
    "text/rtf": "rtf",
    "application/rtf": "rtf",
    "image/svg+xml": "svg",
    "text/html": "html",
}

# Types libmagic recognises that we do not accept; naming them helps the teacher re-export.
_OTHER_MIMES: dict[str, tuple[str, str]] = {
    "video/mp2t": ("video", "an MPEG transport stream video (.ts)"),
    "video/mpeg": ("video", "an MPEG-1 or MPEG-2 video"),
    "video/x-flv": ("video", "a Flash video (FLV)"),
    "video/x-ms-asf": ("video", "a Windows Media video or audio file"),
    "audio/flac": ("audio", "a FLAC audio file"),
    "audio/x-flac": ("audio", "a FLAC audio file"),
    "audio/aac": ("audio", "an AAC audio stream"),
    "audio/x-hx-aac-adts": ("audio", "an AAC audio stream"),
    "audio/amr": ("audio", "an AMR voice recording"),
    "audio/x-aiff": ("audio", "an AIFF audio file"),
    "audio/midi": ("audio", "a MIDI file"),
    "image/bmp": ("image", "a BMP picture"),
    "image/x-ms-bmp": ("image", "a BMP picture"),
    "image/tiff": ("image", "a TIFF picture"),
    "image/avif": ("image", "an AVIF picture"),
    "image/vnd.microsoft.icon": ("image", "an icon file"),
    "image/vnd.adobe.photoshop": ("image", "a Photoshop (PSD) file"),
    "application/msword": ("document", "an old-style Word document (.doc)"),
    "application/vnd.ms-excel": ("document", "an old-style Excel spreadsheet (.xls)"),
    "application/vnd.ms-powerpoint": ("document", "an old-style PowerPoint presentation (.ppt)"),
    "application/x-ole-storage": ("document", "an old-style Microsoft Office file"),
    "application/CDFV2": ("document", "an old-style Microsoft Office file"),
    "application/encrypted": ("document", "a password-protected Office document"),
    "application/postscript": ("document", "a PostScript document"),
    "application/gzip": ("archive", "a gzip archive"),
    "application/x-gzip": ("archive", "a gzip archive"),
    "application/x-7z-compressed": ("archive", "a 7-Zip archive"),
    "application/x-rar": ("archive", "a RAR archive"),
    "application/vnd.rar": ("archive", "a RAR archive"),
    "application/x-tar": ("archive", "a tar archive"),
    "application/x-bzip2": ("archive", "a bzip2 archive"),
    "application/x-xz": ("archive", "an xz archive"),
    "application/zstd": ("archive", "a Zstandard archive"),
    "application/x-iso9660-image": ("archive", "a disc image (ISO)"),
    "application/json": ("text", "a JSON data file"),
    "application/javascript": ("text", "a JavaScript program"),
}

# Text types that can be run directly; they are never "clearly plain text".
_SCRIPT_MIMES = frozenset(
    {
        "text/x-shellscript",
        "text/x-php",
        "text/x-msdos-batch",
        "text/javascript",
        "text/x-python",
        "text/x-perl",
        "text/x-ruby",
        "text/x-tcl",
        "text/x-lua",
        "text/x-awk",
    }
)
_XML_MIMES = frozenset({"text/xml", "application/xml"})

# ISO-BMFF brands (ISO/IEC 14496-12 registry plus the Apple ones seen in the wild).
_BRANDS_M4A = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_BRANDS_M4V = frozenset({b"M4V ", b"M4VH", b"M4VP"})
_BRANDS_MOV = frozenset({b"qt  "})
_BRANDS_HEIC = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_BRANDS_IMAGE_GENERIC = frozenset({b"mif1", b"msf1"})
_BRANDS_AVIF = frozenset({b"avif", b"avis"})
_BRANDS_MP4 = frozenset(
    {b"isom", b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"mmp4", b"f4v ", b"XAVC", b"MSNV"}
    | {f"iso{n}".encode() for n in range(2, 10)}
    | {b"NDAS", b"NDSC", b"NDSH", b"NDSM", b"NDSP", b"NDSS", b"NDXC"}
)
_BRAND_PREFIXES_3GP = (b"3gp", b"3g2", b"3ge", b"3gg", b"3gr", b"3gs")

# XML declaration, comments, processing instructions and a DOCTYPE (with an internal subset) before
# the root element. Every alternative is unambiguous so that a hostile head cannot make it backtrack.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>)*", re.DOTALL | re.IGNORECASE)
_SVG_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?svg[\s/>]")
_HTML_ROOT = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
# C0 controls other than the ones ordinary text files contain (tab, newlines, form feed, DOS EOF).
_ODD_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f\x7f]")


class ZipDirectoryTooLarge(Exception):
    """A zip's central directory declares more entries or bytes than we are willing to load."""

    def __init__(self, entries: int, directory_bytes: int) -> None:
        super().__init__(f"zip central directory too large: {entries} entries, {directory_bytes} bytes")
        self.entries = entries
        self.directory_bytes = directory_bytes


def sniff(path: Path) -> Sniffed:
    """Identify a file from its content, ignoring its name and extension.

    libmagic gives the first answer; containers are then refined by their structure (zip-based
    Office/OpenDocument files by their parts, ISO media files by their ``ftyp`` brands) and text by
    what it starts with. Only the first :data:`HEAD_BYTES` bytes and, for zip files, the central
    directory are read.

    Args:
        path: The uploaded file.

    Returns:
        The format, kind, MIME type and a human description.

    Raises:
        OSError: If the file cannot be read.
    """
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        if not head:
            return sniffed_as("empty")
        mime = _libmagic_mime(head)
        return _classify(fh, head, mime)


def open_zip(
    fh: BinaryIO,
    *,
    max_entries: int = ZIP_MAX_ENTRIES,
    max_directory_bytes: int = ZIP_MAX_DIRECTORY_BYTES,
) -> zipfile.ZipFile:
    """Open a zip archive for listing after checking that its central directory is a sane size.

    :class:`zipfile.ZipFile` reads the whole central directory into memory, so the end record is
    parsed first and an oversized directory is refused before zipfile sees it. Nothing is extracted.

    Args:
        fh: The archive, opened in binary mode; it is left open.
        max_entries: Most entries the directory may declare.
        max_directory_bytes: Most bytes the directory may occupy.

    Returns:
        An open ZipFile; close it (or use ``with``) when done.

    Raises:
        ZipDirectoryTooLarge: If the directory declares too many entries or bytes.
        zipfile.BadZipFile: If the file is not a readable zip archive.
    """
    entries, directory_bytes = _zip_directory_size(fh)
    if entries > max_entries or directory_bytes > max_directory_bytes:
        raise ZipDirectoryTooLarge(entries, directory_bytes)
    try:
        return zipfile.ZipFile(fh)
    except (ValueError, EOFError, struct.error) as exc:  # zipfile's less tidy ways of saying "corrupt"
        raise zipfile.BadZipFile(str(exc)) from exc
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a seek to a negative offset taken from the directory
            raise zipfile.BadZipFile(str(exc)) from exc
        raise


def _zip_directory_size(fh: BinaryIO) -> tuple[int, int]:
    """Read the declared entry count and central directory size from the end records."""
    size = fh.seek(0, 2)
    tail_len = min(size, _EOCD_SIZE + 0xFFFF)  # the end record is followed by at most a 64 KiB comment
    tail_start = size - tail_len
    fh.seek(tail_start)
    tail = fh.read(tail_len)
    pos = tail.rfind(_EOCD)
    if pos < 0 or pos + _EOCD_SIZE > len(tail):
        raise zipfile.BadZipFile("no end of central directory record")
    entries, directory_bytes, directory_offset = struct.unpack_from("<HIIxx", tail, pos + 10)
    if entries != 0xFFFF and directory_bytes != 0xFFFFFFFF and directory_offset != 0xFFFFFFFF:
        return int(entries), int(directory_bytes)
    # Zip64: the real numbers are in a record just before the locator that precedes the end record.
    locator = pos - _ZIP64_LOCATOR_SIZE
    if locator < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
        return int(entries), int(directory_bytes)
    record_at = tail_start + locator - _ZIP64_EOCD_SIZE
    if record_at < 0:
        raise zipfile.BadZipFile("zip64 end record missing")
    fh.seek(record_at)
    record = fh.read(_ZIP64_EOCD_SIZE)
    if len(record) < _ZIP64_EOCD_SIZE or record[:4] != _ZIP64_EOCD:
        raise zipfile.BadZipFile("zip64 end record missing")
    entries64, directory_bytes64 = struct.unpack_from("<QQ", record, 32)
    return int(entries64), int(directory_bytes64)


def _libmagic_mime(head: bytes) -> str:
    try:
        mime = magic.from_buffer(head, mime=True)
    except magic.MagicException:
        return "application/octet-stream"
    return str(mime).split(";", 1)[0].strip() or "application/octet-stream"


def _classify(fh: BinaryIO, head: bytes, mime: str) -> Sniffed:
    # Containers first: libmagic's answer for them depends on entry order and brand lists, and the
    # structure is what decides whether e.g. a zip really is a Word document.
    if head.startswith((b"PK\x03\x04", b"PK\x07\x08", _EOCD)) or mime == "application/zip":
        return _sniff_zip(fh)
    if head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head)
    program = _program(head, mime)
    if program is not None:
        return sniffed_as("executable", mime=mime if mime in _EXECUTABLE_MIMES else None, description=program)
    fmt = _MIME_FORMATS.get(mime) or _signature_format(head)
    if fmt is not None:
        if fmt in {"svg", "html"}:
            # libmagic's markup guesses are refined by the text rules (an SVG is also an XML file).
            return _sniff_text(head, mime)
        return sniffed_as(fmt)
    if mime.startswith("text/") or mime in _XML_MIMES:
        return _sniff_text(head, mime)
    if mime in _OTHER_MIMES:
        kind, description = _OTHER_MIMES[mime]
        return sniffed_as("unknown", kind=kind, mime=mime, description=description)
    return sniffed_as("unknown", mime=mime)


def _program(head: bytes, mime: str) -> str | None:
    """Name the kind of program the head starts, or None when it is not one."""
    if head.startswith(b"\x7fELF"):
        return "a Linux or Unix program (ELF)"
    if head[:4] == b"\xca\xfe\xba\xbe":
        return "a macOS program or a Java class file"  # universal binaries and class files share the magic
    if head[:4] in _MACHO_MAGICS:
        return "a macOS program (Mach-O)"
    if head.startswith(b"MZ") and len(head) >= 0x40:
        # A DOS stub whose header points at a "PE" signature is a Windows program.
        (pe_offset,) = struct.unpack_from("<I", head, 0x3C)
        if head[pe_offset : pe_offset + 4] == b"PE\x00\x00":
            return "a Windows program (.exe or .dll)"
    if mime == "application/x-msi":
        return "a Windows installer (.msi)"
    if mime in {"application/x-dosexec", "application/x-msdownload", "application/vnd.microsoft.portable-executable"}:
        return "a DOS or Windows program"
    if mime in _EXECUTABLE_MIMES:
        return "a program"
    return None


def _signature_format(head: bytes) -> str | None:
    """Fallback magic numbers, for when libmagic answers with a generic type."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] in {b"WEBP", b"WAVE", b"AVI "}:
        return {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}[head[8:12]]
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header's DocType says whether this Matroska file is the WebM subset.
        return "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    return None


def _sniff_iso_bmff(head: bytes) -> Sniffed:
    (box_size,) = struct.unpack_from(">I", head, 0)
    brands_from = 8
    if box_size == 1 and len(head) >= 16:  # 64-bit size, practically never used for ftyp
        (box_size,) = struct.unpack_from(">Q", head, 8)
        brands_from = 16
    end = min(len(head), box_size if box_size else len(head))
    major = head[brands_from : brands_from + 4]
    # The minor version (4 bytes) sits between the major brand and the compatible brands.
    compatible = [head[i : i + 4] for i in range(brands_from + 8, end - 3, 4)]
    fmt = _format_for_brand(major, compatible)
    if fmt is not None:
        return sniffed_as(fmt)
    if major in _BRANDS_AVIF or any(brand in _BRANDS_AVIF for brand in compatible):
        return sniffed_as("unknown", kind="image", mime="image/avif", description="an AVIF picture")
    return sniffed_as("unknown", description="a media file in a format we do not recognise")


def _format_for_brand(major: bytes, compatible: list[bytes]) -> str | None:
    """Map ftyp brands to a format; the major brand wins, compatible brands are the fallback."""
    if major in _BRANDS_M4A:
        return "m4a"
    if major in _BRANDS_M4V:
        return "m4v"
    if major in _BRANDS_MOV:
        return "mov"
    if major.startswith(_BRAND_PREFIXES_3GP):
        return "3gp"
    if major in _BRANDS_HEIC:
        return "heic"
    if major in _BRANDS_IMAGE_GENERIC:
        # mif1 is the generic still-image brand shared by HEIC and AVIF.
        if any(brand in _BRANDS_AVIF for brand in compatible):
            return None
        return "heic"
    if major in _BRANDS_MP4:
        return "mp4"
    if major in _BRANDS_AVIF:
        return None
    for brands, fmt in (
        (_BRANDS_MOV, "mov"),
        (_BRANDS_M4A, "m4a"),
        (_BRANDS_M4V, "m4v"),
        (_BRANDS_HEIC, "heic"),
        (_BRANDS_MP4, "mp4"),
    ):
        if any(brand in brands for brand in compatible):
            return fmt
    if any(brand.startswith(_BRAND_PREFIXES_3GP) for brand in compatible):
        return "3gp"
    return None


def _sniff_zip(fh: BinaryIO) -> Sniffed:
    try:
        with open_zip(fh) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if "mimetype" in names:
                odf = _sniff_odf(archive, archive.getinfo("mimetype"))
                if odf is not None:
                    return odf
            if "[Content_Types].xml" in names:
                for part, fmt in (
                    ("word/document.xml", "docx"),
                    ("ppt/presentation.xml", "pptx"),
                    ("xl/workbook.xml", "xlsx"),
                ):
                    if part in names:
                        return sniffed_as(fmt)
            if "AndroidManifest.xml" in names and any(name.endswith(".dex") for name in names):
                return sniffed_as("executable", mime="application/vnd.android.package-archive", description=_APK)
            if "META-INF/MANIFEST.MF" in names and any(name.endswith(".class") for name in names):
                return sniffed_as("executable", mime="application/java-archive", description=_JAR)
            if any(info.flag_bits & 0x1 for info in infos):
                return sniffed_as("zip", description="a password-protected zip archive")
    except (ZipDirectoryTooLarge, zipfile.BadZipFile):
        pass  # unreadable or oversized: still a zip by its signature; inspection says what is wrong
    return sniffed_as("zip")


def _sniff_odf(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Sniffed | None:
    """Read an OpenDocument (or EPUB) package's ``mimetype`` entry, at most a few hundred bytes."""
    if info.flag_bits & 0x1 or info.file_size > 256:
        return None
    try:
        with archive.open(info) as entry:
            declared = entry.read(256).decode("ascii", errors="replace").strip()
    except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError, zlib.error):
        return None
    if declared == "application/vnd.oasis.opendocument.text":
        return sniffed_as("odt")
    if declared == "application/vnd.oasis.opendocument.presentation":
        return sniffed_as("odp")
    if declared == "application/vnd.oasis.opendocument.spreadsheet":
        return sniffed_as("unknown", kind="document", mime=declared, description="an OpenDocument spreadsheet")
    if declared.startswith("application/vnd.oasis.opendocument."):
        return sniffed_as("unknown", kind="document", mime=declared, description="an OpenDocument file")
    if declared == "application/epub+zip":
        return sniffed_as("unknown", kind="document", mime=declared, description="an EPUB e-book")
    return None


def _decode_text(head: bytes, mime: str) -> str | None:
    """Decode the head as text, tolerating a multi-byte character cut off at the end."""
    final = len(head) < HEAD_BYTES
    encoding = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=final)
    except UnicodeDecodeError:
        pass
    # libmagic already judged it text: an 8-bit legacy encoding (e.g. Windows-1252) is still text.
    if mime.startswith("text/") and b"\x00" not in head:
        return head.decode("latin-1")
    return None


def _sniff_text(head: bytes, mime: str) -> Sniffed:
    text = _decode_text(head, mime)
    if text is None:
        return sniffed_as("unknown", kind="text", mime=mime, description="a text file in an unreadable encoding")
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("#EXTM3U"):
        return sniffed_as("hls")
    prolog = _PROLOG.match(body)
    rest = body[prolog.end() :] if prolog else body
    # The root element decides; libmagic's guess only breaks the tie when the prolog is unusual.
    if _SVG_ROOT.match(rest):
        return sniffed_as("svg")
    if _HTML_ROOT.match(rest):
        return sniffed_as("html")
    if mime == "image/svg+xml":
        return sniffed_as("svg")
    if mime == "text/html":
        return sniffed_as("html")
    if mime in _XML_MIMES or body.startswith("<?xml"):
        return sniffed_as("unknown", kind="text", mime=mime, description="an XML data file")
    if body.startswith("#!") or mime in _SCRIPT_MIMES or mime.startswith("text/x-script"):
        script = "a Windows batch script" if mime == "text/x-msdos-batch" else "a script (a program written as text)"
        return sniffed_as("executable", mime=mime, description=script)
    if _ODD_CONTROLS.search(text):
        return sniffed_as(
            "unknown", kind="text", mime=mime, description="a text file containing unusual control characters"
        )
    return sniffed_as("txt")
