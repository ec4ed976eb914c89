"""Sign-in for people: an emailed single-use link, server-side sessions, a plain signed-in home page.

``GET /sign-in`` asks for an address; ``POST /sign-in`` always answers "check your email" (every
address may sign in: anyone may apply) and sends a link to ``<public_url>/sign-in/<token>``,
rate-limited per address and per client address (moving windows, in memory). Opening the link
shows a button (mail scanners fetch links; they do not post forms); posting it uses the link once
and opens a session whose cookie is HttpOnly, SameSite=Lax, Secure with the ``__Host-`` prefix when
the public URL is https. ``/me`` shows who you are, your roles, your API tokens and the sign-out
forms. Every form carries a signed double-submit token bound to the session (or the link).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import HOME, AddressError, Identity, Role, normalise_email, safe_next
from credflow.accounts.signin import (
    LinkRefused,
    make_link,
    open_link,
    session_key,
    sign_out,
    sign_out_everywhere,
    use_link,
)
from credflow.accounts.tokens import issue_token, revoke_token, tokens_of
from credflow.notifications.stage import deliver
from web.deps import WebDeps, sign_in_redirect
from web.forms import read_urlencoded
from web.ratelimit import RateLimited, Rule, limiter_of

log = logging.getLogger(__name__)

#: Sign-in links one address may be sent, and one client address may ask for (moving windows).
PER_ADDRESS = Rule.of("sign-in:address", "5 per 15 minutes", what="sign-in links", per="for this address")
PER_CLIENT = Rule.of("sign-in:client", "20 per 15 minutes", what="sign-in links", per="from this address")
MAX_FORM_BYTES = 16 * 1024

FORM_FAILED = (
    "This form could not be verified: its security token is missing or out of date. "
    "Reload the page and send the form again."
)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60 + 0.49))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


async def read_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None when it is not one (wrong type, too large, too many fields)."""
    return await read_urlencoded(request, max_bytes=MAX_FORM_BYTES, max_fields=20)


