"""A mailer that sends through SendGrid's v3 Mail Send API."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    ReplyTo,
    To,
)

from credflow.mail.base import Message, PermanentMailError, SendReceipt, TransientMailError

IDEMPOTENCY_HEADER = "X-Credflow-Idempotency-Key"
IDEMPOTENCY_ARG = "idempotency_key"

_BACKOFF_BASE = 1.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP-date.

    Args:
        value: The header's value, or None when absent.
        now: Current time for HTTP-dates; defaults to now in UTC.

    Returns:
        Seconds to wait (never negative), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: Any, name: str) -> str | None:
    # urllib hands back an HTTPMessage: case-insensitive and Mapping-like, but not a Mapping.
    getter = getattr(headers, "get", None)
    value = getter(name) if callable(getter) else None
    return None if value is None else str(value)


def _error_text(body: Any) -> str:
    """Pull SendGrid's error messages out of a response body."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body or "")
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.strip()[:300] or "no details"
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        messages = [str(error.get("message")) for error in errors if isinstance(error, dict) and error.get("message")]
        if messages:
            return "; ".join(messages)
    return raw.strip()[:300] or "no details"


class SendGridMailer:
    """Sends messages with SendGrid, retrying 429/5xx and network errors inside ``send``."""

    backend = "sendgrid"

    def __init__(
        self,
        *,
        api_key: str,
        sender: str,
        host: str = "https://api.sendgrid.com",
        max_attempts: int = 4,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
    ) -> None:
        """Create a mailer; nothing is contacted until the first send.

        Args:
            api_key: SendGrid API key (sent as a Bearer token).
            sender: The From address, ``address`` or ``Name <address>`` (a verified Sender Identity).
            host: API base URL; tests point it at a local fake.
            max_attempts: Tries per ``send`` before giving up with TransientMailError.
            max_retry_after: Longest wait between tries inside ``send``, in seconds. A longer
                Retry-After ends the tries at once and is handed to the caller as ``retry_after``.
            sleep: Waits between tries; tests pass a recorder.
            timeout: Seconds allowed for each HTTP request.

        Raises:
            ValueError: an argument is out of range.
        """
        if not api_key:
            raise ValueError("SendGridMailer needs an API key")
        if "@" not in sender:
            raise ValueError(f"sender {sender!r} has no email address")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self._sender = sender
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._timeout = timeout
        # Jitter only spreads retries apart; it needs no cryptographic quality.
        self._random = random.Random()  # noqa: S311

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the v3 ``/mail/send`` JSON body for ``message``.

        Args:
            message: The rendered message.

        Returns:
            The request body as a dict.
        """
        mail = Mail(
            from_email=From(self._sender),
            to_emails=To(message.to_email, message.to_name or None),
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html,
        )
        if message.reply_to:
            mail.reply_to = ReplyTo(message.reply_to)
        for attachment in message.attachments:
            mail.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(attachment.data).decode("ascii")),
                    FileName(attachment.filename),
                    FileType(attachment.content_type),
                    Disposition("attachment"),
                )
            )
        mail.custom_arg = CustomArg(IDEMPOTENCY_ARG, message.idempotency_key)
        mail.header = Header(IDEMPOTENCY_HEADER, message.idempotency_key)
        body: dict[str, Any] = mail.get()
        return body

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_retry_after, _BACKOFF_BASE * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def send(self, message: Message) -> SendReceipt:
        """Send ``message``, retrying throttling, server errors and network errors.

        Args:
            message: The rendered message.

        Returns:
            A receipt whose provider id is SendGrid's ``X-Message-Id``.

        Raises:
            TransientMailError: every try hit 429, 5xx or a network error, or SendGrid asked
                for a longer wait than ``max_retry_after``; ``retry_after`` says when to retry.
            PermanentMailError: SendGrid refused the message (any other 4xx).
        """
        body = self.payload(message)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.client.mail.send.post(request_body=body, timeout=self._timeout)
            except HTTPError as exc:
                status = int(exc.status_code)
                if status != 429 and status < 500:
                    raise PermanentMailError(
                        f"SendGrid refused the message ({status}): {_error_text(exc.body)}"
                    ) from None
                problem = f"SendGrid answered {status}: {_error_text(exc.body)}"
                advertised = parse_retry_after(_header(exc.headers, "Retry-After"))
            except (URLError, HTTPException, OSError) as exc:
                # URLError covers refused connections; timeouts arrive as TimeoutError (an OSError).
                problem = f"SendGrid unreachable: {getattr(exc, 'reason', None) or exc}"
                advertised = None
            else:
                message_id = _header(response.headers, "X-Message-Id")
                return SendReceipt(provider_id=message_id or message.idempotency_key, backend=self.backend)

            delay = advertised if advertised is not None else self._backoff(attempt)
            if advertised is not None and advertised > self._max_retry_after:
                raise TransientMailError(f"{problem}; asked to wait {advertised:.0f}s", retry_after=advertised)
            if attempt >= self._max_attempts:
                raise TransientMailError(f"{problem} (gave up after {attempt} tries)", retry_after=delay)
            self._sleep(delay)
