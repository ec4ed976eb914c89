"""Cohorts and milestones on the web: the educator's cohorts, and the program admin's cohorts and milestones.

``GET /me/cohorts`` lists, for each micro-credential the signed-in educator works on, the others who
agreed to connect (shown only once the educator agreed too), with ``POST
/me/cohorts/{credential_id}/consent`` to opt in or out. ``GET /admin/cohorts`` shows a program admin
who works on each micro-credential of their scope and who agreed to be connected; ``GET
/admin/milestones`` lists recent milestones with ``POST /admin/milestones/celebrate`` to email a
celebration once. Signed out: to sign-in and back; not a program admin: 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity
from credflow.accounts.signin import session_key
from credflow.cohorts.rules import MAX_RECENT_DAYS, DaysError, Milestone, parse_days
from credflow.cohorts.stage import (
    Celebrated,
    MilestoneRow,
    admin_cohorts,
    celebrate,
    my_cohorts,
    recent_milestones,
    set_consent,
)
from credflow.errors import NotFoundError, TransientError
from credflow.formatting import long_date, weekday_date
from web.deps import WebDeps, admin_subnav, sign_in_redirect
from web.pages.signin import FORM_FAILED, read_form


def day(value: date | None) -> str:
    """A date as the pages write it: "Monday 1 June 2026"."""
    return weekday_date(value) if value else ""


@dataclass(frozen=True)
class MilestoneLine:
    """One row of the milestones page: the milestone, and its button's fields or when it was celebrated."""

    on: str
    educator: str
    organisation: str
    title: str
    milestone: str
    milestone_key: str
    applicant_id: str
    credential_id: str
    anchor: str
    celebrated: str | None
    celebrated_by: str | None


def milestone_lines(rows: list[MilestoneRow]) -> list[MilestoneLine]:
    """The milestones page's rows: dates in words, "Celebrated on …" where a celebration was sent."""
    return [
        MilestoneLine(
            on=long_date(row.reached.on),
            educator=row.educator,
            organisation=row.organisation,
            title=row.title,
            milestone=row.reached.milestone.label,
            milestone_key=row.reached.milestone.value,
            applicant_id=row.reached.applicant_id,
            credential_id=row.reached.credential_id,
            anchor=f"m-{row.reached.applicant_id}-{row.reached.credential_id}-{row.reached.milestone.value}",
            celebrated=day(row.celebrated_at.date()) if row.celebrated_at else None,
            celebrated_by=row.celebrated_by,
        )
        for row in rows
    ]


def celebration_notice(lines: list[MilestoneLine], *, celebrated: str | None, already: str | None) -> str | None:
    """What the milestones page says after a celebration (the educator named from the page's own rows only)."""
    anchor = celebrated or already
    if not anchor:
        return None
    line = next((line for line in lines if line.anchor == anchor), None)
    who = line.educator if line is not None else "the educator"
    if celebrated:
        return f"Your celebration email to {who} is on its way, and a copy went to you."
    return f"The milestone of {who} was celebrated before: nothing was sent again."


