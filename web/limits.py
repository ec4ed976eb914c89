"""Limits on what a request may cost: body size, body time, and how often the intake may be asked.

:class:`RequestLimits` wraps the whole app (ASGI). Before the app reads a byte of the body it
refuses a ``Content-Length`` over the path's cap (413) and a client over its rate limit for
upload URLs or submissions (429 with ``Retry-After``); while the app reads, it stops a body
that grows past the cap (413), sends nothing for ``CREDFLOW_UPLOAD_IDLE_SECONDS`` or takes
longer than ``CREDFLOW_UPLOAD_BODY_SECONDS`` (408). The app then sees the client disconnect,
so what it was writing is thrown away, and the client gets the refusal. It also puts the
app's :class:`~web.ratelimit.RateLimiter` and the intake's rules in each request's
state, for the limits that need the body (per applicant).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credflow.formatting import human_size
from credflow.settings import Settings
from web.ratelimit import (
    STATE_KEY,
    RateLimited,
    RateLimiter,
    Rule,
    client_address,
    limiter_of,
    too_many,
)

#: The intake's form fields around its files (name, answers, references) may add this much to a request.
FORM_ALLOWANCE = 1 << 20
#: Bodies of everything outside /api: the review forms (1 MiB themselves), sign-in and the ops webhook.
PAGE_BODY_MAX = 2 << 20
RULES_KEY = "credflow_intake_rules"
STORE_PREFIX = "/api/store/"
#: tus PATCH bodies (web/api/resumable.py): each at most a chunk, all of one upload within its declared length.
TUS_PREFIX = "/uploads/tus/"
_SUBMISSION = re.compile(r"/api/submissions(?:/[^/]+/resubmit)?/?")
_GRANT = re.compile(r"/api/uploads/?")
#: A draft's file sent through its page without JavaScript (its route caps it at the requirement's limit).
_DRAFT_FILE = re.compile(r"/me/credentials/[^/]+/draft/files/[^/]+/?")


@dataclass(frozen=True)
class IntakeRules:
    """The intake's rate limits: upload URLs and submissions, per client address and per applicant."""

    grants_client: Rule
    grants_applicant: Rule
    submissions_client: Rule
    submissions_applicant: Rule

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeRules:
        """The rules of ``CREDFLOW_RATE_LIMIT_CLIENT`` and ``CREDFLOW_RATE_LIMIT_APPLICANT``."""
        client, applicant = settings.rate_limit_client, settings.rate_limit_applicant
        return cls(
            grants_client=Rule.of("upload-grant:client", client, what="upload URLs", per="from this address"),
            grants_applicant=Rule.of("upload-grant:applicant", applicant, what="upload URLs", per="for this applicant"),
            submissions_client=Rule.of("submission:client", client, what="submissions", per="from this address"),
            submissions_applicant=Rule.of(
                "submission:applicant", applicant, what="submissions", per="for this applicant"
            ),
        )


def body_cap(settings: Settings, path: str) -> int:
    """The most bytes a request body to ``path`` may carry."""
    if path.startswith((STORE_PREFIX, TUS_PREFIX)):
        # The upload URL's own, signed cap (tus: the declared length) is checked by its route.
        return settings.ingest_max_bytes
    if path.startswith("/api/") or _DRAFT_FILE.fullmatch(path):
        return settings.ingest_max_bytes + FORM_ALLOWANCE
    return PAGE_BODY_MAX


def _too_large(cap: int, size: int | None, path: str) -> str:
    said = f"the request body ({human_size(size)})" if size is not None else "the request body"
    if path.startswith((STORE_PREFIX, TUS_PREFIX)) or not path.startswith("/api/"):
        return f"{said} is over the {human_size(cap)} limit; nothing was kept"
    return (
        f"{said} is over the {human_size(cap - FORM_ALLOWANCE)} upload cap (CREDFLOW_INGEST_MAX_BYTES) plus "
        f"{human_size(FORM_ALLOWANCE)} of form fields; nothing was kept"
    )


