"""Badge images (PNG and SVG) and baking Open Badges 2.0/3.0 data into them and back out."""

from __future__ import annotations

import io
import json
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from credflow.badges.baking import (
    OB2_KEYWORD,
    OB3_KEYWORD,
    Baked,
    BakingError,
    PngChunk,
    bake,
    bake_png,
    bake_svg,
    read_png_chunks,
    unbake,
    unbake_png,
    unbake_svg,
    write_png_chunks,
)
from credflow.badges.images import BadgeArt, badge_colour, badge_png, badge_svg, render_png, render_svg
from credflow.catalog import load_catalog
from tests.conftest import ROOT

SVG_NS = "{http://www.w3.org/2000/svg}"
OB2_NS = "{http://openbadges.org}"
OB3_NS = "{https://purl.imsglobal.org/ob/v3p0}"
URL = "https://badges.example.org/assertions/1"
JWS = "eyJhbGciOiJSUzI1NiJ9.eyJpZCI6InVybjp1dWlkOjEifQ.c2lnbmF0dXJl"
CREDENTIAL = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
    "id": "urn:uuid:7d5c",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Tricky ]]> name & <b>",
}


@pytest.fixture(scope="module")
def credential():
    return load_catalog(ROOT / "rubrics").get("openscied-facilitating-discussions")


@pytest.fixture(scope="module")
def png(credential) -> bytes:
    return badge_png(credential)


@pytest.fixture(scope="module")
def svg(credential) -> str:
    return badge_svg(credential)


def _text_chunks(data: bytes, keyword: str) -> list[PngChunk]:
    return [
        c for c in read_png_chunks(data) if c.kind in (b"iTXt", b"tEXt") and c.data.startswith(keyword.encode() + b"\0")
    ]


# --------------------------------------------------------------------------- images


def test_the_png_badge_is_a_400px_png_that_pillow_reads(png):
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (400, 400)
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
        assert colours is not None and len(colours) > 10  # drawn shapes and text, not a blank square


def test_the_svg_badge_is_well_formed_and_shows_name_and_issuer(svg, credential):
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "0 0 400 400"
    words = " ".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    assert credential.issuer.name in words
    assert root.findtext(f"{SVG_NS}title") == f"{credential.badge.name}, issued by {credential.issuer.name}"


def test_the_colour_comes_from_the_credential_id(credential):
    assert badge_colour(credential.id) == badge_colour(credential.id)
    assert badge_colour(credential.id) != badge_colour("udl-level-1")
    assert f'fill="{badge_colour(credential.id)}"' in badge_svg(credential)


def test_svg_text_is_escaped_never_markup():
    art = BadgeArt(name='<script>alert("x")</script> & Co', issuer_name="</svg><svg onload=alert(1)>", colour="#123456")
    svg = render_svg(art)
    root = ET.fromstring(svg.encode())
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    assert all(not any(name.startswith("on") for name in el.attrib) for el in root.iter())
    assert "<script>" not in svg
    words = " ".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    assert "<script>alert(" in words and "& Co" in words
    assert "</svg><svg onload=alert(1)>" in words


def test_control_characters_and_long_names_still_make_valid_images():
    art = BadgeArt(name="A\x00B\x1f " + "very-long-word " * 20, issuer_name="I" * 200, colour="#00aa00")
    root = ET.fromstring(render_svg(art).encode())
    assert root.findtext(f"{SVG_NS}title", "").startswith("AB ")
    lines = [t.text or "" for t in root.iter(f"{SVG_NS}text")]
    assert len(lines) <= 6 and any(line.endswith("…") for line in lines)
    with Image.open(io.BytesIO(render_png(art))) as image:
        assert image.size == (400, 400)


def test_a_badge_class_art_is_drawn_once_and_anything_it_shows_draws_it_anew():
    art = BadgeArt(name="Drawn Once", issuer_name="Cache Issuer", colour="#224466")
    png_misses, svg_misses = render_png.cache_info().misses, render_svg.cache_info().misses
    same = BadgeArt(name="Drawn Once", issuer_name="Cache Issuer", colour="#224466")  # an equal art, built again
    assert render_png(art) is render_png(same) and render_svg(art) is render_svg(same)
    assert (render_png.cache_info().misses, render_svg.cache_info().misses) == (png_misses + 1, svg_misses + 1)
    changes = (replace(art, name="Drawn Twice"), replace(art, issuer_name="Other"), replace(art, colour="#664422"))
    for changed in changes:
        assert render_png(changed) != render_png(art) and render_svg(changed) != render_svg(art)


