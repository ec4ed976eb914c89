"""Turn an uploaded file's name into one that is safe to display, and say when it looked like a trick."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from credflow.validation.inspect import Finding, printable

MAX_NAME_LENGTH = 200
FALLBACK_NAME = "unnamed"

# Characters that reorder how text is displayed; U+202E (right-to-left override) is the classic
# way to make "invoice\u202efdp.exe" look like "invoiceexe.pdf".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_SEPARATORS = re.compile(r"[/\\]")
# Longer "extensions" are really part of the name (e.g. "notes.from the meeting on tuesday").
_MAX_EXTENSION = 16
# Names Windows reserves for devices, whatever the case and extension: saving a download called
# "CON.pdf" or "nul.txt" fails there or writes to the device.
_WINDOWS_DEVICES = re.compile(
    r"(?:CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3]|CONIN\$|CONOUT\$)", re.I
)


@dataclass(frozen=True)
class DisplayName:
    """A cleaned file name and what was wrong with the original.

    Attributes:
        name: The name to show and store; never empty, never a path, at most 200 characters.
        findings: Problems worth telling the teacher about (path parts, text-direction tricks).
    """

    name: str
    findings: tuple[Finding, ...]


def safe_display_name(raw: str) -> DisplayName:
    """Clean an uploaded file name for display and storage.

    The name is NFC-normalised; whitespace characters become spaces; other control, format
    (zero-width) and text-direction characters are removed; only the last path part is kept
    (``/`` and ``\\`` both count); leading dots, trailing dots and surrounding whitespace are
    stripped, runs of whitespace collapsed, and the result is cut to :data:`MAX_NAME_LENGTH`
    characters keeping its extension. A Windows device name (``CON.pdf``, ``nul``, ``LPT1.txt``)
    gets an underscore after it (``CON_.pdf``). An empty result becomes ``"unnamed"``.

    Args:
        raw: The name as the browser or client sent it.

    Returns:
        The cleaned name and findings: ``unsafe_filename_path`` when the name held folder parts,
        ``unsafe_filename_bidi`` when it held text-direction controls. Other control characters are
        removed without a finding.
    """
    normalized = unicodedata.normalize("NFC", raw)
    findings: list[Finding] = []

    bidi = sorted({ch for ch in normalized if ch in _BIDI_CONTROLS})
    cleaned = "".join(
        " " if ch.isspace() else ch
        for ch in normalized
        if ch.isspace() or unicodedata.category(ch) not in _REMOVED_CATEGORIES
    )

    parts = _SEPARATORS.split(cleaned)
    if len(parts) > 1 or ".." in parts:
        findings.append(_path_finding(normalized, cleaned, parts))
    kept = next((part for part in reversed(parts) if part.strip() not in {"", ".", ".."}), "")

    name = re.sub(r"^[.\s]+", "", " ".join(kept.split()))
    name = _not_a_device(_cap_length(name).rstrip(". ")) or FALLBACK_NAME
    if bidi:
        findings.append(_bidi_finding(normalized, bidi, name))
    return DisplayName(name=name, findings=tuple(findings))


def _not_a_device(name: str) -> str:
    """``CON.pdf`` becomes ``CON_.pdf``: Windows reads the part before the first dot as a device name."""
    stem, dot, rest = name.partition(".")
    if _WINDOWS_DEVICES.fullmatch(stem.rstrip(" ")):
        return f"{stem.rstrip(' ')}_{dot}{rest}"
    return name


def _path_finding(normalized: str, cleaned: str, parts: list[str]) -> Finding:
    last = next((part for part in reversed(parts) if part.strip() not in {"", ".", ".."}), "")
    kept = f"we kept only the last part ('{printable(last)}')" if last else "no usable name was left"
    if ".." in parts:
        detail = "('../') that point outside its folder"
    else:
        folders = cleaned[: cleaned.rfind(last)] if last else cleaned
        detail = f"('{printable(folders)}')"
    return Finding(
        "unsafe_filename_path",
        f"The file name '{printable(normalized)}' contains folder parts {detail}; {kept}.",
        "Nothing else is needed if this is the right file; to avoid this message, rename the file "
        "without slashes (/ or \\) before uploading.",
    )


def _bidi_finding(normalized: str, bidi: list[str], cleaned_name: str) -> Finding:
    controls = ", ".join(f"<U+{ord(ch):04X}>" for ch in bidi)
    _, dot, extension = cleaned_name.rpartition(".")
    really = f"; the name really ends in '.{extension}'" if dot and extension else ""
    return Finding(
        "unsafe_filename_bidi",
        f"The file name '{printable(normalized)}' contains hidden text-direction characters ({controls}) "
        f"that can make part of the name display backwards and disguise the real file type{really}.",
        "Rename the file with an ordinary name (letters, numbers and a normal ending such as .pdf) "
        "and upload it again.",
    )


def _cap_length(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= _MAX_EXTENSION and " " not in extension:
        return stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
    return name[:MAX_NAME_LENGTH].rstrip()