def routes(deps: WebDeps) -> APIRouter:
    """The sign-in routes and the signed-in home page."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def allow(request: Request, email: str, client: str) -> float | None:
        """Count one link for ``email`` from ``client``; None when allowed, else seconds until one is."""
        try:
            limiter_of(request).hit((PER_CLIENT, client), (PER_ADDRESS, email))
        except RateLimited as refusal:
            return float(refusal.retry_after)
        return None

    def problem_page(request: Request, heading: str, problem: str) -> HTMLResponse:
        """The 403 page of a link or form that cannot be used, with a fresh sign-in form."""
        return accounts.render(
            request,
            "signin_problem.html",
            binding="sign-in",
            status=403,
            heading=heading,
            problem=problem,
            next_path=HOME,
        )

    def refused_form(request: Request) -> HTMLResponse:
        return problem_page(request, "This form could not be sent", FORM_FAILED)

    def sign_in_page(
        request: Request,
        *,
        email: str = "",
        problem: str | None = None,
        next_path: str = HOME,
        status: int = 200,
        notice: str | None = None,
    ) -> HTMLResponse:
        return accounts.render(
            request,
            "signin.html",
            binding="sign-in",
            status=status,
            email=email,
            problem=problem,
            next_path=next_path,
            notice=notice,
            signed_in=accounts.current(request),
        )

    @router.get("/sign-in", name="sign_in")
    def get_sign_in(request: Request, next: str | None = None, signed_out: bool = False) -> Response:
        notice = "You are signed out." if signed_out else None
        return sign_in_page(request, next_path=safe_next(next), notice=notice)

    @router.post("/sign-in")
    async def post_sign_in(request: Request) -> Response:
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, "sign-in"):
            return refused_form(request)
        next_path = safe_next(form.get("next"))
        try:
            email = normalise_email(form.get("email", ""))
        except AddressError as exc:
            return sign_in_page(
                request, email=form.get("email", "")[:320], problem=str(exc), next_path=next_path, status=422
            )
        client = request.client.host if request.client else "unknown"
        wait = allow(request, email, client)
        if wait is not None:
            again = clock() + timedelta(seconds=wait)
            response = accounts.render(
                request, "signin_wait.html", status=429, wait=_minutes(wait), again=f"{again:%H:%M} UTC"
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response

        def send() -> None:
            sent = make_link(services, email=email, next_path=next_path, now=clock())
            try:
                deliver(services, sent.message, submission_id=None, now=clock())
            except Exception:  # the same page either way; the person can ask again, the log says why
                log.exception("the sign-in link %s could not be sent", sent.link_id)

        await run_in_threadpool(send)
        return accounts.render(request, "signin_sent.html", email=email, minutes=services.settings.sign_in_link_minutes)

    @router.get("/sign-in/{token}", name="sign_in_link")
    def get_link(request: Request, token: str) -> Response:
        try:
            link = open_link(services, token, now=clock())
        except LinkRefused as exc:
            return problem_page(request, "This sign-in link cannot be used", str(exc))
        return accounts.render(
            request,
            "signin_confirm.html",
            binding=f"link:{link.link_id}",
            email=link.email,
            action=request.url_for("sign_in_link", token=token).path,
        )

    @router.post("/sign-in/{token}")
    async def post_link(request: Request, token: str) -> Response:
        now = clock()
        try:
            link = await run_in_threadpool(open_link, services, token, now=now)
        except LinkRefused as exc:
            return problem_page(request, "This sign-in link cannot be used", str(exc))
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, f"link:{link.link_id}"):
            return refused_form(request)
        try:
            opened = await run_in_threadpool(use_link, services, token, now=now)
        except LinkRefused as exc:
            return problem_page(request, "This sign-in link cannot be used", str(exc))
        old = accounts.secret(request)
        if old:  # a browser signing in again leaves no older session of its own behind
            await run_in_threadpool(sign_out, services, old, now=now)
        response = RedirectResponse(opened.next_path, status_code=303)
        accounts.set_session(response, opened.secret)
        return response

    def home(
        request: Request, who: Identity, *, new_token: str | None = None, notice: str | None = None, status: int = 200
    ) -> HTMLResponse:
        now = clock()
        secret = accounts.secret(request) or ""
        return accounts.render(
            request,
            "home.html",
            binding=session_key(secret),
            status=status,
            who=who,
            roles=[role.label for role in Role if role in who.roles],
            grant=who.grant,
            tokens=[t for t in tokens_of(services, who.person_id) if t.active(now)],
            new_token=new_token,
            notice=notice,
            token_days=services.settings.api_token_days,
        )

    @router.get("/me", name="home")
    def get_home(request: Request, revoked: bool = False) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        return home(request, who, notice="The token is revoked: it no longer works." if revoked else None)

    async def signed_in_post(request: Request) -> tuple[Identity, str] | Response:
        who = await run_in_threadpool(accounts.current, request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return RedirectResponse("/sign-in", status_code=303)
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, session_key(secret)):
            return refused_form(request)
        return who, secret

    @router.post("/me/tokens")
    async def post_token(request: Request) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        who, _ = checked
        made = await run_in_threadpool(issue_token, services, who.person_id, now=clock())
        return await run_in_threadpool(lambda: home(request, who, new_token=made.token, status=201))

    @router.post("/me/tokens/{token_id}/revoke")
    async def post_revoke(request: Request, token_id: str) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        who, _ = checked
        await run_in_threadpool(revoke_token, services, who.person_id, token_id[:64], now=clock())
        return RedirectResponse("/me?revoked=1", status_code=303)

    @router.post("/sign-out")
    async def post_sign_out(request: Request) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        _, secret = checked
        await run_in_threadpool(sign_out, services, secret, now=clock())
        response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
        accounts.clear_session(response)
        return response

    @router.post("/sign-out/everywhere")
    async def post_sign_out_everywhere(request: Request) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        who, _ = checked
        await run_in_threadpool(sign_out_everywhere, services, who.person_id, now=clock())
        response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
        accounts.clear_session(response)
        return response

    return router
