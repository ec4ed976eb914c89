"""A mailer that writes each message as an .eml file plus JSON metadata to a folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from credflow.mail.base import Message, SendReceipt

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SLUG_LENGTH = 60


def outbox_name(idempotency_key: str) -> str:
    """Return the file stem used for ``idempotency_key``: a readable slug plus a short hash.

    The hash keeps two keys that slug alike (``a/b`` and ``a:b``) apart.

    Args:
        idempotency_key: The message's idempotency key (may hold ``/`` and ``:``).

    Returns:
        A name of ``[A-Za-z0-9._-]`` characters, stable for a given key.
    """
    slug = _UNSAFE.sub("-", idempotency_key).strip("-.")[:_SLUG_LENGTH].rstrip("-.") or "message"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


def _write_atomically(path: Path, data: bytes) -> None:
    # Readers (list_messages, a person tailing the folder) never see half a file.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class OutboxMailer:
    """Delivers mail to ``folder``: ``<name>.eml`` and ``<name>.json`` per message."""

    backend = "outbox"

    def __init__(self, folder: Path, *, sender: str) -> None:
        """Create a mailer writing to ``folder`` (created on the first send).

        Args:
            folder: Outbox folder.
            sender: The From header, ``address`` or ``Name <address>``.

        Raises:
            ValueError: ``sender`` has no email address.
        """
        if "@" not in parseaddr(sender)[1]:
            raise ValueError(f"sender {sender!r} has no email address")
        self._folder = Path(folder)
        self._sender = sender

    @property
    def folder(self) -> Path:
        """The outbox folder."""
        return self._folder

    def _message_id(self, idempotency_key: str) -> str:
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "credflow.local"
        return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"

    def _build(self, message: Message, sent_at: datetime) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = formataddr((message.to_name, message.to_email))
        if message.reply_to:
            email["Reply-To"] = message.reply_to
        email["Subject"] = message.subject
        email["Date"] = format_datetime(sent_at)
        email["Message-ID"] = self._message_id(message.idempotency_key)
        email["X-Credflow-Idempotency-Key"] = message.idempotency_key
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            if not subtype:
                maintype, subtype = "application", "octet-stream"
            email.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        return email

    def send(self, message: Message) -> SendReceipt:
        """Write ``message`` to the outbox; a key already written is not written again.

        Args:
            message: The rendered message.

        Returns:
            A receipt whose provider id is the file stem.
        """
        name = outbox_name(message.idempotency_key)
        eml_path = self._folder / f"{name}.eml"
        meta_path = self._folder / f"{name}.json"
        if eml_path.is_file() and meta_path.is_file():
            return SendReceipt(provider_id=name, backend=self.backend)
        self._folder.mkdir(parents=True, exist_ok=True)
        sent_at = datetime.now(UTC)
        email = self._build(message, sent_at)
        metadata: dict[str, Any] = {
            "id": name,
            "idempotency_key": message.idempotency_key,
            "kind": message.kind,
            "to": message.to_email,
            "to_name": message.to_name,
            "reply_to": message.reply_to,
            "subject": message.subject,
            "sent_at": sent_at.isoformat(),
            "message_id": email["Message-ID"],
            "eml": eml_path.name,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
                for a in message.attachments
            ],
        }
        # The .json goes last: its presence is what marks the message as sent.
        _write_atomically(eml_path, email.as_bytes(policy=policy.SMTP))
        _write_atomically(meta_path, json.dumps(metadata, indent=2, ensure_ascii=False).encode())
        return SendReceipt(provider_id=name, backend=self.backend)

    def list_messages(self) -> list[dict[str, Any]]:
        """Return every message's metadata, oldest first.

        Returns:
            The parsed ``.json`` files, sorted by ``sent_at`` then name.
        """
        if not self._folder.is_dir():
            return []
        messages = []
        for path in self._folder.glob("*.json"):
            # A file deleted between glob and read is simply no longer in the outbox.
            with contextlib.suppress(FileNotFoundError):
                messages.append(json.loads(path.read_text(encoding="utf-8")))
        return sorted(messages, key=lambda item: (str(item.get("sent_at", "")), str(item.get("id", ""))))
