"""The evidence format vocabulary shared by the sniffer, the inspector and the credential catalog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sniffed:
    """What a file really is, judged from its bytes alone.

    Attributes:
        format: One of :data:`FORMATS` (``"mp4"``, ``"docx"``, ``"unknown"``, ...).
        kind: One of :data:`KINDS`; the broad family, which can be known even when the format is
            not one we accept (a RAR archive is ``format="unknown", kind="archive"``).
        mime: The MIME type to store and serve the file with.
        description: A short phrase for a teacher, e.g. ``"an MP4 video"``.
    """

    format: str
    kind: str
    mime: str
    description: str


KINDS: frozenset[str] = frozenset(
    {"video", "audio", "image", "document", "text", "archive", "playlist", "executable", "unknown"}
)

# format -> (kind, canonical MIME type, description)
_FORMAT_INFO: dict[str, tuple[str, str, str]] = {
    "mp4": ("video", "video/mp4", "an MP4 video"),
    "mov": ("video", "video/quicktime", "a QuickTime (MOV) video"),
    "m4v": ("video", "video/x-m4v", "an M4V video"),
    "webm": ("video", "video/webm", "a WebM video"),
    "mkv": ("video", "video/x-matroska", "a Matroska (MKV) video"),
    "avi": ("video", "video/x-msvideo", "an AVI video"),
    "3gp": ("video", "video/3gpp", "a 3GP phone video"),
    "mp3": ("audio", "audio/mpeg", "an MP3 audio file"),
    "m4a": ("audio", "audio/mp4", "an M4A audio file"),
    "wav": ("audio", "audio/wav", "a WAV audio file"),
    "ogg": ("audio", "audio/ogg", "an Ogg audio file"),
    "jpeg": ("image", "image/jpeg", "a JPEG picture"),
    "png": ("image", "image/png", "a PNG picture"),
    "gif": ("image", "image/gif", "a GIF picture"),
    "webp": ("image", "image/webp", "a WebP picture"),
    "heic": ("image", "image/heic", "a HEIC photo (the iPhone photo format)"),
    "pdf": ("document", "application/pdf", "a PDF document"),
    "docx": (
        "document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "a Word document",
    ),
    "pptx": (
        "document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "a PowerPoint presentation",
    ),
    "xlsx": (
        "document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "an Excel spreadsheet",
    ),
    "odt": ("document", "application/vnd.oasis.opendocument.text", "an OpenDocument text document"),
    "odp": ("document", "application/vnd.oasis.opendocument.presentation", "an OpenDocument presentation"),
    "rtf": ("document", "application/rtf", "a Rich Text (RTF) document"),
    "txt": ("document", "text/plain", "a plain text file"),
    "svg": ("text", "image/svg+xml", "an SVG drawing"),
    "hls": ("playlist", "application/vnd.apple.mpegurl", "an HLS playlist (a list of links to other files)"),
    "html": ("text", "text/html", "a web page (HTML)"),
    "zip": ("archive", "application/zip", "a zip archive"),
    "executable": ("executable", "application/x-executable", "a program"),
    "empty": ("unknown", "application/x-empty", "an empty file (0 bytes)"),
    "unknown": ("unknown", "application/octet-stream", "a file of a type we could not recognise"),
}

FORMATS: frozenset[str] = frozenset(_FORMAT_INFO)

# Which formats count as evidence of each kind a credential can ask for. The catalog should test
# ``sniffed.format in KIND_FORMATS[kind]``: a format only appears here when the sniffer assigns it
# solely to files that genuinely are of that kind (e.g. "txt" is only given to clearly plain text;
# scripts and markup get format "unknown").
KIND_FORMATS: dict[str, frozenset[str]] = {
    "video": frozenset({"mp4", "mov", "m4v", "webm", "mkv", "avi", "3gp"}),
    "audio": frozenset({"mp3", "m4a", "wav", "ogg"}),
    "image": frozenset({"jpeg", "png", "gif", "webp", "heic"}),
    "document": frozenset({"pdf", "docx", "pptx", "xlsx", "odt", "odp", "rtf", "txt"}),
}


def sniffed_as(
    fmt: str,
    *,
    kind: str | None = None,
    mime: str | None = None,
    description: str | None = None,
) -> Sniffed:
    """Build a :class:`Sniffed` for a format, filling in the vocabulary's defaults.

    Args:
        fmt: A member of :data:`FORMATS`.
        kind: Overrides the format's usual kind (used for ``"unknown"`` files whose family is known).
        mime: Overrides the canonical MIME type.
        description: Overrides the standard description.

    Returns:
        The sniff result.

    Raises:
        ValueError: If ``fmt`` or ``kind`` is not part of the vocabulary.
    """
    try:
        default_kind, default_mime, default_description = _FORMAT_INFO[fmt]
    except KeyError:
        raise ValueError(f"unknown evidence format {fmt!r}") from None
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown evidence kind {kind!r}")
    return Sniffed(
        format=fmt,
        kind=kind or default_kind,
        mime=mime or default_mime,
        description=description or default_description,
    )