# --------------------------------------------------------------------------- PNG baking


@pytest.mark.parametrize(
    ("keyword", "content"),
    [(OB2_KEYWORD, URL), (OB2_KEYWORD, JWS), (OB3_KEYWORD, json.dumps(CREDENTIAL, indent=2))],
    ids=["ob2-url", "ob2-jws", "ob3-json"],
)
def test_png_round_trip(png, keyword, content):
    baked = bake_png(png, content, keyword=keyword)
    assert unbake_png(baked, keyword=keyword) == content
    assert unbake(baked) == Baked("png", keyword, content)
    chunks = read_png_chunks(baked)
    assert chunks[-1].kind == b"IEND"
    assert chunks[-2] == PngChunk(b"iTXt", keyword.encode() + b"\0\0\0\0\0" + content.encode())  # uncompressed
    with Image.open(io.BytesIO(baked)) as image:  # an independent PNG reader agrees
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.text[keyword] == content


def test_both_versions_live_side_by_side_and_rebaking_replaces_only_its_own(png):
    baked = bake_png(bake_png(png, URL, keyword=OB2_KEYWORD), json.dumps(CREDENTIAL), keyword=OB3_KEYWORD)
    rebaked = bake_png(baked, JWS, keyword=OB2_KEYWORD)
    assert unbake_png(rebaked, keyword=OB2_KEYWORD) == JWS
    assert json.loads(unbake_png(rebaked, keyword=OB3_KEYWORD) or "") == CREDENTIAL
    assert len(_text_chunks(rebaked, OB2_KEYWORD)) == 1
    assert len(_text_chunks(rebaked, OB3_KEYWORD)) == 1
    with Image.open(io.BytesIO(png)) as before, Image.open(io.BytesIO(rebaked)) as after:
        assert before.tobytes() == after.tobytes()  # the pixels are untouched


def test_unbaking_a_plain_png_finds_nothing(png):
    assert unbake_png(png) is None
    assert unbake_png(png, keyword=OB3_KEYWORD) is None
    assert unbake(png) is None


def test_legacy_text_and_compressed_itxt_chunks_are_read(png):
    info = PngImagePlugin.PngInfo()
    info.add_itxt(OB3_KEYWORD, json.dumps(CREDENTIAL), zip=True)  # iTXt, compressed
    info.add_text(OB2_KEYWORD, URL)  # tEXt: how badges were baked before the spec
    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.save(out, format="PNG", pnginfo=info)
    data = out.getvalue()
    assert json.loads(unbake_png(data, keyword=OB3_KEYWORD) or "") == CREDENTIAL
    assert unbake_png(data, keyword=OB2_KEYWORD) == URL
    rebaked = bake_png(data, JWS)
    assert unbake_png(rebaked) == JWS
    assert len(_text_chunks(rebaked, OB2_KEYWORD)) == 1  # the legacy chunk was replaced


def _corrupt_crc(data: bytes) -> bytes:
    chunks = read_png_chunks(data)
    body = write_png_chunks(chunks[:1])
    return body[:-1] + bytes([body[-1] ^ 0xFF]) + b"".join(c.encode() for c in chunks[1:])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: b"GIF89a" + d[6:], "not a PNG"),
        (lambda d: b"", "not a PNG"),
        (lambda d: d[: len(d) // 2], "truncated PNG"),
        (lambda d: d[:-12], "truncated PNG"),
        (_corrupt_crc, "CRC"),
        (lambda d: d + b"PK\x03\x04hidden.zip", "after its IEND"),
        (lambda d: d[:8] + PngChunk(b"tEXt", b"x\0y").encode() + d[8:], "not IHDR"),
        (
            lambda d: d[:8] + struct.pack(">I", 0) + b"1234" + struct.pack(">I", zlib.crc32(b"1234")) + d[8:],
            "chunk type",
        ),
        (lambda d: d[:8] + struct.pack(">I", 2**31 + 5) + d[12:], "declares"),
    ],
    ids=["gif", "empty", "half", "no-iend", "bad-crc", "appended-zip", "no-ihdr", "bad-type", "huge-length"],
)
def test_malformed_pngs_are_refused_with_a_clear_error(png, damage, message):
    broken = damage(png)
    with pytest.raises(BakingError, match=message):
        bake_png(broken, URL)
    with pytest.raises(BakingError, match=message):
        unbake_png(broken)


