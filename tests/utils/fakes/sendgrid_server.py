"""A local HTTP fake of SendGrid's v3 ``POST /v3/mail/send`` endpoint."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DEFAULT_API_KEY = "SG.fake-key.for-tests"

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

# SendGrid's own wording, so tests see what production would show.
BAD_AUTH = "The provided authorization grant is invalid, expired, or revoked"
NO_PERSONALIZATIONS = "The personalizations field is required and must have at least one personalization."
NO_TO = (
    "The to array is required for all personalization objects, "
    "and must have at least one email object with a valid email address."
)
BAD_ADDRESS = "Does not contain a valid address."
NO_FROM = (
    "The from object must be provided for every email send. It is an object that requires the email "
    "parameter, but may also contain a name parameter."
)
BAD_FROM = "The from email does not contain a valid address."
NO_SUBJECT = (
    "The subject is required. You can get around this requirement if you use a template with a subject "
    "defined or if every personalization has a subject defined."
)
NO_CONTENT = (
    "Unless a valid template_id is provided, the content parameter is required. "
    "There must be at least one defined content block."
)
CONTENT_ORDER = "If present, text/plain content must be first, followed by text/html, followed by any other content."
EMPTY_CONTENT = "The content value must be a string at least one character in length."
NO_ATTACHMENT_CONTENT = "The attachment content is required."
NOT_BASE64 = "The attachment content must be base64 encoded."
NO_FILENAME = "The attachment filename parameter is required."
UNVERIFIED_SENDER = (
    "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is "
    "resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the "
    "Sender Identity requirements"
)


@dataclass(frozen=True)
class AcceptedMessage:
    """One message the fake accepted: its id, the JSON body and the request headers."""

    message_id: str
    payload: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: str | None
    message: str


@dataclass
class _State:
    api_key: str
    verified_senders: frozenset[str] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[AcceptedMessage] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    requests: int = 0


def _errors(*items: tuple[str, str | None]) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": where, "help": None} for message, where in items]}


def _validate(payload: Any) -> tuple[str, str | None] | None:
    """Return SendGrid's first complaint about ``payload``, or None when it would be accepted."""
    if not isinstance(payload, dict):
        return "Bad Request", None
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return NO_PERSONALIZATIONS, "personalizations"
    for p_index, personalization in enumerate(personalizations):
        recipients = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(recipients, list) or not recipients:
            return NO_TO, f"personalizations.{p_index}.to"
        for r_index, recipient in enumerate(recipients):
            email = recipient.get("email") if isinstance(recipient, dict) else None
            if not isinstance(email, str) or not _ADDRESS.match(email):
                return BAD_ADDRESS, f"personalizations.{p_index}.to.{r_index}.email"
    sender = payload.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        return NO_FROM, "from.email"
    if not isinstance(sender["email"], str) or not _ADDRESS.match(sender["email"]):
        return BAD_FROM, "from.email"
    subject = payload.get("subject")
    if not (isinstance(subject, str) and subject) and not all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    ):
        return NO_SUBJECT, "subject"
    content = payload.get("content")
    if not isinstance(content, list) or not content:
        return NO_CONTENT, "content"
    types = []
    for c_index, block in enumerate(content):
        value = block.get("value") if isinstance(block, dict) else None
        if not isinstance(value, str) or not value:
            return EMPTY_CONTENT, f"content.{c_index}.value"
        types.append(block.get("type"))
    expected = [t for t in ("text/plain", "text/html") if t in types]
    if types[: len(expected)] != expected:
        return CONTENT_ORDER, "content"
    for a_index, attachment in enumerate(payload.get("attachments") or []):
        data = attachment.get("content") if isinstance(attachment, dict) else None
        if not isinstance(data, str) or not data:
            return NO_ATTACHMENT_CONTENT, f"attachments.{a_index}.content"
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return NOT_BASE64, f"attachments.{a_index}.content"
        if not attachment.get("filename"):
            return NO_FILENAME, f"attachments.{a_index}.filename"
    return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSendGrid/1.0"
    state: _State  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; pytest output is for failures."""

    def _reply(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """Handle ``POST /v3/mail/send`` the way SendGrid does for the basics."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v3/mail/send":
            self._reply(404, _errors(("Not Found", None)))
            return
        state = self.state
        with state.lock:
            state.requests += 1
            failure = state.failures[0] if state.failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    state.failures.pop(0)
        if failure is not None:
            headers = {} if failure.retry_after is None else {"Retry-After": failure.retry_after}
            self._reply(failure.status, _errors((failure.message, None)), headers)
            return
        if self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._reply(401, _errors((BAD_AUTH, None)))
            return
        try:
            payload = json.loads(raw)
        except ValueError:
            self._reply(400, _errors(("Bad Request", None)))
            return
        problem = _validate(payload)
        if problem is not None:
            self._reply(400, _errors(problem))
            return
        if state.verified_senders is not None and payload["from"]["email"] not in state.verified_senders:
            self._reply(403, _errors((UNVERIFIED_SENDER, "from")))
            return
        message_id = secrets.token_urlsafe(16)[:22]
        with state.lock:
            state.messages.append(AcceptedMessage(message_id, payload, dict(self.headers.items())))
        self._reply(202, None, {"X-Message-Id": message_id})

    def do_GET(self) -> None:
        """Answer every other method with SendGrid's 404 shape."""
        self._reply(404, _errors(("Not Found", None)))


class FakeSendGrid:
    """SendGrid's Mail Send endpoint on 127.0.0.1 in a background thread.

    Use as a context manager: ``with FakeSendGrid() as fake: ... fake.url ...``.
    """

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, verified_senders: set[str] | None = None) -> None:
        """Prepare a fake accepting ``api_key``; the server starts on ``__enter__``.

        Args:
            api_key: The only key answered with anything but 401.
            verified_senders: When given, a from address outside it gets SendGrid's 403.
        """
        self.api_key = api_key
        self._state = _State(api_key, None if verified_senders is None else frozenset(verified_senders))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL to pass as the SendGrid host (``http://127.0.0.1:<port>``)."""
        if self._server is None:
            raise RuntimeError("FakeSendGrid is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def messages(self) -> list[AcceptedMessage]:
        """The messages accepted so far, oldest first."""
        with self._state.lock:
            return list(self._state.messages)

    @property
    def request_count(self) -> int:
        """How many requests reached the fake, accepted or not."""
        with self._state.lock:
            return self._state.requests

    def fail_next(
        self,
        *,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        message: str = "scripted failure",
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (after any failures already queued).

        Args:
            status: HTTP status to return, e.g. 429 or 503.
            times: How many requests fail.
            retry_after: ``Retry-After`` value: seconds, or a preformatted HTTP-date string.
            message: The error message in the JSON body.
        """
        value = None if retry_after is None else retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        with self._state.lock:
            self._state.failures.append(_Failure(status, times, value, message))

    def start(self) -> None:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sendgrid", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSendGrid:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
