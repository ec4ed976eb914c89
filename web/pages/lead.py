"""The lead reviewer's workspace: ``GET /lead`` (what waits for me), ``/lead/backreads`` and ``/lead/agreement``.

``/lead`` lists the signed-in lead's own active adjudications and back-reads, soonest due first,
each opening the review page through a link token issued for that assignment (the same page the
assignment email opens), and counts what waits across all leads. ``/lead/backreads`` is the
back-read report (:func:`credflow.leads.rules.backread_report`) and ``/lead/agreement`` the
inter-rater agreement report; every number on them stands beside its meaning in words, its sample
size and, when the sample is small, a warning. Both filter by micro-credential and a period given
as ``from``/``to`` dates; a bad filter gets a 422 page naming the problem.

Signed out: to sign-in and back. Signed in but not a lead reviewer of the pool: 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity, Role
from credflow.formatting import weekday_date
from credflow.leads.rules import BackreadFilter, BackreadReport, Tally, backread_report, time_left
from credflow.leads.stage import (
    LeadTask,
    WaitingCounts,
    agreement_ratings,
    backread_cases,
    lead_queue,
    reviewer_names,
    waiting_counts,
)
from credflow.reviewers.explain import (
    MIN_SAMPLE,
    Explained,
    explain_alpha,
    explain_kappa,
    explain_percent,
    explain_share,
)
from credflow.reviewers.rules import AgreementReport, agreement_report
from web.deps import WebDeps, sign_in_redirect

ROLE_LABELS = {"adjudication": "Adjudication", "backread": "Back-read"}
#: The inter-rater report's drift settings (those of ``credflow report agreement``).
AGREEMENT_DRIFT = 0.7
AGREEMENT_MIN_UNITS = 5


@dataclass(frozen=True)
class TaskRow:
    """One waiting adjudication or back-read as the workspace lists it."""

    kind: str
    role: str
    title: str
    applicant: str
    attempt: int
    criteria: tuple[str, ...]
    assigned: str
    due: str
    due_iso: str
    left: str
    overdue: bool
    href: str


def _when(moment: datetime) -> str:
    return f"{weekday_date(moment.date())}, {moment:%H:%M} UTC"


def task_rows(tasks: list[LeadTask], *, now: datetime) -> list[TaskRow]:
    """The workspace's rows: kind, credential, split criteria, due date and time left, and the review link."""
    return [
        TaskRow(
            kind=ROLE_LABELS.get(task.role, task.role),
            role=task.role,
            title=task.credential_title,
            applicant=task.applicant,
            attempt=task.attempt,
            criteria=task.criteria,
            assigned=_when(task.assigned_at),
            due=_when(task.due_at),
            due_iso=task.due_at.isoformat(),
            left=time_left(task.due_at, now),
            overdue=task.due_at < now,
            href=f"/review/{task.token}",
        )
        for task in tasks
    ]


def waiting_words(counts: WaitingCounts) -> str:
    """What waits across all leads, in a sentence."""

    def many(n: int, one: str, more: str) -> str:
        return f"{n} {one if n == 1 else more}"

    text = (
        f"Across all lead reviewers, {many(counts.adjudications, 'adjudication', 'adjudications')} and "
        f"{many(counts.backreads, 'back-read', 'back-reads')} are waiting"
    )
    if counts.overdue:
        text += f"; {counts.overdue} of them overdue"
    return text + "."


# --- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The report filters as typed (to show again) and as understood, with what is wrong with them."""

    credential: str
    start: str
    end: str
    where: BackreadFilter
    problems: dict[str, str]

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.credential or self.start or self.end)


