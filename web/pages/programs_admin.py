"""The program admin workspace: ``/admin`` (programs by title), ``/admin/hours`` (filters, CSV, XLSX, confirmations).

Every page is for a signed-in program admin or operator and shows only their grant's scope
(organisations and/or programs). A filter naming an organisation outside it gets 403 with no
data; unreadable dates get the page again with 422 and the problem named. The director's
confirmation is emailed with a link to ``GET /hours/confirmations/{token}``, a public page that
says whether the confirmation is genuine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity
from credflow.accounts.signin import session_key
from credflow.formatting import long_date
from credflow.issuance.hours import hours_csv
from credflow.programs.rules import (
    BadgeStanding,
    HoursLine,
    HoursQuery,
    HoursTotals,
    OutOfScope,
    check_confirmation_form,
    hours_text,
    hours_totals,
    parse_hours_query,
)
from credflow.programs.stage import (
    NothingToConfirm,
    SentConfirmation,
    Workspace,
    confirmation_period_default,
    hours_lines,
    scope_organisations,
    scoped_credentials,
    send_confirmation,
    sent_confirmations,
    titles_of,
    verify_confirmation,
    workspace,
)
from credflow.programs.xlsx import hours_xlsx
from credflow.reports.rules import ReportScope
from web.deps import WebDeps, admin_subnav, sign_in_redirect
from web.pages.admin import SectionView, programs_page
from web.pages.signin import FORM_FAILED, read_form

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def day(value: date | None) -> str:
    """A date as the workspace writes it: "3 December 2026" (empty for none)."""
    return long_date(value) if value else ""


def scope_words(scope: ReportScope, titles: Mapping[str, str]) -> str:
    """Whose educators the admin sees, in words."""
    if scope.all_rows:
        return "every organisation and program (operator)"
    parts = []
    if scope.organisations:
        parts.append("educators of " + ", ".join(sorted(scope.organisations, key=str.casefold)))
    if scope.programs:
        parts.append("in " + ", ".join(sorted(titles.get(p, p) for p in scope.programs)))
    return " ".join(parts) or "nobody yet"


@dataclass(frozen=True)
class ProgramPanel:
    """One program on the home page: the report's section view plus its title, overdue work and badges."""

    view: SectionView
    title: str
    overdue: int
    badges: tuple[Any, ...]


def home_page(
    ws: Workspace, *, scope: ReportScope, titles: Mapping[str, str], credentials: Mapping[str, str]
) -> dict[str, Any]:
    """The view model of admin_home.html: each program by title with its chart, SLA, educators and badges.

    Programs where the admin has nobody are named in one line (``quiet``) rather than drawn empty.
    """
    views = {view.section.program: view for view in programs_page(ws.report, titles=credentials)["sections"]}
    panels = [
        ProgramPanel(view=views[p.section.program], title=p.title, overdue=p.overdue, badges=p.badges)
        for p in ws.programs
    ]
    return {
        "generated": f"{ws.report.generated_at:%Y-%m-%d %H:%M} UTC",
        "scope": scope_words(scope, titles),
        "workspace": admin_subnav("home"),
        "organisations": ws.organisations,
        "organisation": ws.organisation or "",
        "programs": [p for p in panels if p.view.section.rows or p.badges],
        "quiet": [p.title for p in panels if not (p.view.section.rows or p.badges)],
        "titles": dict(credentials),
        "day": day,
        "expiring": BadgeStanding.EXPIRING,
    }


@dataclass(frozen=True)
class FormField:
    """A field of the confirmation form: its value and problem."""

    value: str
    problem: str = ""


