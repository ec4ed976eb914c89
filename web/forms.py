"""Reading the pages' small urlencoded forms: streamed within a byte cap and a field cap."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request


async def read_urlencoded(request: Request, *, max_bytes: int, max_fields: int) -> dict[str, str] | None:
    """The request's urlencoded form, or None when it is not one (another type, over a cap, malformed)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields))
    except ValueError:
        return None
