"""The mailer interface and the message record it sends."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

from credflow.errors import PermanentError, TransientError

#: Characters that reorder displayed text; in a From or Subject they disguise what a message is.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_HEADER_CHARS = 300


def header_text(value: str, *, limit: int = MAX_HEADER_CHARS) -> str:
    """Make text fit for an email header: one line, no control or text-direction characters.

    Line breaks and other whitespace become single spaces (a CR/LF can neither inject a header
    nor make the email library refuse the message); control, format-direction and lone surrogate
    characters are dropped; the result is cut to ``limit`` characters.

    Args:
        value: Text that may come from a user (a name, a title).
        limit: Most characters to keep.

    Returns:
        The cleaned text, possibly empty.
    """
    kept = []
    for ch in value:
        category = unicodedata.category(ch)
        if ch.isspace() or category in {"Zl", "Zp"}:
            kept.append(" ")
        elif category not in {"Cc", "Cs"} and ch not in _BIDI_CONTROLS:
            kept.append(ch)
    return " ".join("".join(kept).split())[:limit].rstrip()


def usable_address(address: str) -> bool:
    """Whether ``address`` can go into a To header as it is (one ``@``, no spaces or control characters)."""
    return (
        address.count("@") == 1
        and len(address) <= 320
        and not any(ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in address)
    )


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Message:
    """A rendered email, ready to send. ``idempotency_key`` identifies it for ever.

    ``reply_to`` is a bare address that :func:`usable_address` accepts; a mailer sets it as the
    Reply-To header, so an answer reaches a person and not the no-reply sender.
    """

    idempotency_key: str
    kind: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default=())
    reply_to: str | None = None  # where answers go (the program's support address); None: no Reply-To


@dataclass(frozen=True)
class SendReceipt:
    """What the backend reports after accepting a message."""

    provider_id: str
    backend: str


class TransientMailError(TransientError):
    """The mail service failed in a way worth retrying (429, 5xx, network)."""


class PermanentMailError(PermanentError):
    """The mail service refused the message (4xx other than 429); retrying will not help."""


class Mailer(Protocol):
    """Sends one rendered message; raises TransientMailError or PermanentMailError."""

    def send(self, message: Message) -> SendReceipt:
        """Hand ``message`` to the mail service and return its receipt."""
        ...
