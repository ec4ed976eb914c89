"""The mailer interface and the message record it sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from credflow.errors import PermanentError, TransientError


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Message:
    """A rendered email, ready to send. ``idempotency_key`` identifies it for ever."""

    idempotency_key: str
    kind: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default=())


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
