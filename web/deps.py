"""What every page module shares: the services, the templates, the clock, and who a request is from.

Like the ``api/deps.py`` of fastapi's full-stack template: the page modules take one :class:`WebDeps`
(built once per app by :func:`web.app.create_app`) and ask it for the signed-in person
(:meth:`Accounts.current`) and the forms' double-submit tokens (:meth:`Accounts.form_token`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from credflow.accounts.rules import Identity, Role
from credflow.accounts.signin import resume
from credflow.keyring import Purpose
from credflow.services import Services
from web.templating import Pages

#: The hidden field of every signed-in (and sign-in) form.
FIELD = "csrf"


@dataclass(frozen=True)
class NavLink:
    """One entry of the site header's main navigation; ``section`` marks it as the current page."""

    href: str
    label: str
    section: str


def workspace_links(who: Identity | None) -> tuple[NavLink, ...]:
    """The workspaces the signed-in person's roles open, in the header's order (none when signed out)."""
    if who is None:
        return ()
    links = []
    if Role.REVIEWER in who.roles:
        links.append(NavLink("/reviewer", "Reviewing", "reviewer"))
    if Role.LEAD in who.roles:
        links.append(NavLink("/lead", "Lead", "lead"))
    if who.may_see_reports:
        links.append(NavLink("/admin", "Programs", "admin"))
    return tuple(links)


#: The program admin workspace's pages, in the order of its sub-navigation: (href, label, key).
ADMIN_PAGES = (
    ("/admin", "Programs", "home"),
    ("/admin/hours", "In-service hours", "hours"),
    ("/admin/cohorts", "Cohorts", "cohorts"),
    ("/admin/milestones", "Milestones", "milestones"),
    ("/reports/programs", "Program report", "report"),
)


def admin_subnav(current: str) -> list[dict[str, Any]]:
    """The workspace's sub-navigation (``_admin_subnav.html``) with ``current`` marked."""
    return [{"href": href, "label": label, "current": key == current} for href, label, key in ADMIN_PAGES]


class Accounts:
    """Who a request is from (the session cookie), the forms' tokens and the cookies' names and flags."""

    def __init__(self, services: Services, pages: Pages, clock: Callable[[], datetime]) -> None:
        self.services = services
        self.pages = pages
        self.clock = clock
        self.secure = services.settings.public_url.startswith("https://")
        prefix = "__Host-" if self.secure else ""
        self.session_cookie = f"{prefix}credflow_session"
        self.form_cookie = f"{prefix}credflow_form"
        self.keys = services.settings.keyring
        self._sessions = self.keys.serializer(Purpose.SESSION)

    # --- sessions -------------------------------------------------------------------------

    def secret(self, request: Request) -> str | None:
        """The session secret of the request's cookie, when its signature holds."""
        value = request.cookies.get(self.session_cookie)
        if not value or len(value) > 400:
            return None
        try:
            secret = self._sessions.loads(value)
        except BadSignature:
            return None
        return secret if isinstance(secret, str) else None

    def current(self, request: Request) -> Identity | None:
        """The signed-in person of a request, or None (no cookie, forged, revoked, idle or past its end)."""
        cached: tuple[Identity | None] | None = getattr(request.state, "credflow_identity", None)
        if cached is not None:
            return cached[0]
        secret = self.secret(request)
        who = resume(self.services, secret, now=self.clock()) if secret else None
        request.state.credflow_identity = (who,)
        return who

    def signed_in_line(self, request: Request) -> str | None:
        """ "Signed in as …" for pages reached without signing in (the review page), or None."""
        who = self.current(request)
        if who is None:
            return None
        kind = "lead reviewer" if Role.LEAD in who.roles else "reviewer" if Role.REVIEWER in who.roles else None
        return f"Signed in as {who.email}" + (f" ({kind})" if kind else "")

    def set_session(self, response: Response, secret: str) -> None:
        response.set_cookie(
            self.session_cookie,
            str(self._sessions.dumps(secret)),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(self.session_cookie, path="/", httponly=True, samesite="lax", secure=self.secure)

    # --- forms ----------------------------------------------------------------------------

    def _form_mac(self, binding: str, nonce: str) -> str:
        return self.keys.mac(Purpose.CSRF, f"{binding}\n{nonce}".encode())

    def form_token(self, request: Request, binding: str) -> tuple[str, str | None]:
        """The hidden field's value for a form bound to ``binding``, and a new cookie value when one is needed."""
        nonce = request.cookies.get(self.form_cookie)
        fresh = None
        if not nonce or len(nonce) > 100:
            nonce = fresh = secrets.token_urlsafe(16)
        return self._form_mac(binding, nonce), fresh

    def form_ok(self, request: Request, form: dict[str, str], binding: str) -> bool:
        """Whether a post carries the cookie and a field signed for that cookie and ``binding``."""
        nonce = request.cookies.get(self.form_cookie)
        field = form.get(FIELD)
        if not nonce or not field or len(field) > 200:
            return False
        return self.keys.verify_mac(Purpose.CSRF, f"{binding}\n{nonce}".encode(), field)

    def render(
        self, request: Request, template: str, *, binding: str | None = None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page; with ``binding``, its forms get a token (and the browser the cookie it pairs with)."""
        token, fresh = self.form_token(request, binding) if binding is not None else ("", None)
        context.setdefault("workspace_links", workspace_links(self.current(request)))
        response = self.pages.render(template, status=status, csrf=token, **context)
        if fresh is not None:
            response.set_cookie(self.form_cookie, fresh, path="/", httponly=True, samesite="strict", secure=self.secure)
        return response


def sign_in_redirect(request: Request) -> RedirectResponse:
    """Send a signed-out visitor to the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?{urlencode({'next': target})}", status_code=303)


@dataclass(frozen=True)
class WebDeps:
    """The shared dependencies of the page modules, one set per app."""

    services: Services
    pages: Pages
    clock: Callable[[], datetime]
    accounts: Accounts

    @classmethod
    def build(cls, services: Services, *, clock: Callable[[], datetime]) -> WebDeps:
        """The templates, and who-is-signed-in on this app's session cookie, for ``services``."""
        pages = Pages()
        return cls(services=services, pages=pages, clock=clock, accounts=Accounts(services, pages, clock))