class RequestLimits:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, *, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter
        self.rules = IntakeRules.from_settings(settings)

    def _client_rule(self, scope: Scope) -> Rule | None:
        if scope["method"] != "POST":
            return None
        path = scope["path"]
        if _GRANT.fullmatch(path):
            return self.rules.grants_client
        if _SUBMISSION.fullmatch(path):
            return self.rules.submissions_client
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[STATE_KEY] = self.limiter
        state[RULES_KEY] = self.rules
        path: str = scope["path"]
        cap = body_cap(self.settings, path)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _answer(send, path, 413, _too_large(cap, declared, path))
            return
        rule = self._client_rule(scope)
        if rule is not None:
            try:
                self.limiter.hit((rule, client_address(scope)))
            except RateLimited as refusal:
                await _answer(send, path, 429, refusal.message, {"Retry-After": str(refusal.retry_after)})
                return
        await _Body(self, scope, cap).run(receive, send)


class _Body:
    """One request's body under the cap and the timeouts."""

    def __init__(self, limits: RequestLimits, scope: Scope, cap: int) -> None:
        self.limits = limits
        self.scope = scope
        self.path: str = scope["path"]
        self.cap = cap
        self.idle = limits.settings.upload_idle_seconds
        self.deadline = anyio.current_time() + limits.settings.upload_body_seconds
        self.received = 0
        self.done = False
        self.refusal: tuple[int, str] | None = None
        self.started = False

    async def run(self, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            if self.refusal is not None:
                return {"type": "http.disconnect"}
            if self.done:
                return await receive()  # e.g. a streaming response listening for the client to leave
            return await self._next(receive)

        async def guarded_send(message: Message) -> None:
            if self.refusal is not None and not self.started:
                return  # the app's answer to the "disconnect"; the client gets the refusal instead
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.limits.app(self.scope, limited_receive, guarded_send)
        except Exception:
            if self.refusal is None or self.started:
                raise
        if self.refusal is not None and not self.started:
            status, text = self.refusal
            await _answer(send, self.path, status, text)

    async def _next(self, receive: Receive) -> Message:
        wait = min(self.idle, self.deadline - anyio.current_time())
        message: Message | None = None
        if wait > 0:
            with anyio.move_on_after(wait):
                message = await receive()
        if message is None:
            total = self.limits.settings.upload_body_seconds
            if wait < self.idle:
                text = f"the request body took longer than {total} seconds to arrive"
            else:
                text = f"no data arrived for {self.idle} second{'s' if self.idle != 1 else ''}"
            self.refusal = (408, f"{text}; nothing was kept: send it again")
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.cap:
                self.refusal = (413, _too_large(self.cap, None, self.path))
                return {"type": "http.disconnect"}
            if not message.get("more_body", False):
                self.done = True
        return message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isdigit():
                return None  # the server refuses it (400) before the app sees it
            # Thousands of digits are not a number to convert: more than any cap, that is all they say.
            return int(text) if len(text) <= 20 else 10**20
    return None


async def _answer(send: Send, path: str, status: int, text: str, headers: dict[str, str] | None = None) -> None:
    if path.startswith("/api/"):
        body, media = json.dumps({"detail": text}).encode(), b"application/json"
    else:
        body, media = text.encode(), b"text/plain; charset=utf-8"
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", media),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is never read: the connection cannot be reused
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def intake_rules_of(request: Request) -> IntakeRules:
    """The intake's rules that :class:`RequestLimits` put in the request's state.

    Raises:
        RuntimeError: the app was built without the middleware.
    """
    found: Any = request.scope.get("state", {}).get(RULES_KEY)
    if not isinstance(found, IntakeRules):
        raise RuntimeError("no intake rate limits in the request: build the app with create_app (RequestLimits)")
    return found


_APPLICANT_ROUTES = frozenset({"/submissions", "/submissions/{submission_id}/resubmit"})


async def limit_submissions_per_applicant(request: Request) -> None:
    """A dependency of the intake app: a submission spends its applicant's budget (429 when spent out).

    A first submission counts against its form's email, a resubmission against the chain it
    continues (the applicant's, whoever sends it). Other routes pass.

    Raises:
        HTTPException: 429 with ``Retry-After``.
    """
    route = request.scope.get("route")
    if request.method != "POST" or getattr(route, "path", None) not in _APPLICANT_ROUTES:
        return
    chain = request.path_params.get("submission_id")
    if chain is not None:
        key = f"chain:{chain}"
    else:
        form = await request.form()  # already parsed for the route: this reads no byte more
        key = f"email:{str(form.get('email') or '').strip().lower()}"
    rules = intake_rules_of(request)
    try:
        limiter_of(request).hit((rules.submissions_applicant, key))
    except RateLimited as refusal:
        raise too_many(refusal) from None


#: ``FastAPI(dependencies=[submission_limits])`` on the intake app.
submission_limits = Depends(limit_submissions_per_applicant)
