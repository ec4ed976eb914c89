"""Helpers for resumable-upload tests: video-looking bytes and files, and the tus protocol's requests."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

#: A video requirement of the catalog (MP4, MOV, M4V, WEBM or MKV, at most 4 GiB).
VIDEO_CREDENTIAL = "openscied-facilitating-discussions"
VIDEO_REQUIREMENT = "discussion_video"
TUS = {"Tus-Resumable": "1.0.0"}


def mp4_head() -> bytes:
    """An ISO-BMFF ``ftyp`` box (brand isom) and the header of an ``mdat`` box running to the end of the file."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    return ftyp + struct.pack(">I", 0) + b"mdat"  # size 0: the box runs to the end of the file


def mp4_bytes(size: int, *, seed: int = 0) -> bytes:
    """``size`` bytes that sniff as an MP4 video (random after the header, different per ``seed``)."""
    head = mp4_head()
    body = bytes((i * 31 + seed) % 251 for i in range(4096)) or b"\0"
    repeated = (body * (size // len(body) + 1))[: size - len(head)]
    return head + repeated


def sparse_mp4(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that sniffs as an MP4 video, made at once (a sparse file: zeros after the header)."""
    with path.open("wb") as out:
        out.write(mp4_head())
        out.truncate(size)
    return path


def random_mp4(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that sniffs as an MP4 video, random after the header (nothing compresses it)."""
    with path.open("wb") as out:
        out.write(mp4_head())
        left = size - len(mp4_head())
        while left > 0:
            chunk = os.urandom(min(left, 8 << 20))
            out.write(chunk)
            left -= len(chunk)
    return path


def tus_metadata(
    filename: str,
    *,
    filetype: str = "video/mp4",
    credential: str = VIDEO_CREDENTIAL,
    requirement: str = VIDEO_REQUIREMENT,
) -> str:
    """The ``Upload-Metadata`` header tus-js-client sends for one file."""
    fields = {"filename": filename, "filetype": filetype, "credential": credential, "requirement": requirement}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


def tus_create(client: Any, size: int, filename: str = "discussion.mp4", **metadata: str) -> httpx.Response:
    """``POST /uploads/tus/``: create an upload of ``size`` bytes."""
    headers = {**TUS, "Upload-Length": str(size), "Upload-Metadata": tus_metadata(filename, **metadata)}
    response: httpx.Response = client.post("/uploads/tus/", headers=headers)
    return response


def tus_patch(client: Any, location: str, offset: int, data: bytes) -> httpx.Response:
    """``PATCH`` ``data`` at ``offset`` of the upload at ``location``."""
    headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
    response: httpx.Response = client.patch(location, content=data, headers=headers)
    return response


VENDOR_TUS = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "tus.min.js"


def install_web_assets() -> Path:
    """tus-js-client in web/static/vendor (``make assets``: npm ci from web/assets' committed lock) on first use."""
    import subprocess

    from tests.utils.locks import installing

    root = VENDOR_TUS.parents[3]
    with installing(root / "web" / "assets"):  # another test process may be installing them
        if not VENDOR_TUS.exists():
            proc = subprocess.run(
                ["make", "assets"], cwd=root, capture_output=True, text=True, timeout=600, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(f"make assets failed:\n{proc.stdout}\n{proc.stderr}")
    return VENDOR_TUS


@dataclass
class Exchange:
    """One tus request the server received: its method, upload id, declared offset and body bytes."""

    method: str
    uid: str
    offset: int | None
    received: int = 0


class TusTraffic:
    """ASGI wrapper recording the tus requests an app receives, and slowing their bodies to ``bytes_per_second``.

    Over loopback a browser sends hundreds of megabytes a second; the slower pace leaves a test
    the time to cut the connection mid-upload, as a phone's network would.
    """

    def __init__(self, app: Any, *, bytes_per_second: float) -> None:
        self.app = app
        self.rate = bytes_per_second
        self.exchanges: list[Exchange] = []

    def patched(self, uid: str | None = None) -> int:
        """Body bytes received by PATCH requests (of one upload, or all)."""
        return sum(e.received for e in self.exchanges if e.method == "PATCH" and uid in (None, e.uid))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/uploads/tus/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        offset = headers.get("upload-offset")
        exchange = Exchange(scope["method"], path.rsplit("/", 1)[1], int(offset) if offset else None)
        self.exchanges.append(exchange)

        async def paced_receive() -> Any:
            message = await receive()
            body = message.get("body", b"")
            if body:
                exchange.received += len(body)
                await asyncio.sleep(len(body) / self.rate)
            return message

        await self.app(scope, paced_receive, send)