def test_a_malformed_badge_chunk_is_refused(png):
    chunks = read_png_chunks(png)
    broken = write_png_chunks([*chunks[:-1], PngChunk(b"iTXt", b"openbadges\0\0\0no-terminators"), chunks[-1]])
    with pytest.raises(BakingError, match="malformed"):
        unbake_png(broken)
    bomb = PngChunk(b"iTXt", b"openbadges\0\1\0\0\0" + zlib.compress(b"x" * (17 * 1024 * 1024)))
    with pytest.raises(BakingError, match="decompresses to more than"):
        unbake_png(write_png_chunks([*chunks[:-1], bomb, chunks[-1]]))


def test_bad_content_and_keywords_are_refused(png):
    with pytest.raises(BakingError, match="non-empty"):
        bake_png(png, "")
    with pytest.raises(BakingError, match="NUL"):
        bake_png(png, "a\0b")
    with pytest.raises(BakingError, match="unknown baking keyword"):
        bake_png(png, URL, keyword="openbadge")


# --------------------------------------------------------------------------- SVG baking


def _badge_elements(baked: bytes) -> list[ET.Element]:
    root = ET.fromstring(baked)
    return [el for el in root.iter() if el.tag in (f"{OB2_NS}assertion", f"{OB3_NS}credential")]


def test_svg_ob2_hosted_round_trip(svg):
    assertion = {"@context": "https://w3id.org/openbadges/v2", "id": URL, "type": "Assertion"}
    baked = bake_svg(svg, body=json.dumps(assertion))
    assert b'xmlns:openbadges="http://openbadges.org"' in baked
    root = ET.fromstring(baked)
    first = root[0]
    assert first.tag == f"{OB2_NS}assertion"  # directly after <svg>
    assert first.get("verify") == URL  # the hosted assertion's URL, taken from its id
    assert json.loads(first.text or "") == assertion
    assert json.loads(unbake_svg(baked) or "") == assertion
    assert unbake(baked) == Baked("svg", OB2_KEYWORD, json.dumps(assertion), URL)


def test_svg_ob2_signed_round_trip(svg):
    baked = bake_svg(svg.encode(), verify=JWS)
    assert f'<openbadges:assertion verify="{JWS}"/>'.encode() in baked  # self-closing, no body
    assert unbake_svg(baked) == JWS
    assert unbake(baked) == Baked("svg", OB2_KEYWORD, JWS, JWS)


def test_svg_ob3_round_trip_with_a_cdata_terminator_in_the_json(svg):
    body = json.dumps(CREDENTIAL, indent=2)
    assert "]]>" in body
    baked = bake_svg(svg, keyword=OB3_KEYWORD, body=body)
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert baked.count(b"<![CDATA[") == 1  # one section: naive readers get the whole JSON
    (element,) = _badge_elements(baked)
    assert element.tag == f"{OB3_NS}credential" and element.get("verify") is None
    assert json.loads(element.text or "") == CREDENTIAL
    assert json.loads(unbake_svg(baked, keyword=OB3_KEYWORD) or "") == CREDENTIAL


def test_svg_non_json_body_survives_a_cdata_terminator(svg):
    text = "plain ]]> text ]]]]> with <tags> & ampersands"
    baked = bake_svg(svg, keyword=OB3_KEYWORD, body=text)
    assert unbake_svg(baked, keyword=OB3_KEYWORD) == text
    assert ET.fromstring(baked).find(f"{OB3_NS}credential").text == text  # type: ignore[union-attr]


