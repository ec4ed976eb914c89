"""The signed-in reviewer's workspace: ``/reviewer`` (queue, drafts, history, declines, calibration) and
``/reviewer/calibration`` (score a gold standard in the browser, see agreement and the gold comments;
its evidence files are offered as the review page offers a submission's, under
``/reviewer/calibration/{gold}/files|video|poster/{file}``).

A signed-out visitor is sent to sign in (and back); someone signed in who is not in the reviewer
pool gets the 403 page. Everything shown is the signed-in reviewer's own: their assignments
(each opened through a review link issued for that assignment only) and the gold standards of
the credentials they are certified for. The pages' view models are plain functions
(:func:`queue_page`, :func:`gold_rows`, :func:`result_page`) of what the stages load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Identity, Role
from credflow.accounts.signin import session_key
from credflow.assignment.stage import REVIEW_BUSINESS_DAYS
from credflow.catalog.models import Credential
from credflow.db.models import CalibrationRecord, GoldStandard, Reviewer
from credflow.formatting import long_date
from credflow.keyring import KeyRing
from credflow.review.links import issue_token
from credflow.review.stage import REMINDER_BUSINESS_DAYS, EvidenceFile, ReviewerWorkspace, reviewer_workspace
from credflow.review.workspace import AssignmentFacts, short_day
from credflow.reviewers.rules import CALIBRATION_THRESHOLD, calibration_lapses_on, gold_agreement
from credflow.reviewers.stage import (
    calibrate_on_gold,
    calibration_records,
    gold_evidence,
    gold_for,
    golds_for,
    pool_reviewer,
)
from web.deps import WebDeps, sign_in_redirect
from web.evidence_files import download, file_rows, ranged
from web.forms import read_urlencoded
from web.pages.signin import FORM_FAILED

ROLE_LABELS = {"review": "Review", "adjudication": "Adjudication", "backread": "Back-read"}
VERDICTS = {"met": True, "not_yet": False}
CHOOSE = "choose Met or Not Yet"


def review_href(keys: KeyRing, item: AssignmentFacts) -> str | None:
    """The review page of one of the reviewer's own active assignments (a link issued for it alone)."""
    if item.nonce is None:
        return None
    return "/review/" + issue_token(keys, assignment_id=item.id, nonce=item.nonce, due_at=item.due_at)


@dataclass(frozen=True)
class QueueRow:
    """One assignment as the workspace lists it."""

    title: str
    kind: str
    applicant: str
    attempt: int
    assigned: str
    due: str
    overdue: bool
    soon: bool
    href: str | None
    progress: str
    closed: str
    reason: str


def _row(item: AssignmentFacts, ws: ReviewerWorkspace, *, keys: KeyRing, today: date) -> QueueRow:
    left = ws.time_left.get(item.id)
    if item.state == "submitted":
        closed = f"Submitted {long_date((item.completed_at or item.due_at).date())}"
    elif item.state == "withdrawn":
        closed = f"Withdrawn {long_date((item.completed_at or item.due_at).date())}: the deadline passed"
    elif item.state == "declined":
        closed = f"Declined {long_date((item.completed_at or item.due_at).date())}"
    else:
        closed = ""
    return QueueRow(
        title=item.credential_title,
        kind=ROLE_LABELS.get(item.role, "Review"),
        applicant=item.applicant,
        attempt=item.attempt,
        assigned=short_day(item.assigned_at.date(), today=today),
        due=left.text if left else f"was due {short_day(item.due_at.date(), today=today)}",
        overdue=bool(left and left.overdue),
        soon=bool(left and left.soon),
        href=review_href(keys, item),
        progress=f"{item.scored} of {item.criteria} criteria scored",
        closed=closed,
        reason=item.decline_reason or "",
    )


def queue_page(ws: ReviewerWorkspace, *, keys: KeyRing, today: date) -> dict[str, Any]:
    """The view model of reviewer_queue.html: each group's rows and the calibration per credential."""
    rows = {
        name: [_row(item, ws, keys=keys, today=today) for item in getattr(ws.groups, name)]
        for name in ("queue", "drafts", "history", "declines")
    }
    return {
        "name": ws.name,
        "email": ws.email,
        **rows,
        "calibration": ws.calibration,
        "review_days": REVIEW_BUSINESS_DAYS,
        "reminder_days": REMINDER_BUSINESS_DAYS,
    }


