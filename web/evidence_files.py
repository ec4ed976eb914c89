"""Evidence files as the pages serve them: the rows a page lists, downloads as attachments, videos by range.

Shared by the review page (``/review/{token}``) and the calibration form (``/reviewer/calibration``),
so a gold standard's files are offered exactly as a submission's are. Every response also carries
``X-Content-Type-Options: nosniff`` (web/headers.py), so a download is never rendered as a page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from starlette.responses import StreamingResponse

from credflow.errors import NotFoundError
from credflow.formatting import human_size
from credflow.review.stage import EvidenceFile
from credflow.storage.base import ObjectStore
from web.ranges import RangeNotSatisfiable, parse_range


@dataclass(frozen=True)
class FileRow:
    """One evidence file as linked or played on the page."""

    name: str
    requirement: str
    size: str
    download_url: str
    video_url: str | None
    poster_url: str | None


def content_disposition(name: str) -> str:
    """``attachment`` with the display name: RFC 5987 UTF-8 form plus a plain ASCII fallback."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_rows(files: Iterable[EvidenceFile], base: str) -> tuple[list[FileRow], list[FileRow]]:
    """The page's videos (playable review versions) and downloads (documents, images, untranscoded videos).

    Links go under ``base``: ``{base}/files/{id}``, ``{base}/video/{id}`` and ``{base}/poster/{id}``.
    """
    videos: list[FileRow] = []
    downloads: list[FileRow] = []
    for item in files:
        playable = item.kind == "video" and item.video_key is not None
        row = FileRow(
            name=item.name,
            requirement=item.requirement_title,
            size=human_size(item.size),
            download_url=f"{base}/files/{item.id}",
            video_url=f"{base}/video/{item.id}" if playable else None,
            poster_url=f"{base}/poster/{item.id}" if playable and item.poster_key else None,
        )
        (videos if playable else downloads).append(row)
    return videos, downloads


def download(store: ObjectStore, key: str, name: str) -> Response | None:
    """The stored object as an attachment named ``name``, streamed; None when the bytes are gone."""
    try:
        size = store.size(key)
    except NotFoundError:
        return None
    return StreamingResponse(
        store.stream(key),
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition(name), "Content-Length": str(size)},
    )


def ranged(store: ObjectStore, request: Request, key: str, media_type: str) -> Response | None:
    """The object whole (200) or the one byte range asked for (206), streamed in chunks; None when it is gone."""
    try:
        size = store.size(key)
    except NotFoundError:
        return None
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    body: Iterable[bytes]
    if wanted is None:
        body, status = store.stream(key), 200
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(size)}
    else:
        body, status = store.stream(key, start=wanted.start, end=wanted.end), 206
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Length": str(wanted.length),
            "Content-Range": wanted.content_range,
        }
    return StreamingResponse(body, status_code=status, media_type=media_type, headers=headers)
