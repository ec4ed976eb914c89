"""Realistic sample evidence for the demo: answers, PDF and Word documents, photos and videos."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

SENTENCES = (
    "During the session participants first observed the phenomenon and recorded what they noticed and wondered.",
    "I paused the modelled lesson to name the teacher move, so participants could see why it mattered for students.",
    "Several teachers asked how to handle ideas that were scientifically inaccurate; we added them to the parking lot.",
    "We returned to the Driving Question Board and sorted the questions into the investigations they suggested.",
    "One group connected the phenomenon to their own classrooms and proposed a local example for their students.",
    "Next time I would give more time to the initial models, because that is where the richest disagreements appeared.",
    "The strategy cards helped students compare approaches before choosing one for their own learning goal.",
    "I noticed that students who explained their choice aloud were more likely to switch strategies when one failed.",
)


def words(count: int, *, seed: int = 0) -> str:
    """Plausible prose of exactly ``count`` words."""
    out: list[str] = []
    index = seed
    while len(out) < count:
        out.extend(SENTENCES[index % len(SENTENCES)].split())
        index += 1
    return " ".join(out[:count])


def pdf(path: Path, title: str) -> Path:
    """A small, valid one-page PDF with a title line."""
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(body))
    return path


def docx(path: Path, paragraphs: list[str]) -> Path:
    """A minimal but valid Word document."""
    runs = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{p.replace("&", "&amp;").replace("<", "&lt;")}</w:t></w:r></w:p>'
        for p in paragraphs
    )
    ns = "http://schemas.openxmlformats.org"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" '
            f'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
            f'Target="word/document.xml"/></Relationships>',
        )
        zf.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{ns}/wordprocessingml/2006/main">'
            f"<w:body>{runs}</w:body></w:document>",
        )
    return path


def photo(path: Path, *, ffmpeg: str = "ffmpeg", pattern: str = "testsrc2", size: str = "800x600") -> Path:
    """A still image (JPEG or PNG by the path's suffix) drawn by ffmpeg."""
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"{pattern}=size={size}", "-frames:v", "1", str(path)],
        check=True,
    )
    return path
