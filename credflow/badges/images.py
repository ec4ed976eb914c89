"""Badge images drawn from a catalog entry: an SVG and a 400x400 PNG, coloured by the credential's id."""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import re
import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from credflow.catalog.models import Credential

SIZE = 400
_CENTRE = SIZE / 2
_NAME_LINES = 4
_ISSUER_LINES = 2
_WHITE = "#ffffff"
#: Rendered images kept per process, by :class:`BadgeArt` (all that varies in an image): one per badge class
#: and issuer name, so a catalog's art stays encoded (a PNG costs ~60 ms, PNG and SVG ~30 KB together).
_ART_CACHE_SIZE = 256
#: Characters XML 1.0 cannot carry even escaped; a name holding one is drawn without it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class BadgeArt:
    """What a badge image shows: the badge name, the issuer's name and a colour (``#rrggbb``)."""

    name: str
    issuer_name: str
    colour: str

    @classmethod
    def for_credential(cls, credential: Credential) -> BadgeArt:
        """The art of a catalog micro-credential, its colour derived from its id."""
        return cls(name=credential.badge.name, issuer_name=credential.issuer.name, colour=badge_colour(credential.id))


def badge_colour(key: str) -> str:
    """A stable colour for an id: the hue comes from its hash; dark enough for white text.

    Args:
        key: the credential id (any string).

    Returns:
        A ``#rrggbb`` colour; the same id always gives the same colour.
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.34, 0.62)
    return "#{:02x}{:02x}{:02x}".format(*(round(channel * 255) for channel in (red, green, blue)))


def _darker(colour: str, factor: float = 0.7) -> str:
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c * factor) for c in channels))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _fit_lines(lines: list[str], limit: int) -> list[str]:
    if len(lines) <= limit:
        return lines
    kept = lines[:limit]
    kept[-1] = kept[-1].rstrip(" .,;:") + "…"
    return kept


def _octagon(radius: float) -> list[tuple[float, float]]:
    return [
        (
            _CENTRE + radius * math.cos(math.radians(22.5 + 45 * i)),
            _CENTRE + radius * math.sin(math.radians(22.5 + 45 * i)),
        )
        for i in range(8)
    ]


# --------------------------------------------------------------------------- SVG


@functools.lru_cache(maxsize=_ART_CACHE_SIZE)
def render_svg(art: BadgeArt) -> str:
    """Draw the badge as an SVG document (text is XML-escaped, never markup); kept per process by ``art``.

    Args:
        art: what to show.

    Returns:
        A complete UTF-8 SVG document (400x400 view box), ready to serve or bake.
    """
    name, issuer_name = _NOT_XML.sub("", art.name), _NOT_XML.sub("", art.issuer_name)
    name_lines = _fit_lines(textwrap.wrap(name, width=18) or [""], _NAME_LINES)
    issuer_lines = _fit_lines(textwrap.wrap(issuer_name, width=24) or [""], _ISSUER_LINES)
    outer = " ".join(f"{x:.1f},{y:.1f}" for x, y in _octagon(190))
    inner = " ".join(f"{x:.1f},{y:.1f}" for x, y in _octagon(168))
    name_size = 30 if len(name_lines) <= 3 and max(len(line) for line in name_lines) <= 14 else 24
    name_top = 185 - (len(name_lines) - 1) * name_size * 0.6
    texts = [
        f'<text x="{_CENTRE:.0f}" y="{name_top + i * name_size * 1.2:.1f}" font-size="{name_size}" '
        f'font-weight="bold">{escape(line)}</text>'
        for i, line in enumerate(name_lines)
    ]
    texts += [
        f'<text x="{_CENTRE:.0f}" y="{300 + i * 20}" font-size="16">{escape(line)}</text>'
        for i, line in enumerate(issuer_lines)
    ]
    title = escape(f"{name}, issued by {issuer_name}")
    star = " ".join(
        f"{_CENTRE + r * math.sin(math.radians(36 * i)):.1f},{78 - r * math.cos(math.radians(36 * i)):.1f}"
        for i, r in enumerate([22, 9] * 5)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}" '
        'role="img" aria-labelledby="title">\n'
        f'<title id="title">{title}</title>\n'
        f'<polygon points="{outer}" fill="{_darker(art.colour)}"/>\n'
        f'<polygon points="{inner}" fill="{art.colour}" stroke="{_WHITE}" stroke-width="4" stroke-opacity="0.8"/>\n'
        f'<polygon points="{star}" fill="{_WHITE}"/>\n'
        f'<line x1="110" y1="270" x2="290" y2="270" stroke="{_WHITE}" stroke-width="2" stroke-opacity="0.7"/>\n'
        f'<g fill="{_WHITE}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" text-anchor="middle">\n'
        + "\n".join(texts)
        + "\n</g>\n</svg>\n"
    )


# --------------------------------------------------------------------------- PNG


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's own default font (Aileron, shipped inside Pillow): nothing is downloaded.
    return ImageFont.load_default(size=size)


def _wrap_pixels(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float
) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


@functools.lru_cache(maxsize=_ART_CACHE_SIZE)
def render_png(art: BadgeArt) -> bytes:
    """Draw the badge as a 400x400 RGBA PNG (shapes and Pillow's bundled font); kept per process by ``art``.

    Args:
        art: what to show.

    Returns:
        The PNG file's bytes.
    """
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.polygon(_octagon(190), fill=_rgb(_darker(art.colour)))
    draw.polygon(_octagon(168), fill=_rgb(art.colour), outline=(255, 255, 255), width=4)
    star = [
        (_CENTRE + r * math.sin(math.radians(36 * i)), 78 - r * math.cos(math.radians(36 * i)))
        for i, r in enumerate([22, 9] * 5)
    ]
    draw.polygon(star, fill=(255, 255, 255))
    draw.line([(110, 270), (290, 270)], fill=(255, 255, 255), width=2)

    name_size = 30
    name_font = _font(name_size)
    name_lines = _wrap_pixels(draw, art.name, name_font, 250)
    if len(name_lines) > 3:
        name_size = 24
        name_font = _font(name_size)
        name_lines = _wrap_pixels(draw, art.name, name_font, 260)
    name_lines = _fit_lines(name_lines, _NAME_LINES)
    line_height = name_size * 1.2
    top = 180 - (len(name_lines) - 1) * line_height / 2
    for i, line in enumerate(name_lines):
        draw.text((_CENTRE, top + i * line_height), line, font=name_font, fill=(255, 255, 255), anchor="mm")

    issuer_font = _font(16)
    issuer_lines = _fit_lines(_wrap_pixels(draw, art.issuer_name, issuer_font, 180), _ISSUER_LINES)
    for i, line in enumerate(issuer_lines):
        draw.text((_CENTRE, 290 + i * 19), line, font=issuer_font, fill=(255, 255, 255), anchor="mm")

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def badge_svg(credential: Credential) -> str:
    """The SVG badge image of a catalog micro-credential."""
    return render_svg(BadgeArt.for_credential(credential))


def badge_png(credential: Credential) -> bytes:
    """The 400x400 PNG badge image of a catalog micro-credential."""
    return render_png(BadgeArt.for_credential(credential))
