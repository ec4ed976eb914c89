"""Program reports on the web: ``GET /reports/programs`` (HTML) and ``GET /reports/programs.csv``.

These pages list educators' names, emails and organisations: they need a signed-in program
admin or operator (``credflow admins add``). A signed-out visitor is sent to the sign-in page
(and back here afterwards), anyone else signed in gets 403, and a program admin sees only the
organisations and programs of their grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from credflow.accounts.rules import Identity
from credflow.programs.rules import program_titles
from credflow.reports.rules import DecisionTimes, ProgramReport, ProgramSection, ReportStatus
from credflow.reports.stage import program_report
from web.deps import WebDeps, admin_subnav, sign_in_redirect

#: Geometry of the status chart (SVG user units).
LABEL_WIDTH = 110
BAR_SPACE = 300
BAR_HEIGHT = 22
ROW_HEIGHT = 30

#: Bar colours per status (SVG presentation attributes: the page policy allows no inline styles).
COLOURS: dict[ReportStatus, str] = {
    ReportStatus.NOT_STARTED: "#9aa5b1",
    ReportStatus.RETURNED: "#b42318",
    ReportStatus.SUBMITTED: "#6b8ec2",
    ReportStatus.IN_REVIEW: "#0b5cad",
    ReportStatus.NOT_YET: "#dc6803",
    ReportStatus.EARNED: "#027a48",
}


@dataclass(frozen=True)
class Bar:
    """One status bar of a program's chart, laid out in SVG user units."""

    status: str
    label: str
    count: int
    y: int
    width: int
    colour: str


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of a program's rows per status."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    bar_height: int


@dataclass(frozen=True)
class SectionView:
    """One program as the page shows it."""

    section: ProgramSection
    chart: Chart
    median: str
    within_target: str


def status_chart(counts: dict[ReportStatus, int]) -> Chart:
    """Lay out one bar per status, the longest bar filling the chart's width.

    Args:
        counts: Rows per status.

    Returns:
        The chart's bars and size.
    """
    top = max(counts.values(), default=0)
    bars = tuple(
        Bar(
            status=status.value,
            label=status.label,
            count=counts.get(status, 0),
            y=index * ROW_HEIGHT,
            # A zero count draws no bar; any other count shows at least a sliver.
            width=0 if not counts.get(status) else max(2, round(BAR_SPACE * counts[status] / top)),
            colour=COLOURS[status],
        )
        for index, status in enumerate(ReportStatus)
    )
    return Chart(
        bars=bars,
        width=LABEL_WIDTH + BAR_SPACE + 40,
        height=len(bars) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
    )


def _median_text(times: DecisionTimes) -> str:
    if times.median_business_days is None:
        return "no decisions yet"
    days = times.median_business_days
    return f"{days:g} business day" + ("" if days == 1 else "s")


def _share_text(times: DecisionTimes) -> str:
    share = times.share_within_target
    if share is None:
        return "no decisions yet"
    return f"{share:.0%} ({times.within_target} of {times.decided})"


def programs_page(report: ProgramReport, *, titles: Mapping[str, str]) -> dict[str, Any]:
    """The view model of report.html: each program's table, chart and decision times.

    Args:
        report: The program report, already scoped to who asks.
        titles: Micro-credential titles by id.
    """
    sections = [
        SectionView(
            section=section,
            chart=status_chart(section.counts()),
            median=_median_text(section.decision_times),
            within_target=_share_text(section.decision_times),
        )
        for section in report.programs
    ]
    return {
        "generated": f"{report.generated_at:%Y-%m-%d %H:%M} UTC",
        "sections": sections,
        "titles": dict(titles),
    }


def routes(deps: WebDeps) -> APIRouter:
    """The program report routes (program admins, scoped to their grant, and operators)."""
    services, pages, clock, accounts = deps.services, deps.pages, deps.clock, deps.accounts
    router = APIRouter()

    def admitted(request: Request) -> Identity | Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        if not who.may_see_reports:
            return pages.render(
                "forbidden.html",
                status=403,
                heading="You cannot open program reports",
                message="Program reports are for program admins and operators. Ask an operator to grant you "
                "access (credflow admins add): the report opens as soon as they have, without signing in again.",
                email=who.email,
            )
        return who

    @router.get("/reports/programs", response_class=HTMLResponse, name="programs_page")
    def get_programs_page(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        report = program_report(services, now=clock(), scope=who.report_scope())
        titles = {c.id: c.title for c in services.catalog.credentials.values()}
        return accounts.render(
            request,
            "report.html",
            workspace=admin_subnav("report"),
            program_titles=program_titles(services.catalog.credentials, services.pathways),
            **programs_page(report, titles=titles),
        )

    @router.get("/reports/programs.csv")
    def programs_csv(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        report = program_report(services, now=clock(), scope=who.report_scope())
        name = f"program-report-{report.generated_at:%Y-%m-%d}.csv"
        return Response(
            report.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return router
