"""Baking: Open Badges data embedded in PNG (``iTXt`` chunk) and SVG images, and read back.

OB 2.0 uses keyword ``openbadges`` (PNG) and ``<openbadges:assertion verify="…">`` in namespace
``http://openbadges.org`` (SVG); OB 3.0 uses ``openbadgecredential`` and ``<openbadges:credential>``
in namespace ``https://purl.imsglobal.org/ob/v3p0``. Baking again replaces what was baked; other
chunks and markup are kept byte for byte.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Literal
from xml.parsers import expat
from xml.sax.saxutils import escape

from credflow.badges.errors import BadgeError

OB2_KEYWORD = "openbadges"
OB3_KEYWORD = "openbadgecredential"
#: The ``xmlns:openbadges`` value of each version's SVG baking spec.
SVG_NAMESPACES = {OB2_KEYWORD: "http://openbadges.org", OB3_KEYWORD: "https://purl.imsglobal.org/ob/v3p0"}
SVG_ELEMENTS = {OB2_KEYWORD: "openbadges:assertion", OB3_KEYWORD: "openbadges:credential"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNK = 2**31 - 1
_MAX_TEXT = 16 * 1024 * 1024  # a baked credential is a few KiB; refuse decompression bombs
_TEXT_CHUNKS = (b"iTXt", b"tEXt", b"zTXt")
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_URL = re.compile(r"^https?://\S+$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class BakingError(BadgeError):
    """An image cannot be baked or read (not a PNG/SVG, corrupted, or bad content); the message says why."""


@dataclass(frozen=True)
class Baked:
    """What :func:`unbake` found: the content, and for SVG the ``verify`` attribute if any."""

    format: Literal["png", "svg"]
    keyword: str
    content: str
    verify: str | None = None


def _check_keyword(keyword: str) -> None:
    if keyword not in SVG_ELEMENTS:
        raise BakingError(f"unknown baking keyword {keyword!r}; use {OB2_KEYWORD!r} or {OB3_KEYWORD!r}")


# --------------------------------------------------------------------------- PNG


@dataclass(frozen=True)
class PngChunk:
    """One PNG chunk (type and data; the CRC is recomputed when written)."""

    kind: bytes
    data: bytes = field(repr=False)

    def encode(self) -> bytes:
        """The chunk as stored: length, type, data, CRC."""
        crc = zlib.crc32(self.kind + self.data) & 0xFFFFFFFF
        return struct.pack(">I", len(self.data)) + self.kind + self.data + struct.pack(">I", crc)


def read_png_chunks(png: bytes) -> list[PngChunk]:
    """Split a PNG into chunks, checking its structure.

    Args:
        png: the file's bytes.

    Returns:
        The chunks from IHDR to IEND.

    Raises:
        BakingError: not a PNG, truncated, a bad chunk type or CRC, no IHDR first or IEND last,
            or data after IEND.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise BakingError("not a PNG image: the file does not start with the PNG signature")
    chunks: list[PngChunk] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(png):
            raise BakingError(f"truncated PNG: the file ends at byte {len(png)} before its IEND chunk")
        (length,) = struct.unpack_from(">I", png, pos)
        kind = png[pos + 4 : pos + 8]
        if length > _MAX_CHUNK:
            raise BakingError(f"corrupted PNG: chunk at byte {pos} declares {length} bytes")
        if not kind.isalpha() or not kind.isascii():
            raise BakingError(f"corrupted PNG: invalid chunk type {kind!r} at byte {pos}")
        end = pos + 12 + length
        if end > len(png):
            raise BakingError(
                f"truncated PNG: chunk {kind.decode('ascii')} at byte {pos} needs {length} bytes, "
                f"the file ends {end - len(png)} bytes short"
            )
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", png, pos + 8 + length)
        if crc != zlib.crc32(kind + data) & 0xFFFFFFFF:
            raise BakingError(f"corrupted PNG: chunk {kind.decode('ascii')} at byte {pos} fails its CRC check")
        if not chunks and kind != b"IHDR":
            raise BakingError(f"corrupted PNG: the first chunk is {kind.decode('ascii')}, not IHDR")
        chunks.append(PngChunk(kind, data))
        pos = end
        if kind == b"IEND":
            break
    if pos != len(png):
        raise BakingError(f"PNG has {len(png) - pos} bytes after its IEND chunk; refusing a file with hidden data")
    return chunks


def write_png_chunks(chunks: list[PngChunk]) -> bytes:
    """Join chunks into a PNG file (signature included)."""
    return PNG_SIGNATURE + b"".join(chunk.encode() for chunk in chunks)


