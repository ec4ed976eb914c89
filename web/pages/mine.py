"""The applicant's own pages: "My micro-credentials", one enrolment's detail, its plan, and a result letter online.

``GET /me/credentials`` lists every enrolment of the signed-in applicant with where it stands and the
next thing to do; ``GET /me/credentials/{credential_id}`` shows its attempts, letters, badges and plan;
``GET|POST /me/credentials/{credential_id}/plan`` sets the plan's target dates; ``GET
/me/submissions/{submission_id}/letter`` shows a decided attempt's result letter, the same letter the
email carries (:func:`credflow.letters.stage.letter_record`). Signed out: to sign-in and back. Another
applicant's enrolment or submission: 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity
from credflow.accounts.signin import session_key
from credflow.errors import NotFoundError, TransientError
from credflow.formatting import weekday_date
from credflow.letters.rules import Outcome, letter_context
from credflow.letters.stage import letter_record
from credflow.plans.progress import Progress
from credflow.plans.rules import FIELD_PREFIX
from credflow.plans.stage import (
    PlanRow,
    check_plan_form,
    my_credential,
    my_credentials,
    owns_submission,
    plan_rows,
    save_plan,
)
from web.deps import WebDeps, sign_in_redirect
from web.pages.signin import FORM_FAILED, read_form

#: What each kind of requirement asks for, as the plan form's hints say it.
KIND_WORDS = {"text": "A written answer", "document": "A document", "image": "A photo or image", "video": "A video"}


def day(value: date | None) -> str:
    """A date as the portal writes it: "Monday 1 June 2026"."""
    return weekday_date(value) if value else ""


@dataclass(frozen=True)
class PlanField:
    """One date input of the plan form: its value as typed and its problem, if any."""

    key: str
    name: str
    title: str
    kind: str
    value: str
    target: str
    reminded: str
    problem: str | None


def plan_fields(
    rows: list[PlanRow], *, typed: dict[str, str] | None = None, problems: dict[str, str] | None = None
) -> list[PlanField]:
    """The plan form's fields from the stored rows, or from what was posted when it is shown again with problems."""
    fields = []
    for row in rows:
        name = FIELD_PREFIX + row.key
        value = (typed or {}).get(name, row.target.isoformat() if row.target else "")
        fields.append(
            PlanField(
                key=row.key,
                name=name,
                title=row.title,
                kind=KIND_WORDS.get(row.kind, row.kind),
                value=value[:40],
                target=day(row.target),
                reminded=day(row.reminded_on),
                problem=(problems or {}).get(row.key),
            )
        )
    return fields