def routes(deps: WebDeps) -> APIRouter:
    """The educator's cohort page and the program admin's cohort and milestone pages."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def message(request: Request, *, status: int, heading: str, text: str, section: str) -> HTMLResponse:
        return accounts.render(
            request, "cohorts_message.html", status=status, heading=heading, message=text, section=section
        )

    def admitted(request: Request) -> Identity | Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        if not who.may_see_reports:
            return accounts.render(
                request,
                "forbidden.html",
                status=403,
                heading="You cannot open the program admin workspace",
                message="Cohorts and milestones are for program admins and operators. Ask an operator to grant you "
                "access (credflow admins add): the pages open as soon as they have, without signing in again.",
                email=who.email,
            )
        return who

    # -- the educator's cohorts ----------------------------------------------------------------

    @router.get("/me/cohorts", name="my_cohorts")
    def get_my_cohorts(request: Request, saved: str | None = None) -> Response:
        who = accounts.current(request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return sign_in_redirect(request)
        sections = my_cohorts(services, who.applicant_id)
        notice = None
        if saved == "in":
            notice = "You are now shown to the others working on it who agreed to connect, and you see them."
        elif saved == "out":
            notice = "You are no longer shown to anyone. You can agree again at any time."
        return accounts.render(
            request,
            "cohorts_mine.html",
            binding=f"cohorts:{session_key(secret)}",
            who=who,
            sections=sections,
            notice=notice,
        )

    @router.post("/me/cohorts/{credential_id}/consent")
    async def post_consent(request: Request, credential_id: str) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return RedirectResponse("/sign-in", status_code=303)
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, f"cohorts:{session_key(secret)}"):
            return message(request, status=403, heading="This form could not be sent", text=FORM_FAILED, section="mine")
        choice = form.get("shown", "")
        if choice not in ("yes", "no"):
            return message(
                request,
                status=422,
                heading="Say whether to show you",
                text="The form must say yes (show me and connect) or no (stop showing me). Go back and press a button.",
                section="mine",
            )
        try:
            await run_in_threadpool(
                lambda: set_consent(services, who.applicant_id, credential_id[:80], shown=choice == "yes", now=clock())
            )
        except NotFoundError:
            return message(
                request,
                status=404,
                heading="No such micro-credential of yours",
                text="You do not work on a micro-credential at this address. Your cohorts are listed under Cohorts.",
                section="mine",
            )
        anchor = f"cohort-{credential_id[:80]}"
        return RedirectResponse(
            f"/me/cohorts?{urlencode({'saved': 'in' if choice == 'yes' else 'out'})}#{anchor}", status_code=303
        )

    # -- the program admin's cohorts and milestones ---------------------------------------------

    @router.get("/admin/cohorts", name="admin_cohorts")
    def get_admin_cohorts(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        cohorts = admin_cohorts(services, who.report_scope())
        return accounts.render(
            request, "cohorts_admin.html", who=who, cohorts=cohorts, workspace=admin_subnav("cohorts")
        )

    def milestones_page(
        request: Request, who: Identity, secret: str, *, days: int, celebrated: str | None, already: str | None
    ) -> HTMLResponse:
        now = clock()
        lines = milestone_lines(recent_milestones(services, who.report_scope(), today=now.date(), days=days))
        return accounts.render(
            request,
            "cohorts_milestones.html",
            binding=f"milestones:{session_key(secret)}",
            who=who,
            lines=lines,
            days=days,
            max_days=MAX_RECENT_DAYS,
            notice=celebration_notice(lines, celebrated=celebrated, already=already),
            problem=None,
            workspace=admin_subnav("milestones"),
        )

    @router.get("/admin/milestones", name="admin_milestones")
    def get_milestones(
        request: Request, days: str | None = None, celebrated: str | None = None, already: str | None = None
    ) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        secret = accounts.secret(request)
        if secret is None:
            return sign_in_redirect(request)
        try:
            look_back = parse_days(days)
        except DaysError as exc:
            return accounts.render(
                request,
                "cohorts_milestones.html",
                status=422,
                who=who,
                lines=[],
                days=(days or "")[:10],
                max_days=MAX_RECENT_DAYS,
                notice=None,
                problem=str(exc),
                workspace=admin_subnav("milestones"),
            )
        return milestones_page(request, who, secret, days=look_back, celebrated=celebrated, already=already)

    @router.post("/admin/milestones/celebrate")
    async def post_celebrate(request: Request) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return RedirectResponse("/sign-in", status_code=303)
        if not who.may_see_reports:
            refused = await run_in_threadpool(admitted, request)
            assert isinstance(refused, Response)  # not a program admin: the 403 page
            return refused
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, f"milestones:{session_key(secret)}"):
            return message(
                request, status=403, heading="This form could not be sent", text=FORM_FAILED, section="admin"
            )
        try:
            milestone = Milestone(form.get("milestone", ""))
            days = parse_days(form.get("days"))
        except (ValueError, DaysError):
            return message(
                request,
                status=422,
                heading="This celebration could not be sent",
                text="The form does not name a milestone (getting started, uploading evidence or earning). "
                "Go back to the milestones and press the button of the one to celebrate.",
                section="admin",
            )
        applicant_id, credential_id = form.get("applicant", "")[:64], form.get("credential", "")[:80]
        try:
            done = await run_in_threadpool(
                lambda: celebrate(
                    services,
                    applicant_id=applicant_id,
                    credential_id=credential_id,
                    milestone=milestone,
                    admin_email=who.email,
                    scope=who.report_scope(),
                    now=clock(),
                )
            )
        except NotFoundError:
            return message(
                request,
                status=404,
                heading="No such milestone in your programs",
                text="This milestone is not one of your programs' educators', or it has not been reached.",
                section="admin",
            )
        except TransientError:
            return message(
                request,
                status=503,
                heading="The email could not be sent just now",
                text="Nothing was sent and nothing is recorded. Go back to the milestones and press the button again "
                "in a minute.",
                section="admin",
            )
        if done.outcome is Celebrated.FAILED:
            return message(
                request,
                status=502,
                heading="The mail service refused this email",
                text=f"The celebration email to {done.educator} could not be delivered ({done.error}). "
                "The operator was told.",
                section="admin",
            )
        flag = "celebrated" if done.outcome is Celebrated.SENT else "already"
        anchor = f"m-{applicant_id}-{credential_id}-{milestone.value}"
        query = urlencode({"days": days, flag: anchor})
        return RedirectResponse(f"/admin/milestones?{query}#{anchor}", status_code=303)

    return router