def _inflate(data: bytes, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, _MAX_TEXT)
    except zlib.error as exc:
        raise BakingError(f"{what} is compressed and cannot be decompressed: {exc}") from None
    if inflater.unconsumed_tail:
        raise BakingError(f"{what} decompresses to more than {_MAX_TEXT} bytes")
    return out


def _text_of(chunk: PngChunk) -> tuple[str, str] | None:
    """(keyword, text) of a text chunk, or None when it is not one (or its keyword is unreadable)."""
    if chunk.kind not in _TEXT_CHUNKS or b"\x00" not in chunk.data:
        return None
    raw_keyword, rest = chunk.data.split(b"\x00", 1)
    keyword = raw_keyword.decode("latin-1")
    what = f"the {chunk.kind.decode()} chunk {keyword!r}"
    if chunk.kind == b"tEXt":
        return keyword, rest.decode("latin-1")
    if chunk.kind == b"zTXt":
        if not rest or rest[0] != 0:
            raise BakingError(f"{what} uses an unknown compression method")
        return keyword, _inflate(rest[1:], what).decode("latin-1")
    # iTXt: compression flag, compression method, language tag NUL, translated keyword NUL, text
    parts = rest[2:].split(b"\x00", 2) if len(rest) >= 2 else []
    if len(parts) != 3:
        raise BakingError(f"{what} is malformed (missing language tag or translated keyword)")
    text = parts[2]
    if rest[0] == 1:
        if rest[1] != 0:
            raise BakingError(f"{what} uses an unknown compression method")
        text = _inflate(text, what)
    elif rest[0] != 0:
        raise BakingError(f"{what} has an invalid compression flag {rest[0]}")
    try:
        return keyword, text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BakingError(f"{what} is not UTF-8 text: {exc}") from None


def bake_png(png: bytes, text: str, *, keyword: str = OB2_KEYWORD) -> bytes:
    """Embed ``text`` in a PNG as an uncompressed ``iTXt`` chunk just before IEND.

    Any earlier text chunk with the same keyword is removed first (re-baking replaces).

    Args:
        png: the image.
        text: OB 2.0: the assertion URL, its JSON or the JWS; OB 3.0: the credential JSON or VC-JWT.
        keyword: :data:`OB2_KEYWORD` or :data:`OB3_KEYWORD`.

    Returns:
        The baked PNG.

    Raises:
        BakingError: the image is not a sound PNG, or the text is empty or holds NUL characters.
    """
    _check_keyword(keyword)
    if not text or "\x00" in text:
        raise BakingError("the content to bake must be non-empty text without NUL characters")
    chunks = read_png_chunks(png)
    kept = [chunk for chunk in chunks[:-1] if _text_of_lenient(chunk) != keyword]
    itxt = PngChunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))
    return write_png_chunks([*kept, itxt, chunks[-1]])


def _text_of_lenient(chunk: PngChunk) -> str | None:
    """Just the keyword of a text chunk (without decoding its text)."""
    if chunk.kind not in _TEXT_CHUNKS or b"\x00" not in chunk.data:
        return None
    return chunk.data.split(b"\x00", 1)[0].decode("latin-1")


def unbake_png(png: bytes, *, keyword: str = OB2_KEYWORD) -> str | None:
    """Read what is baked in a PNG under ``keyword``.

    The first ``iTXt`` chunk with the keyword wins; for OB 2.0 a legacy ``tEXt``/``zTXt`` chunk
    (an assertion URL, as baked before the spec) is read when there is no ``iTXt``.

    Returns:
        The baked text, or None when the PNG holds nothing under that keyword.

    Raises:
        BakingError: the image is not a sound PNG, or the baked chunk is malformed.
    """
    _check_keyword(keyword)
    legacy: str | None = None
    for chunk in read_png_chunks(png):
        if _text_of_lenient(chunk) != keyword:
            continue
        decoded = _text_of(chunk)
        if decoded is None:  # pragma: no cover - _text_of_lenient matched, so it is a text chunk
            continue
        if chunk.kind == b"iTXt":
            return decoded[1]
        if legacy is None and keyword == OB2_KEYWORD:
            legacy = decoded[1]
    return legacy


# --------------------------------------------------------------------------- SVG


@dataclass
class _Element:
    start: int
    tag_end: int  # index just past the start tag's ">"
    empty: bool
    attributes: dict[str, str]
    end: int = -1  # index just past the element
    text: list[str] = field(default_factory=list)


@dataclass
class _SvgLayout:
    root_name: str
    root: _Element
    targets: list[_Element]


def _tag_end(data: bytes, start: int) -> int:
    """Index just past the ``>`` closing the tag that opens at ``start`` (quotes respected)."""
    quote = 0
    for pos in range(start + 1, len(data)):
        byte = data[pos]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return pos + 1
    raise BakingError("not well-formed SVG: a tag is never closed")  # pragma: no cover - expat catches it