@dataclass(frozen=True)
class GoldRow:
    """One gold standard on the calibration list, with the reviewer's scorings of it."""

    id: str
    name: str
    criteria: int
    last: str
    counted: bool  # the reviewer's first scoring of it has been made (a retake is practice)


def gold_rows(golds: list[GoldStandard], records: list[CalibrationRecord]) -> list[GoldRow]:
    """Each gold standard with what the reviewer last made of it ("Scored 7 December 2026: 3 of 3 agreed")."""
    rows = []
    for gold in golds:
        mine = [r for r in records if r.gold_id == gold.id]
        last = mine[-1] if mine else None
        text = (
            f"You scored it on {long_date(last.at.date())}: {last.agreed} of {last.total} agreed with gold."
            if last
            else "Not scored yet."
        )
        rows.append(GoldRow(gold.id, gold.name, len(gold.scores), text, bool(mine)))
    return rows


@dataclass(frozen=True)
class ResultRow:
    """One criterion of a calibration result: the reviewer's verdict, gold's, and gold's comment."""

    key: str
    title: str
    given: str
    gold: str
    agreed: bool
    comment: str


def _verdict(value: bool | None) -> str:
    return "not scored" if value is None else "Met" if value else "Not Yet"


def result_page(
    credential: Credential, gold: GoldStandard, record: CalibrationRecord, *, counted: bool, reviewer: Reviewer
) -> dict[str, Any]:
    """The view model of reviewer_gold_result.html: agreement per criterion and whether it calibrated."""
    titles = {c.key: c.title for c in credential.criteria}
    given = {str(k): bool(v) for k, v in (record.scores or {}).items()}
    gold_scores = {str(k): bool(v) for k, v in gold.scores.items()}
    rows = [
        ResultRow(
            key=row.criterion,
            title=titles.get(row.criterion, row.criterion),
            given=_verdict(row.given),
            gold=_verdict(row.gold),
            agreed=row.agreed,
            comment=row.comment,
        )
        for row in gold_agreement([c.key for c in credential.criteria], gold_scores, given, gold.comments)
    ]
    share = record.agreed / record.total if record.total else 0.0
    passed = share >= CALIBRATION_THRESHOLD
    on = record.at.date()
    outcome = "practice" if not counted else "calibrated" if passed else "not_calibrated"
    return {
        "gold": gold,
        "credential": credential,
        "rows": rows,
        "agreed": record.agreed,
        "total": record.total,
        "share": f"{share:.0%}",
        "threshold": f"{CALIBRATION_THRESHOLD:.0%}",
        "outcome": outcome,
        "scored_on": long_date(on),
        "lapses_on": long_date(calibration_lapses_on(on)),
        "current": (
            f"Your calibration dates from {long_date(reviewer.calibrated_on)}."
            if reviewer.calibrated_on
            else "You are not calibrated yet."
        ),
    }


def form_sections(credential: Credential, gold: GoldStandard) -> list[tuple[str, list[Any]]]:
    """The rubric's sections with the criteria the gold standard scores (all of them, as gold files must)."""
    sections = []
    for section in credential.rubric:
        rows = [c for c in section.criteria if c.key in gold.scores]
        if rows:
            sections.append((section.title, rows))
    return sections


def read_verdicts(form: Mapping[str, str], keys: list[str]) -> tuple[dict[str, bool], dict[str, str]]:
    """The posted ``verdict__<criterion>`` fields as Met/Not Yet, and what is wrong per criterion."""
    verdicts: dict[str, bool] = {}
    problems: dict[str, str] = {}
    for key in keys:
        value = form.get(f"verdict__{key}", "")
        if value in VERDICTS:
            verdicts[key] = VERDICTS[value]
        else:
            problems[key] = CHOOSE
    return verdicts, problems


