"""The page-hardening headers every response carries, streamed ones included."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeaders:
    """Adds the page-hardening headers to every response, streamed ones included.

    The token is in the URL, so nothing may be cached or sent on as a referrer; the pages
    may not be framed, and the policy allows only this origin's media and the page's own
    (hashed) stylesheet: no scripts at all.
    """

    def __init__(
        self, app: ASGIApp, *, content_security_policy: str, policies: Mapping[str, str] | None = None
    ) -> None:
        """``policies``: another CSP for the paths under a prefix (the API docs run this origin's scripts)."""
        self.app = app
        self.policies = dict(policies or {})
        self.headers = {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Content-Security-Policy": content_security_policy,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                path = scope["path"]
                for prefix, policy in self.policies.items():
                    if path == prefix or path.startswith(f"{prefix}/"):
                        headers["Content-Security-Policy"] = policy
            await send(message)

        await self.app(scope, receive, send_hardened)