def _svg_bytes(svg: bytes | str) -> bytes:
    data = svg.encode("utf-8") if isinstance(svg, str) else svg
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BakingError("SVG must be UTF-8 (this one is UTF-16)")
    return data


def _parse_svg(data: bytes, element_name: str) -> _SvgLayout:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root: list[tuple[str, _Element]] = []
    targets: list[_Element] = []
    depth = 0
    reading_at = 0  # depth of the first target while its text is being read, else 0

    def refuse_entities(*_: object) -> None:
        raise BakingError("SVG declares entities; refusing it (entity expansion can hide or multiply content)")

    def xml_declaration(_version: str, encoding: str | None, _standalone: int) -> None:
        if encoding is not None and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise BakingError(f"SVG must be UTF-8 (this one declares {encoding})")

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, reading_at
        depth += 1
        index = parser.CurrentByteIndex
        tag_end = _tag_end(data, index)
        element = _Element(index, tag_end, data[tag_end - 2 : tag_end] == b"/>", attributes)
        if depth == 1:
            root.append((name, element))
        elif name == element_name:
            targets.append(element)
            if len(targets) == 1:
                reading_at = depth

    def end(name: str) -> None:
        nonlocal depth, reading_at
        if name == element_name and depth > 1:
            element = next(t for t in reversed(targets) if t.end < 0)
            element.end = element.tag_end if element.empty else data.index(b">", parser.CurrentByteIndex) + 1
            if depth == reading_at:
                reading_at = 0  # only the first target's text is read
        depth -= 1

    def characters(text: str) -> None:
        if reading_at:
            targets[0].text.append(text)

    parser.EntityDeclHandler = refuse_entities
    parser.UnparsedEntityDeclHandler = refuse_entities
    parser.XmlDeclHandler = xml_declaration
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise BakingError(f"not well-formed SVG (XML): {exc}") from None
    if not root:  # pragma: no cover - expat refuses a document without an element
        raise BakingError("not an SVG image: no root element")
    root_name, root_element = root[0]
    if root_name.rsplit(":", 1)[-1] != "svg":
        raise BakingError(f"not an SVG image: the root element is <{root_name}>, not <svg>")
    return _SvgLayout(root_name, root_element, targets)


def _cdata(body: str) -> tuple[str, str]:
    """The CDATA markup for ``body`` and the text a reader will get back from it."""
    try:
        json.loads(body)
    except ValueError:
        if "\r" in body:
            raise BakingError("a non-JSON body cannot hold carriage returns (XML turns them into line feeds)") from None
        # Not JSON: close and reopen the section around each "]]>" (XML joins the pieces back).
        return "<![CDATA[" + body.replace("]]>", "]]]]><![CDATA[>") + "]]>", body
    # In JSON, ">" can only occur inside a string, where \u003e means the same: one CDATA
    # section then stays whole for readers that only take the first (or last) section.
    # A raw carriage return can only be whitespace between JSON tokens: dropping it changes nothing.
    safe = body.replace("\r", "").replace("]]>", "]]\\u003e")
    return "<![CDATA[" + safe + "]]>", safe


