"""The access log without secrets: review and sign-in link tokens and signed-URL signatures are cut short.

A review link's token *is* the reviewer's access, and a store URL's signature is the right to read or write
a file; logged in full, anyone who reads the log (a log shipper, a support ticket) holds them. The log keeps
the first six characters, enough to tell two requests apart.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

KEEP = 6
# Path segments that are secrets themselves: /review/<token>/..., /sign-in/<token>.
_TOKEN_SEGMENT = re.compile(r"(/(?:review|sign-in)/)([^/?#]+)", re.IGNORECASE)
# Query parameters that are secrets: store URL signatures, upload grants, tokens of any kind.
SECRET_PARAMETERS = frozenset({"signature", "sig", "token", "grant", "access_token", "code", "key", "csrf"})


def _short(secret: str) -> str:
    return secret[:KEEP] + "…" if len(secret) > KEEP else secret


def redact(path: str) -> str:
    """``path`` (with its query) with every token segment and secret query value cut to six characters."""
    path, question, query = path.partition("?")
    path = _TOKEN_SEGMENT.sub(lambda m: m.group(1) + _short(m.group(2)), path)
    if query:
        parts = []
        for part in query.split("&"):
            name, equals, value = part.partition("=")
            secret = unquote_plus(name).lower() in SECRET_PARAMETERS
            parts.append(name + equals + (_short(value) if secret else value))
        query = "&".join(parts)
    return path + question + query


class RedactTokens(logging.Filter):
    """A filter for ``uvicorn.access``: its records carry ``(client, method, path, http version, status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path of an access record; never drops one."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`RedactTokens` on its access logger (``log_config=``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_tokens"]
    return config