def _date(text: str, label: str, problems: dict[str, str], key: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems[key] = f"The '{label}' date must be a date like 2026-11-23: '{text[:40]}' is not one."
        return None


def parse_filters(query: Mapping[str, str], titles: Mapping[str, str]) -> Filters:
    """The filters of a report's query string (``credential``, ``from``, ``to``), checked.

    Args:
        query: The query parameters.
        titles: Micro-credential titles by id (the credentials one may filter by).

    Returns:
        The filters; ``problems`` names each field that is wrong (the page answers 422).
    """
    credential = query.get("credential", "").strip()[:80]
    start_text = query.get("from", "").strip()[:40]
    end_text = query.get("to", "").strip()[:40]
    problems: dict[str, str] = {}
    if credential and credential not in titles:
        problems["credential"] = f"There is no micro-credential '{credential}': choose one from the list."
    start = _date(start_text, "from", problems, "from")
    end = _date(end_text, "to", problems, "to")
    if start is not None and end is not None and end < start:
        problems["to"] = f"The 'to' date ({end.isoformat()}) is before the 'from' date ({start.isoformat()})."
    where = BackreadFilter(credential=credential or None, start=start, end=end)
    return Filters(credential=credential, start=start_text, end=end_text, where=where, problems=problems)


# --- the back-read report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One row of a report: who or what it is about, and its numbers explained."""

    subject: str
    detail: str
    numbers: tuple[tuple[str, Explained], ...]
    drifting: bool = False

    @property
    def warning(self) -> str | None:
        """The small-sample warning, said once for the whole row (its numbers rest on the same units)."""
        return next((e.warning for _, e in self.numbers if e.warning), None)


@dataclass(frozen=True)
class DisagreementRow:
    """A back-read decision seen differently on some criteria."""

    title: str
    decided: str
    criteria: tuple[str, ...]
    outcome_changes: bool
    backreader: str


def backreads_page(
    report: BackreadReport,
    *,
    names: Mapping[str, str],
    titles: Mapping[str, str],
    criteria: Mapping[tuple[str, str], str],
) -> dict[str, Any]:
    """The view model of lead_backreads.html: the report's numbers, each beside its words and sample size.

    Args:
        report: The back-read report.
        names: Reviewer names by email.
        titles: Micro-credential titles by id.
        criteria: Criterion titles by (micro-credential id, criterion key).
    """
    threshold, min_units = report.drift_threshold, report.min_units
    overall = report.overall
    summary = [
        (
            "Agreement of decisions with back-reads",
            explain_percent(overall.share, overall.units, agreed=overall.agreed),
        ),
        (
            "Cohen's kappa, decision vs back-read",
            explain_kappa(overall.kappa, overall.units, percent=overall.share),
        ),
    ]

    def numbers(tally: Tally, *, drifting: bool) -> tuple[tuple[str, Explained], ...]:
        """A row's agreement with the back-read and its kappa, each in words."""
        return (
            (
                "Agreement",
                explain_share(
                    tally.share,
                    tally.units,
                    agreed=tally.agreed,
                    threshold=threshold,
                    drifting=drifting,
                    min_units=min_units,
                    against="the back-read",
                ),
            ),
            ("Kappa", explain_kappa(tally.kappa, tally.units, min_units=min_units, percent=tally.share)),
        )

    per_criterion = [
        Measure(
            subject=criteria.get((row.credential_id, row.criterion), row.criterion),
            detail=f"{titles.get(row.credential_id, row.credential_id)}: "
            f"{row.tally.units} back-read decision{'s' if row.tally.units != 1 else ''}",
            numbers=numbers(row.tally, drifting=row.drifting),
            drifting=row.drifting,
        )
        for row in report.criteria
    ]
    per_reviewer = [
        Measure(
            subject=names.get(row.reviewer_id, row.reviewer_id),
            detail=f"{row.decisions} back-read decision{'s' if row.decisions != 1 else ''}, "
            f"{row.tally.units} criteria scored",
            numbers=numbers(row.tally, drifting=row.drifting),
            drifting=row.drifting,
        )
        for row in report.reviewers
    ]
    disagreements = [
        DisagreementRow(
            title=titles.get(row.credential_id, row.credential_id),
            decided=weekday_date(row.decided_on),
            criteria=tuple(criteria.get((row.credential_id, key), key) for key in row.criteria),
            outcome_changes=row.outcome_changes,
            backreader=names.get(row.backreader, row.backreader),
        )
        for row in report.disagreements
    ]
    return {
        "decisions": report.decisions,
        "outcomes_agreed": report.outcomes_agreed,
        "summary": summary,
        "per_criterion": per_criterion,
        "per_reviewer": per_reviewer,
        "drifting": [names.get(r, r) for r in report.drifting_reviewers],
        "disagreements": disagreements,
        "threshold": f"{threshold:.0%}",
        "min_units": min_units,
    }


def agreement_page(report: AgreementReport, *, names: Mapping[str, str], criteria: Mapping[str, str]) -> dict[str, Any]:
    """The view model of lead_agreement.html: the inter-rater report with every number in words."""

    def who(email: str) -> str:
        return names.get(email, email)

    drifting = set(report.drifting)
    per_criterion = [
        Measure(
            subject=criteria.get(key, key),
            detail=f"{report.criterion_units.get(key, 0)} submissions scored by two or more",
            numbers=(("Krippendorff's alpha", explain_alpha(alpha, report.criterion_units.get(key, 0))),),
        )
        for key, alpha in report.alpha.items()
    ]
    pairs = [
        Measure(
            subject=f"{who(pair.reviewer_a)} and {who(pair.reviewer_b)}",
            detail=f"{pair.units} criteria both scored",
            numbers=(
                ("Agreement", explain_percent(pair.percent, pair.units)),
                ("Cohen's kappa", explain_kappa(pair.kappa, pair.units, percent=pair.percent)),
            ),
        )
        for pair in report.pairs
    ]
    reviewers = [
        Measure(
            subject=who(row.reviewer_id),
            detail=f"{row.units} criteria with a majority among the other reviewers",
            numbers=(
                (
                    "Agreement",
                    explain_share(
                        row.share,
                        row.units,
                        agreed=row.agreed,
                        threshold=report.drift_threshold,
                        drifting=row.reviewer_id in drifting,
                    ),
                ),
            ),
            drifting=row.reviewer_id in drifting,
        )
        for row in report.reviewers
    ]
    return {
        "overall": explain_percent(report.percent, report.units),
        "per_criterion": per_criterion,
        "pairs": pairs,
        "reviewers": reviewers,
        "drifting": [who(r) for r in report.drifting],
        "threshold": f"{report.drift_threshold:.0%}",
        "min_units": report.min_units,
        "min_sample": MIN_SAMPLE,
    }


# --- routes ----------------------------------------------------------------------------------------


def routes(deps: WebDeps) -> APIRouter:
    """The lead reviewer's workspace under /lead (signed-in lead reviewers only)."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def admitted(request: Request) -> Identity | Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        if Role.LEAD not in who.roles:
            return accounts.render(
                request,
                "forbidden.html",
                status=403,
                heading="This workspace is for lead reviewers",
                message="The lead workspace shows adjudications, back-reads and the agreement reports to lead "
                "reviewers of the pool. If you should be one, ask the program team to mark you as a lead "
                "(lead: true in the pool file).",
                email=who.email,
            )
        return who

    def titles() -> dict[str, str]:
        return {c.id: c.title for c in services.catalog.credentials.values()}

    def criterion_titles() -> dict[tuple[str, str], str]:
        return {(cred.id, c.key): c.title for cred in services.catalog.credentials.values() for c in cred.criteria}

    def report_page(request: Request, template: str, filters: Filters, who: Identity, **context: Any) -> HTMLResponse:
        names = titles()
        return accounts.render(
            request,
            template,
            status=422 if filters.problems else 200,
            who=who,
            filters=filters,
            credentials=sorted(names.items(), key=lambda item: item[1]),
            filter_text=_filter_text(filters, names),
            **context,
        )

    @router.get("/lead", response_class=HTMLResponse, name="lead_workspace")
    def workspace(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        now = clock()
        rows = task_rows(lead_queue(services, email=who.email), now=now)
        counts = waiting_counts(services, now=now)
        return accounts.render(
            request,
            "lead.html",
            who=who,
            adjudications=[r for r in rows if r.role == "adjudication"],
            backreads=[r for r in rows if r.role == "backread"],
            counts=counts,
            waiting=waiting_words(counts),
        )

    @router.get("/lead/backreads", response_class=HTMLResponse, name="lead_backreads")
    async def backreads(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        filters = parse_filters(request.query_params, titles())
        if filters.problems:
            return report_page(request, "lead_backreads.html", filters, who, report=None)
        cases = await run_in_threadpool(backread_cases, services)
        report = backread_report(cases, where=filters.where)
        names = await run_in_threadpool(reviewer_names, services)
        page = backreads_page(report, names=names, titles=titles(), criteria=criterion_titles())
        return report_page(request, "lead_backreads.html", filters, who, report=page)

    @router.get("/lead/agreement", response_class=HTMLResponse, name="lead_agreement")
    async def agreement(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        filters = parse_filters(request.query_params, titles())
        if filters.problems:
            return report_page(request, "lead_agreement.html", filters, who, report=None)
        ratings = await run_in_threadpool(agreement_ratings, services, filters.where)
        report = agreement_report(ratings, drift_threshold=AGREEMENT_DRIFT, min_units=AGREEMENT_MIN_UNITS)
        names = await run_in_threadpool(reviewer_names, services)
        by_key = {key: title for (_, key), title in criterion_titles().items()}
        page = agreement_page(report, names=names, criteria=by_key)
        return report_page(request, "lead_agreement.html", filters, who, report=page)

    return router


def _filter_text(filters: Filters, titles: Mapping[str, str]) -> str:
    """The filters in a sentence ("All micro-credentials, decided from … to …")."""
    where = filters.where
    what = titles.get(where.credential, where.credential) if where.credential else "All micro-credentials"
    if where.start and where.end:
        return f"{what}, from {weekday_date(where.start)} to {weekday_date(where.end)}"
    if where.start:
        return f"{what}, from {weekday_date(where.start)}"
    if where.end:
        return f"{what}, up to {weekday_date(where.end)}"
    return f"{what}, all dates"