def _attribute(value: str) -> str:
    return escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def bake_svg(
    svg: bytes | str, *, keyword: str = OB2_KEYWORD, body: str | None = None, verify: str | None = None
) -> bytes:
    """Embed Open Badges data in an SVG, directly after its ``<svg>`` tag.

    OB 2.0 hosted: ``verify`` = the assertion URL and ``body`` = its JSON (``verify`` defaults to
    the body's ``id`` when that is a URL); OB 2.0 signed: ``verify`` = the JWS, no body. OB 3.0:
    ``body`` = the credential JSON, or ``verify`` = the VC-JWT. The body goes in a CDATA section
    (a ``]]>`` inside it is handled). An earlier element of the same kind is replaced.

    Args:
        svg: the image (UTF-8).
        keyword: :data:`OB2_KEYWORD` or :data:`OB3_KEYWORD`.
        body: the JSON (or text) to put in the element.
        verify: the ``verify`` attribute.

    Returns:
        The baked SVG, UTF-8.

    Raises:
        BakingError: not a well-formed UTF-8 SVG, nothing to bake, or characters XML cannot hold.
    """
    _check_keyword(keyword)
    if keyword == OB2_KEYWORD and verify is None and body is not None:
        verify = _hosted_id(body)
    if not body and not verify:
        raise BakingError("nothing to bake: give a body, a verify value, or both")
    if keyword == OB2_KEYWORD and not verify:
        raise BakingError("OB 2.0 SVG baking needs a verify value (the assertion URL or the JWS)")
    for what, value in (("body", body), ("verify", verify)):
        if value is not None and _NOT_XML.search(value):
            raise BakingError(f"the {what} holds characters that XML cannot carry")
    data = _svg_bytes(svg)
    name = SVG_ELEMENTS[keyword]
    namespace = SVG_NAMESPACES[keyword]
    layout = _parse_svg(data, name)
    root = layout.root
    declared = root.attributes.get("xmlns:openbadges")

    attributes = ""
    if declared is not None and declared != namespace:
        # The other version's badge already owns the prefix on <svg>: declare ours locally.
        attributes += f' xmlns:openbadges="{namespace}"'
    if verify:
        attributes += f' verify="{_attribute(verify)}"'
    if body:
        cdata, expected_body = _cdata(body)
        element = f"<{name}{attributes}>{cdata}</{name}>"
    else:
        element, expected_body = f"<{name}{attributes}/>", ""
    insertion = ("\n" + element).encode("utf-8")

    root_open = data[root.start : root.tag_end]
    close_at = len(root_open) - (2 if root.empty else 1)
    namespace_attribute = f' xmlns:openbadges="{namespace}"'.encode() if declared is None else b""
    new_open = root_open[:close_at].rstrip() + namespace_attribute + b">"
    if root.empty:
        out = (
            data[: root.start]
            + new_open
            + insertion
            + b"\n</"
            + layout.root_name.encode()
            + b">"
            + data[root.tag_end :]
        )
    else:
        outermost: list[_Element] = []
        for target in sorted(layout.targets, key=lambda t: t.start):
            if not outermost or target.start >= outermost[-1].end:
                outermost.append(target)
        rest = bytearray(data[root.tag_end :])
        for target in reversed(outermost):
            del rest[target.start - root.tag_end : target.end - root.tag_end]
        out = data[: root.start] + new_open + insertion + bytes(rest)
    found = _find_svg(out, keyword)
    if found != (expected_body.strip(), verify):
        raise BakingError("the baked SVG does not read back what was baked")  # pragma: no cover - a safety net
    return out


def _hosted_id(body: str) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    identifier = doc.get("id") if isinstance(doc, dict) else None
    return identifier if isinstance(identifier, str) and _URL.match(identifier) else None


def _find_svg(svg: bytes | str, keyword: str) -> tuple[str, str | None] | None:
    layout = _parse_svg(_svg_bytes(svg), SVG_ELEMENTS[keyword])
    if not layout.targets:
        return None
    first = layout.targets[0]
    return "".join(first.text).strip(), first.attributes.get("verify")


def unbake_svg(svg: bytes | str, *, keyword: str = OB2_KEYWORD) -> str | None:
    """Read what is baked in an SVG: the element's body (the JSON) if it has one, else its ``verify``.

    Returns:
        The content, or None when the SVG holds no element for ``keyword``.

    Raises:
        BakingError: not a well-formed UTF-8 SVG.
    """
    _check_keyword(keyword)
    found = _find_svg(svg, keyword)
    if found is None:
        return None
    body, verify = found
    return body or verify


# --------------------------------------------------------------------------- either


def _is_png(image: bytes) -> bool:
    return image.startswith(PNG_SIGNATURE)


def bake(image: bytes, content: str, *, keyword: str = OB2_KEYWORD) -> bytes:
    """Bake into a PNG or an SVG, whichever ``image`` is.

    For SVG, JSON content becomes the element's body (OB 2.0: ``verify`` is its id); a URL or a
    compact JWS becomes the ``verify`` attribute.

    Raises:
        BakingError: the image is neither a sound PNG nor a well-formed SVG.
    """
    if _is_png(image):
        return bake_png(image, content, keyword=keyword)
    text = content.strip()
    if _JWS.match(text) or _URL.match(text):
        return bake_svg(image, keyword=keyword, verify=text)
    return bake_svg(image, keyword=keyword, body=content)


def unbake(image: bytes) -> Baked | None:
    """Find Open Badges data in a PNG or an SVG (OB 3.0 looked for first, then OB 2.0).

    Returns:
        What was found, or None when the image holds no Open Badges data.

    Raises:
        BakingError: the image is neither a sound PNG nor a well-formed SVG.
    """
    for keyword in (OB3_KEYWORD, OB2_KEYWORD):
        if _is_png(image):
            text = unbake_png(image, keyword=keyword)
            if text is not None:
                return Baked("png", keyword, text)
            continue
        found = _find_svg(image, keyword)
        if found is not None:
            body, verify = found
            return Baked("svg", keyword, body or verify or "", verify)
    return None