def hours_page(
    *,
    lines: list[HoursLine],
    query: HoursQuery,
    problems: Mapping[str, str],
    organisations: tuple[str, ...],
    credentials: Mapping[str, str],
    educators: list[tuple[str, str]],
    sent: list[SentConfirmation],
    form: Mapping[str, str],
    form_problems: Mapping[str, str],
    notice: str | None,
) -> dict[str, Any]:
    """The view model of admin_hours.html: the filters, the listing and its totals, the confirmation form."""
    totals: HoursTotals = hours_totals(lines)
    params = query.params()
    suffix = f"?{urlencode(params)}" if params else ""
    return {
        "lines": lines,
        "totals": totals,
        "total_text": hours_text(totals.hours),
        "filters": query.describe(credentials),
        "query": {
            "organisation": query.organisation or "",
            "from": query.start.isoformat() if query.start else "",
            "to": query.end.isoformat() if query.end else "",
            "credential": query.credential or "",
        },
        "problems": dict(problems),
        "organisations": organisations,
        "credentials": dict(credentials),
        "csv_href": "/admin/hours.csv" + suffix,
        "xlsx_href": "/admin/hours.xlsx" + suffix,
        "educators": educators,
        "sent": sent,
        "form": {key: FormField(form.get(key, ""), form_problems.get(key, "")) for key in FORM_FIELDS},
        "form_problems": dict(form_problems),
        "notice": notice,
        "day": day,
        "hours_text": hours_text,
    }


FORM_FIELDS = ("educator", "from", "to", "director_name", "director_email")