def routes(deps: WebDeps) -> APIRouter:
    """The reviewer workspace's routes under ``/reviewer``."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    keys = services.settings.keyring
    router = APIRouter()

    def forbidden(request: Request, who: Identity) -> HTMLResponse:
        return accounts.render(
            request,
            "forbidden.html",
            status=403,
            heading="You are not in the reviewer pool",
            message=f"The reviewer workspace is for trained reviewers. {who.email} is not in the program's "
            "reviewer pool: if you review for a program, ask its team to add this address to the pool "
            "(credflow reviewers import); the workspace opens as soon as they have.",
            email=who.email,
        )

    def admitted(request: Request) -> Identity | Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        if Role.REVIEWER not in who.roles:
            return forbidden(request, who)
        return who

    def not_found(request: Request) -> HTMLResponse:
        return accounts.render(
            request,
            "forbidden.html",
            status=404,
            heading="No such gold standard of yours",
            message="There is no gold standard at this address for the micro-credentials you review. "
            "Choose one from your calibration page.",
            email=who.email if (who := accounts.current(request)) else "",
        )

    @router.get("/reviewer", response_class=HTMLResponse, name="reviewer_workspace")
    def get_workspace(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        now = clock()
        ws = reviewer_workspace(services, who.email, now=now)
        if ws is None:  # left the pool since the session began
            return forbidden(request, who)
        return accounts.render(
            request, "reviewer_queue.html", section="reviewer", **queue_page(ws, keys=keys, today=now.date())
        )

    @router.get("/reviewer/calibration", response_class=HTMLResponse)
    def get_calibration(request: Request) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        with services.db.session() as session:
            reviewer = pool_reviewer(session, who.email)
            if reviewer is None:
                return forbidden(request, who)
            golds = golds_for(session, reviewer)
            rows = gold_rows(golds, calibration_records(session, reviewer))
            certified = sorted(c.credential_id for c in reviewer.certifications)
        by_credential = [
            (
                services.catalog.credentials[cid],
                [row for row, gold in zip(rows, golds, strict=True) if gold.credential_id == cid],
            )
            for cid in certified
            if cid in services.catalog.credentials
        ]
        ws = reviewer_workspace(services, who.email, now=clock())
        return accounts.render(
            request,
            "reviewer_calibration.html",
            section="reviewer",
            credentials=by_credential,
            calibration={s.credential_id: s for s in ws.calibration} if ws else {},
            threshold=f"{CALIBRATION_THRESHOLD:.0%}",
        )

    def gold_form(
        request: Request,
        secret: str,
        gold: GoldStandard,
        *,
        values: Mapping[str, str] | None = None,
        problems: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        credential = services.catalog.get(gold.credential_id)
        answers = gold.answers or {}
        problems = problems or {}
        titles = {c.key: c.title for c in credential.criteria}
        with services.db.session() as session:
            videos, downloads = file_rows(gold_evidence(session, credential, gold), f"/reviewer/calibration/{gold.id}")
        return accounts.render(
            request,
            "reviewer_gold.html",
            status=status,
            binding=f"calibrate:{gold.id}:{session_key(secret)}",
            section="reviewer",
            gold=gold,
            credential=credential,
            answers=[(req.title, str(answers[req.key])) for req in credential.text_requirements if req.key in answers],
            notes=gold.evidence_notes or "",
            videos=videos,
            downloads=downloads,
            sections=form_sections(credential, gold),
            values=dict(values or {}),
            problems=dict(problems),
            summary=[(key, titles.get(key, key), text) for key, text in problems.items()],
        )

    def reviewer_and_gold(
        request: Request, session: Session, who: Identity, gold_id: str
    ) -> tuple[Reviewer, GoldStandard] | Response:
        """The signed-in pool reviewer and one gold standard of their credentials (else the page that says why)."""
        reviewer = pool_reviewer(session, who.email)
        if reviewer is None:
            return forbidden(request, who)
        gold = gold_for(session, reviewer, gold_id[:40])
        if gold is None:
            return not_found(request)
        return reviewer, gold

    @router.get("/reviewer/calibration/{gold_id}", response_class=HTMLResponse)
    def get_gold(request: Request, gold_id: str) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        secret = accounts.secret(request)
        with services.db.session() as session:
            found = reviewer_and_gold(request, session, who, gold_id)
            if isinstance(found, Response):
                return found
            _, gold = found
            session.expunge(gold)
        values = {f"verdict__{k}": "" for k in gold.scores}
        return gold_form(request, secret or "", gold, values=values)

    @router.post("/reviewer/calibration/{gold_id}")
    async def post_gold(request: Request, gold_id: str) -> Response:
        who = await run_in_threadpool(admitted, request)
        if isinstance(who, Response):
            return who
        secret = accounts.secret(request) or ""
        form = await read_urlencoded(request, max_bytes=64 * 1024, max_fields=200)

        def load() -> tuple[Reviewer | None, GoldStandard | None]:
            with services.db.session() as session:
                reviewer = pool_reviewer(session, who.email)
                gold = gold_for(session, reviewer, gold_id[:40]) if reviewer else None
                if gold is not None:
                    session.expunge(gold)
                return reviewer, gold

        reviewer, gold = await run_in_threadpool(load)
        if reviewer is None:
            return forbidden(request, who)
        if gold is None:
            return not_found(request)
        if form is None or not accounts.form_ok(request, form, f"calibrate:{gold.id}:{session_key(secret)}"):
            return accounts.render(
                request,
                "forbidden.html",
                status=403,
                heading="This form could not be sent",
                message=FORM_FAILED,
                email=who.email,
            )
        verdicts, problems = read_verdicts(form, list(gold.scores))
        if problems:
            return gold_form(request, secret, gold, values=form, problems=problems, status=422)

        def record() -> str | None:
            with services.db.session() as session:
                reviewer = pool_reviewer(session, who.email)
                fresh = gold_for(session, reviewer, gold.id) if reviewer else None
                if reviewer is None or fresh is None:  # removed from the pool or re-imported meanwhile
                    return None
                _, made = calibrate_on_gold(session, reviewer=reviewer, gold=fresh, verdicts=verdicts, now=clock())
                return made.id

        record_id = await run_in_threadpool(record)
        if record_id is None:
            return not_found(request)
        return RedirectResponse(f"/reviewer/calibration/{gold.id}/result/{record_id}", status_code=303)

    @router.get("/reviewer/calibration/{gold_id}/result/{record_id}", response_class=HTMLResponse)
    def get_result(request: Request, gold_id: str, record_id: str) -> Response:
        who = admitted(request)
        if isinstance(who, Response):
            return who
        with services.db.session() as session:
            found = reviewer_and_gold(request, session, who, gold_id)
            if isinstance(found, Response):
                return found
            reviewer, gold = found
            records = [r for r in calibration_records(session, reviewer) if r.gold_id == gold.id]
            record = next((r for r in records if r.id == record_id[:40]), None)
            if record is None:
                return not_found(request)
            page = result_page(
                services.catalog.get(gold.credential_id), gold, record, counted=not record.practice, reviewer=reviewer
            )
        return accounts.render(request, "reviewer_gold_result.html", section="reviewer", **page)

    def gold_file(request: Request, gold_id: str, file_id: str) -> EvidenceFile | Response:
        """One file of a gold standard of the signed-in reviewer's credentials (else the page that says why)."""
        who = admitted(request)
        if isinstance(who, Response):
            return who
        with services.db.session() as session:
            found = reviewer_and_gold(request, session, who, gold_id)
            if isinstance(found, Response):
                return found
            _, gold = found
            files = gold_evidence(session, services.catalog.get(gold.credential_id), gold)
        item = next((item for item in files if item.id == file_id[:40]), None)
        return no_file() if item is None else item

    def no_file() -> PlainTextResponse:
        return PlainTextResponse("Not found: this file is not part of this gold standard.", status_code=404)

    @router.get("/reviewer/calibration/{gold_id}/files/{file_id}")
    def get_gold_file(request: Request, gold_id: str, file_id: str) -> Response:
        item = gold_file(request, gold_id, file_id)
        if isinstance(item, Response):
            return item
        return download(services.store, item.storage_key, item.name) or no_file()

    @router.get("/reviewer/calibration/{gold_id}/video/{file_id}")
    def get_gold_video(request: Request, gold_id: str, file_id: str) -> Response:
        item = gold_file(request, gold_id, file_id)
        if isinstance(item, Response):
            return item
        if item.video_key is None:
            return no_file()
        return ranged(services.store, request, item.video_key, "video/mp4") or no_file()

    @router.get("/reviewer/calibration/{gold_id}/poster/{file_id}")
    def get_gold_poster(request: Request, gold_id: str, file_id: str) -> Response:
        item = gold_file(request, gold_id, file_id)
        if isinstance(item, Response):
            return item
        if item.poster_key is None:
            return no_file()
        return ranged(services.store, request, item.poster_key, "image/jpeg") or no_file()

    return router