def _path(url: str) -> str:
    """A link of this site as a path, so pages work whatever host they are reached on."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def letter_page(context: dict[str, Any], *, earned: bool, badge_id: str | None) -> dict[str, Any]:
    """The letter page's view of a letter's context: the email's content with the portal's own paths."""
    page = dict(context)
    page["earned"] = earned
    page["resubmit_path"] = _path(context["resubmit_url"])
    page["credential_path"] = _path(context["credential_url"])
    if earned and badge_id:
        page["badge_path"] = f"/badges/{badge_id}"
        page["json_path"] = _path(context["json_url"])
        page["png_path"] = _path(context["png_url"])
    return page


def routes(deps: WebDeps) -> APIRouter:
    """The applicant's pages under /me/credentials and their letters under /me/submissions."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def missing(request: Request, heading: str, message: str) -> HTMLResponse:
        return accounts.render(request, "mine_message.html", status=404, heading=heading, message=message)

    def no_enrolment(request: Request) -> HTMLResponse:
        return missing(
            request,
            "No such micro-credential of yours",
            "You are not enrolled in a micro-credential at this address. Your enrolments are listed under "
            "My micro-credentials.",
        )

    def detail_response(request: Request, who: Identity, progress: Progress, *, notice: str | None) -> HTMLResponse:
        rows = plan_rows(services, who.applicant_id or "", progress.credential_id)
        return accounts.render(
            request,
            "mine_detail.html",
            item=progress,
            plan=plan_fields(rows),
            planned=any(row.target for row in rows),
            day=day,
            notice=notice,
        )

    def plan_response(
        request: Request,
        who: Identity,
        progress: Progress,
        secret: str,
        *,
        typed: dict[str, str] | None = None,
        problems: dict[str, str] | None = None,
    ) -> HTMLResponse:
        rows = plan_rows(services, who.applicant_id or "", progress.credential_id)
        today = clock().date()
        return accounts.render(
            request,
            "mine_plan.html",
            binding=f"plan:{progress.credential_id}:{session_key(secret)}",
            status=422 if problems else 200,
            item=progress,
            fields=plan_fields(rows, typed=typed, problems=problems),
            problems=problems or {},
            today=today.isoformat(),
            today_text=day(today),
            ends=progress.access_ends.isoformat(),
            ends_text=day(progress.access_ends),
        )

    @router.get("/me/credentials", name="my_credentials")
    def get_mine(request: Request) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        items = my_credentials(services, who.applicant_id, now=clock())
        return accounts.render(request, "mine.html", who=who, items=items, day=day)

    @router.get("/me/credentials/{credential_id}", name="my_credential")
    def get_detail(request: Request, credential_id: str, plan: str | None = None) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        try:
            progress = my_credential(services, who.applicant_id, credential_id[:80], now=clock())
        except NotFoundError:
            return no_enrolment(request)
        notice = "Your plan is saved. We will email you 7 days and 1 day before each date." if plan else None
        return detail_response(request, who, progress, notice=notice)

    @router.get("/me/credentials/{credential_id}/plan", name="my_plan")
    def get_plan(request: Request, credential_id: str) -> Response:
        who = accounts.current(request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return sign_in_redirect(request)
        try:
            progress = my_credential(services, who.applicant_id, credential_id[:80], now=clock())
        except NotFoundError:
            return no_enrolment(request)
        return plan_response(request, who, progress, secret)

    @router.post("/me/credentials/{credential_id}/plan")
    async def post_plan(request: Request, credential_id: str) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return RedirectResponse("/sign-in", status_code=303)
        now = clock()
        try:
            progress = await run_in_threadpool(
                lambda: my_credential(services, who.applicant_id, credential_id[:80], now=now)
            )
        except NotFoundError:
            return no_enrolment(request)
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, f"plan:{progress.credential_id}:{session_key(secret)}"):
            return accounts.render(
                request, "mine_message.html", status=403, heading="This form could not be sent", message=FORM_FAILED
            )
        applicant_id = who.applicant_id or ""
        checked = await run_in_threadpool(
            lambda: check_plan_form(services, applicant_id, progress.credential_id, form, today=now.date())
        )
        if not checked.ok:
            return await run_in_threadpool(
                lambda: plan_response(request, who, progress, secret, typed=form, problems=checked.problems)
            )
        await run_in_threadpool(
            lambda: save_plan(services, applicant_id, progress.credential_id, checked.dates, now=now)
        )
        return RedirectResponse(f"{progress.detail_href}?plan=saved#plan", status_code=303)

    @router.get("/me/submissions/{submission_id}/letter", name="my_letter")
    def get_letter(request: Request, submission_id: str) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        nothing = missing(request, "No such letter of yours", "There is no result letter of yours at this address.")
        if not owns_submission(services, who.applicant_id, submission_id[:64]):
            return nothing
        try:
            record = letter_record(services, submission_id[:64])
        except NotFoundError:
            return nothing
        except TransientError:
            return accounts.render(
                request,
                "mine_message.html",
                status=503,
                heading="Your letter is almost ready",
                message="Your badge is being issued. Reload this page in a minute to read your letter.",
            )
        if record.applicant_id != who.applicant_id:
            return nothing
        letter = record.letter
        progress = my_credential(services, who.applicant_id, letter.credential.id, now=clock())
        latest = progress.history[-1] if progress.history else None
        resubmit_open = latest is not None and latest.id == letter.submission_id and progress.resubmit_by is not None
        later = next((row for row in progress.history if row.attempt > letter.attempt), None)
        page = letter_page(letter_context(letter), earned=letter.outcome is Outcome.EARNED, badge_id=record.badge_id)
        return accounts.render(
            request,
            "letter_page.html",
            letter=page,
            item=progress,
            resubmit_open=resubmit_open,
            resubmit_by=day(progress.resubmit_by),
            later=later,
        )

    return router