def routes(deps: WebDeps) -> APIRouter:
    """The admin workspace's routes (program admins within their grant, and operators) and the public check."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def forbidden(request: Request, who: Identity, heading: str, message: str) -> HTMLResponse:
        return accounts.render(request, "forbidden.html", status=403, heading=heading, message=message, email=who.email)

    def admitted(request: Request) -> Identity | Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        if not who.may_see_reports:
            return forbidden(
                request,
                who,
                "You cannot open the program workspace",
                "The program workspace is for program admins and operators. Ask an operator to grant you "
                "access (credflow admins add): it opens as soon as they have, without signing in again.",
            )
        return who

    def params_of(request: Request) -> dict[str, str]:
        return {key: request.query_params.get(key, "") for key in ("organisation", "from", "to", "credential")}

    def out_of_scope(request: Request, who: Identity, exc: OutOfScope) -> HTMLResponse:
        return forbidden(request, who, "Not one of your organisations", f"{exc} Nothing of theirs is shown.")

    @router.get("/admin", response_class=HTMLResponse, name="admin_home")
    def get_home(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        scope = who.report_scope()
        choices = scope_organisations(services, scope)
        try:
            parsed = parse_hours_query(
                {"organisation": request.query_params.get("organisation", "")},
                organisations=None if scope.all_rows else choices,
                credentials={},
            )
        except OutOfScope as exc:
            return out_of_scope(request, who, exc)
        ws = workspace(services, scope=scope, now=clock(), organisation=parsed.query.organisation)
        credential_titles = {c.id: c.title for c in services.catalog}
        context = home_page(ws, scope=scope, titles=titles_of(services), credentials=credential_titles)
        return accounts.render(request, "admin_home.html", **context)

    def listing(request: Request, who: Identity) -> tuple[list[HoursLine], HoursQuery, dict[str, str]] | Response:
        scope = who.report_scope()
        choices = scope_organisations(services, scope)
        try:
            parsed = parse_hours_query(
                params_of(request),
                organisations=None if scope.all_rows else choices,
                credentials=scoped_credentials(services, scope),
            )
        except OutOfScope as exc:
            return out_of_scope(request, who, exc)
        lines = [line for line in hours_lines(services, scope=scope) if parsed.query.matches(line)]
        return (lines if not parsed.problems else []), parsed.query, parsed.problems

    def render_hours(
        request: Request,
        who: Identity,
        *,
        form: Mapping[str, str] | None = None,
        form_problems: Mapping[str, str] | None = None,
        notice: str | None = None,
    ) -> Response:
        found = listing(request, who)
        if isinstance(found, Response):
            return found
        lines, query, problems = found
        scope = who.report_scope()
        # The form offers the educators of the organisation shown (of every organisation in scope when none is).
        of_organisation = HoursQuery(organisation=query.organisation)
        everyone = hours_totals([x for x in hours_lines(services, scope=scope) if of_organisation.matches(x)]).educators
        start, end = query.start, query.end
        if start is None or end is None:
            default_start, default_end = confirmation_period_default(clock().date())
            start, end = start or default_start, end or default_end
        typed = form or {"from": start.isoformat(), "to": end.isoformat()}
        secret = accounts.secret(request) or ""
        status = 422 if problems or form_problems else 200
        return accounts.render(
            request,
            "admin_hours.html",
            binding=f"hours-confirmation:{session_key(secret)}",
            status=status,
            workspace=admin_subnav("hours"),
            **hours_page(
                lines=lines,
                query=query,
                problems=problems,
                organisations=scope_organisations(services, scope),
                credentials=scoped_credentials(services, scope),
                educators=[(e.applicant_id, f"{e.name} ({e.organisation})") for e in everyone],
                sent=sent_confirmations(services, scope=scope),
                form=typed,
                form_problems=form_problems or {},
                notice=notice,
            ),
        )

    @router.get("/admin/hours", response_class=HTMLResponse, name="admin_hours")
    def get_hours(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        notice = None
        sent_id = request.query_params.get("sent", "")[:32]
        if sent_id:
            match = [s for s in sent_confirmations(services, scope=who.report_scope()) if s.id == sent_id]
            if match:
                content = match[0].content
                notice = (
                    f"The confirmation of {content.educator_name}'s {hours_text(content.total_hours)} "
                    f"was emailed to {content.director_name} ({content.director_email})."
                )
        return render_hours(request, who, notice=notice)

    def download(request: Request, kind: str) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        found = listing(request, who)
        if isinstance(found, Response):
            return found
        lines, query, problems = found
        if problems:
            return render_hours(request, who)
        now = clock()
        name = f"in-service-hours-{now:%Y-%m-%d}.{kind}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if kind == "csv":
            text = hours_csv([line.record for line in lines])
            return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
        filters = query.describe(scoped_credentials(services, who.report_scope()))
        return Response(hours_xlsx(lines, filters=filters, generated_at=now), media_type=XLSX, headers=headers)

    @router.get("/admin/hours.csv")
    def get_hours_csv(request: Request) -> Response:
        return download(request, "csv")

    @router.get("/admin/hours.xlsx")
    def get_hours_xlsx(request: Request) -> Response:
        return download(request, "xlsx")

    @router.post("/admin/hours/confirmations")
    async def post_confirmation(request: Request) -> Response:
        who = await run_in_threadpool(admitted, request)
        if isinstance(who, Response):
            return who
        secret = accounts.secret(request) or ""
        form = await read_form(request)
        if form is None or not accounts.form_ok(request, form, f"hours-confirmation:{session_key(secret)}"):
            return forbidden(request, who, "This form could not be sent", FORM_FAILED)
        scope = who.report_scope()
        educators = {e.applicant_id for e in hours_totals(hours_lines(services, scope=scope)).educators}
        checked = check_confirmation_form(form, educators=educators)
        if checked.request is None:
            problems = checked.problems
            return await run_in_threadpool(lambda: render_hours(request, who, form=form, form_problems=problems))
        confirmation = checked.request
        now: datetime = clock()
        try:
            sent = await run_in_threadpool(
                lambda: send_confirmation(services, confirmation, scope=scope, sent_by=who.email, now=now)
            )
        except NothingToConfirm as exc:
            nothing = {"from": str(exc)}
            return await run_in_threadpool(lambda: render_hours(request, who, form=form, form_problems=nothing))
        return RedirectResponse(f"/admin/hours?sent={sent.id}#sent", status_code=303)

    @router.get("/hours/confirmations/{token}", response_class=HTMLResponse, name="hours_confirmation")
    def get_verification(request: Request, token: str) -> Response:
        checked = verify_confirmation(services, token)
        return accounts.render(
            request,
            "hours_confirmation.html",
            status=200 if checked.valid else 404,
            checked=checked,
            day=day,
            hours_text=hours_text,
        )

    return router