def test_svg_rebaking_replaces_and_versions_coexist(svg):
    once = bake_svg(svg, verify=URL, body=json.dumps({"id": URL}))
    twice = bake_svg(once, verify=JWS)
    both = bake_svg(twice, keyword=OB3_KEYWORD, body=json.dumps(CREDENTIAL))
    again = bake_svg(both, keyword=OB3_KEYWORD, verify=JWS)
    elements = _badge_elements(again)
    assert [el.tag for el in elements] == [f"{OB3_NS}credential", f"{OB2_NS}assertion"]  # namespaces hold
    assert unbake_svg(again) == JWS
    assert unbake_svg(again, keyword=OB3_KEYWORD) == JWS
    assert unbake(again) == Baked("svg", OB3_KEYWORD, JWS, JWS)
    assert again.count(b"<openbadges:assertion") == 1 and again.count(b"<openbadges:credential") == 1
    # Everything else is kept byte for byte.
    assert again.split(b"<title", 1)[1] == svg.encode().split(b"<title", 1)[1]


def test_svg_verify_attribute_is_escaped(svg):
    odd = 'https://b.example.org/a?x=1&y="2"<3>'
    baked = bake_svg(svg, verify=odd)
    assert ET.fromstring(baked)[0].get("verify") == odd
    assert unbake_svg(baked) == odd


def test_an_exported_svg_with_bom_doctype_and_odd_attributes_is_baked_in_place():
    exported = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        b'<!-- drawn elsewhere -->\n<svg\n   xmlns="http://www.w3.org/2000/svg" data-note="a>b"\n   width="10">'
        b'<rect width="1" height="1"/></svg>\n'
    )
    baked = bake_svg(exported, verify=JWS)
    assert baked.startswith(exported.split(b"<svg", 1)[0])  # prolog untouched
    assert b'data-note="a>b"\n   width="10" xmlns:openbadges="http://openbadges.org">' in baked
    assert unbake_svg(baked) == JWS


def test_an_empty_svg_root_can_be_baked():
    baked = bake_svg('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', verify=URL)
    assert unbake_svg(baked) == URL
    assert ET.fromstring(baked).tag == f"{SVG_NS}svg"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"<svg><g></svg>", "not well-formed"),
        (b"definitely not xml", "not well-formed"),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "root element is <html>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
            "entities",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16"), "UTF-8"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><svg/>', "UTF-8"),
    ],
    ids=["unclosed", "not-xml", "not-svg", "entity-bomb", "utf16", "latin1"],
)
def test_malformed_svgs_are_refused_with_a_clear_error(image, message):
    with pytest.raises(BakingError, match=message):
        bake_svg(image, verify=URL)
    with pytest.raises(BakingError, match=message):
        unbake_svg(image)


def test_svg_baking_needs_something_sensible_to_bake(svg):
    with pytest.raises(BakingError, match="nothing to bake"):
        bake_svg(svg, keyword=OB3_KEYWORD)
    with pytest.raises(BakingError, match="needs a verify"):
        bake_svg(svg, body='{"no": "id"}')
    with pytest.raises(BakingError, match="XML cannot carry"):
        bake_svg(svg, keyword=OB3_KEYWORD, body="bell \x07")
    assert unbake_svg(svg) is None and unbake(svg.encode()) is None


def test_bake_picks_the_format_and_the_place(png, svg):
    assert unbake(bake(png, URL)) == Baked("png", OB2_KEYWORD, URL)
    assert unbake(bake(svg.encode(), JWS)) == Baked("svg", OB2_KEYWORD, JWS, JWS)
    body = json.dumps(CREDENTIAL)
    baked = unbake(bake(svg.encode(), body, keyword=OB3_KEYWORD))
    assert baked is not None and json.loads(baked.content) == CREDENTIAL and baked.verify is None
    with pytest.raises(BakingError):
        bake(b"GIF89a....", URL)


def test_baked_files_written_to_disk_read_back(tmp_path: Path, png, svg):
    (tmp_path / "b.png").write_bytes(bake_png(png, JWS))
    (tmp_path / "b.svg").write_bytes(bake_svg(svg, verify=JWS))
    assert unbake_png((tmp_path / "b.png").read_bytes()) == JWS
    assert unbake_svg((tmp_path / "b.svg").read_text(encoding="utf-8")) == JWS
