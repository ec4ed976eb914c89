"""The reviewer's web page: a private link opens the evidence, the rubric form and the decline form.

Everything under ``/review/{token}`` is reached through the link token only: a forged,
expired or revoked token gets the 403 page and nothing of the submission. Pages render
server-side with no JavaScript; forms post back with a signed double-submit CSRF token.
The page's view model is :func:`review_page`, a plain function of the review's context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from credflow.accounts.rules import Role
from credflow.catalog.models import Credential, Criterion
from credflow.db.models import Assignment, EvidenceItem
from credflow.review.links import AccessDenied
from credflow.review.rules import ScoringError
from credflow.review.stage import (
    EvidenceFile,
    ReviewContext,
    decline,
    open_assignment,
    open_verdicts,
    review_context,
    reviewer_workspace,
    save_draft,
    submit_review,
)
from web.csrf import COOKIE, FIELD, CsrfTokens
from web.deps import WebDeps
from web.evidence_files import FileRow, download, file_rows, ranged
from web.pages.reviewing import review_href

log = logging.getLogger(__name__)

#: Form posts larger than this are refused (comments are capped at 5,000 characters each anyway).
MAX_FORM_BYTES = 1 << 20
MAX_FIELDS = 1000

VERDICT_LABELS = {"met": "Met", "not_yet": "Not Yet"}
#: The signed-in reviewer's workspace (web/pages/reviewing.py).
QUEUE = "/reviewer"
ROLE_LABELS = {"review": "Review", "adjudication": "Adjudication", "backread": "Back-read"}

CSRF_FAILED = (
    "This form could not be verified: its security token is missing or does not match this review link. "
    "Open the review link again from your assignment email and send the form from that page."
)


@dataclass(frozen=True)
class OtherScore:
    """Another reviewer's verdict on a split criterion, as an adjudicator sees it (label, never name)."""

    label: str
    verdict: str
    comment: str


@dataclass(frozen=True)
class CriterionRow:
    """One criterion of the form: the rubric text, the reviewer's values and any problem with them."""

    key: str
    title: str
    met: str
    verdict: str
    comment: str
    problem: str | None
    others: tuple[OtherScore, ...]


def _due_text(due: datetime) -> str:
    return f"{due:%A} {due.day} {due:%B %Y}, {due:%H:%M} UTC"


def scores_from_form(form: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``verdict__<criterion>`` and ``comment__<criterion>`` fields as the domain's scores mapping."""
    scores: dict[str, dict[str, str]] = {}
    for name, value in form.items():
        field, sep, key = name.partition("__")
        if sep and key and field in ("verdict", "comment"):
            scores.setdefault(key, {})[field] = value
    return scores


def _sections(
    ctx: ReviewContext, values: Mapping[str, Any], problems: Mapping[str, str]
) -> list[tuple[str, list[CriterionRow]]]:
    scored = {c.key for c in ctx.criteria}
    sections = []
    for section in ctx.credential.rubric:
        rows = [_row(c, ctx, values, problems) for c in section.criteria if c.key in scored]
        if rows:
            sections.append((section.title, rows))
    return sections


def _row(
    criterion: Criterion, ctx: ReviewContext, values: Mapping[str, Any], problems: Mapping[str, str]
) -> CriterionRow:
    value = values.get(criterion.key) or {}
    others = []
    for review in ctx.other_reviews:
        theirs = (review.get("scores") or {}).get(criterion.key) or {}
        verdict = str(theirs.get("verdict") or "")
        others.append(
            OtherScore(
                label=str(review["label"]),
                verdict=VERDICT_LABELS.get(verdict, "not scored"),
                comment=str(theirs.get("comment") or ""),
            )
        )
    return CriterionRow(
        key=criterion.key,
        title=criterion.title,
        met=criterion.met,
        verdict=str(value.get("verdict") or ""),
        comment=str(value.get("comment") or ""),
        problem=problems.get(criterion.key),
        others=tuple(others),
    )


@dataclass(frozen=True)
class ReviewPage:
    """Everything review.html shows: the view model of one review page."""

    base: str
    csrf: str
    role: str
    kind: str
    reviewer: str
    credential: Credential
    applicant: str
    attempt: int
    due_iso: str
    due_text: str
    answers: list[dict[str, str]]
    videos: list[FileRow]
    downloads: list[FileRow]
    sections: list[tuple[str, list[CriterionRow]]]
    summary: list[tuple[str, str, str]]
    general: list[str]
    reason: str
    reason_problem: str | None
    notice: str | None
    signed_in: str | None
    queue_href: str | None

    def context(self) -> dict[str, Any]:
        """The template's variables (one per field, values as they are)."""
        return dict(vars(self))


def review_page(
    ctx: ReviewContext,
    *,
    base: str,
    csrf: str,
    values: Mapping[str, Any] | None = None,
    problems: Mapping[str, str] | None = None,
    reason: str = "",
    notice: str | None = None,
    signed_in: str | None = None,
    queue_href: str | None = None,
) -> ReviewPage:
    """The review page of an assignment: its evidence, its rubric form and the decline form.

    Args:
        ctx: The assignment's review context.
        base: The page's path (``/review/<token>``); its file, video and poster links go under it.
        csrf: The forms' CSRF token.
        values: The form's values to show (the posted ones after a refusal); default: the saved scores.
        problems: What is wrong, by criterion key (``"reason"`` for the decline form; other keys are general).
        reason: The decline reason to show again.
        notice: A line at the top ("Draft saved.").
        signed_in: "Signed in as …" when a session is recognised.
        queue_href: The signed-in reviewer's queue, linked at the top (None for a link opened signed out).
    """
    problems = problems or {}
    sections = _sections(ctx, ctx.scores if values is None else values, problems)
    titles = {row.key: row.title for _, rows in sections for row in rows}
    videos, downloads = file_rows(ctx.files, base)
    return ReviewPage(
        base=base,
        csrf=csrf,
        role=ctx.role,
        kind=ROLE_LABELS.get(ctx.role, "Review"),
        reviewer=ctx.reviewer_name,
        credential=ctx.credential,
        applicant=ctx.applicant,
        attempt=ctx.attempt,
        due_iso=ctx.due_at.isoformat(),
        due_text=_due_text(ctx.due_at),
        answers=[{"title": title, "text": text} for _, title, text in ctx.answers],
        videos=videos,
        downloads=downloads,
        sections=sections,
        summary=[(key, titles[key], text) for key, text in problems.items() if key in titles],
        general=[f"{key}: {text}" for key, text in problems.items() if key not in titles and key != "reason"],
        reason=reason,
        reason_problem=problems.get("reason"),
        notice=notice,
        signed_in=signed_in,
        queue_href=queue_href,
    )


def routes(
    deps: WebDeps,
    *,
    on_review_submitted: Callable[[str], None] | None = None,
) -> APIRouter:
    """The review page, its form posts and its evidence files, all under ``/review/{token}``.

    Args:
        deps: The app's shared dependencies.
        on_review_submitted: Called with the submission id after the final submit that leaves no
            verdict open, or after a decline (wired to aggregation or reassignment); an error in it
            is logged, never shown to the reviewer, whose review is already recorded.
    """
    services, pages, clock, accounts = deps.services, deps.pages, deps.clock, deps.accounts
    tokens = CsrfTokens(services.settings.keyring)
    router = APIRouter()

    def denied(message: str, *, heading: str = "This review link cannot be opened") -> HTMLResponse:
        return pages.render("denied.html", status=403, heading=heading, message=message)

    def not_found() -> PlainTextResponse:
        return PlainTextResponse("Not found: this file is not part of the submission under review.", status_code=404)

    def missing(evidence_id: str) -> PlainTextResponse:
        # The retention sweep deletes old evidence bytes but keeps the record: say so, not "not found".
        with services.db.session() as session:
            record = session.get(EvidenceItem, evidence_id)
            if record is not None and record.purged_at is not None:
                return PlainTextResponse("This file was removed under the retention policy.", status_code=410)
        return not_found()

    def is_reviewer(request: Request) -> bool:
        who = accounts.current(request)
        return who is not None and Role.REVIEWER in who.roles

    def finished(request: Request, assignment: Assignment, outcome: str) -> HTMLResponse:
        """The thank-you page; a signed-in reviewer of this assignment goes on to their queue and next review."""
        who = accounts.current(request)
        mine = who is not None and who.email == assignment.reviewer.email
        workspace = reviewer_workspace(services, who.email, now=clock()) if who is not None and mine else None
        up = workspace.next_up if workspace else None
        return pages.render(
            "done.html",
            outcome=outcome,
            role=assignment.role,
            queue_href=QUEUE if workspace else None,
            next_href=review_href(services.settings.keyring, up) if workspace and up else None,
            next_title=f"{ROLE_LABELS.get(up.role, 'Review')} of {up.applicant}, {up.credential_title}" if up else "",
            next_due=workspace.time_left[up.id].text if workspace and up else "",
        )

    def base_of(request: Request, token: str) -> str:
        return request.url_for("review_page", token=token).path

    def review_response(
        request: Request,
        token: str,
        ctx: ReviewContext,
        *,
        csrf: str,
        values: Mapping[str, Any] | None = None,
        problems: Mapping[str, str] | None = None,
        reason: str = "",
        notice: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        page = review_page(
            ctx,
            base=base_of(request, token),
            csrf=csrf,
            values=values,
            problems=problems,
            reason=reason,
            notice=notice,
            signed_in=accounts.signed_in_line(request),  # links work signed out; a session is recognised
            queue_href=QUEUE if is_reviewer(request) else None,
        )
        return pages.render("review.html", status=status, **page.context())

    def notify(submission_id: str) -> None:
        if on_review_submitted is None:
            return
        try:
            on_review_submitted(submission_id)
        except Exception:
            # The review is already recorded: the reviewer is told so, and the operator finds the error in the log.
            log.exception("on_review_submitted failed for submission %s", submission_id)

    async def read_form(request: Request) -> dict[str, str] | Response:
        """The urlencoded form of a post, read in bounded memory."""
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            return PlainTextResponse("Send the form as application/x-www-form-urlencoded.", status_code=415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return PlainTextResponse("The form is too large.", status_code=413)
        try:
            fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            return PlainTextResponse("The form has too many fields.", status_code=413)
        return dict(fields)

    async def open_for_post(request: Request, token: str) -> tuple[Assignment, dict[str, str]] | Response:
        """The link's assignment and the posted form, once the link and the CSRF token check out."""
        try:
            assignment = await run_in_threadpool(open_assignment, services, token, now=clock())
        except AccessDenied as exc:
            return denied(str(exc))
        form = await read_form(request)
        if isinstance(form, Response):
            return form
        if not tokens.accepts(cookie=request.cookies.get(COOKIE), field=form.get(FIELD), assignment_id=assignment.id):
            return denied(CSRF_FAILED, heading="This form could not be sent")
        return assignment, form

    async def rerender(
        request: Request,
        token: str,
        assignment: Assignment,
        form: dict[str, str],
        problems: Mapping[str, str],
        **extra: Any,
    ) -> HTMLResponse:
        ctx = await run_in_threadpool(review_context, services, assignment.id)
        return review_response(request, token, ctx, csrf=form[FIELD], problems=problems, status=422, **extra)

    @router.get("/review/{token}", name="review_page")
    def get_review_page(request: Request, token: str, saved: bool = False) -> Response:
        try:
            assignment = open_assignment(services, token, now=clock())
        except AccessDenied as exc:
            return denied(str(exc))
        ctx = review_context(services, assignment.id)
        cookie = request.cookies.get(COOKIE)
        # Keep a valid token, so two open tabs of the same link can both post.
        csrf = cookie if cookie and tokens.valid_for(cookie, assignment.id) else tokens.issue(assignment.id)
        response = review_response(request, token, ctx, csrf=csrf, notice="Draft saved." if saved else None)
        if csrf != cookie:
            response.set_cookie(
                COOKIE,
                csrf,
                path=base_of(request, token),
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https" or services.settings.public_url.startswith("https://"),
            )
        return response

    @router.post("/review/{token}/draft")
    async def post_draft(request: Request, token: str) -> Response:
        opened = await open_for_post(request, token)
        if isinstance(opened, Response):
            return opened
        assignment, form = opened
        scores = scores_from_form(form)
        try:
            await run_in_threadpool(save_draft, services, assignment.id, scores)
        except ScoringError as exc:
            return await rerender(request, token, assignment, form, exc.problems, values=scores)
        except AccessDenied as exc:
            return denied(str(exc))
        return RedirectResponse(f"{base_of(request, token)}?saved=1", status_code=303)

    @router.post("/review/{token}/submit")
    async def post_submit(request: Request, token: str) -> Response:
        opened = await open_for_post(request, token)
        if isinstance(opened, Response):
            return opened
        assignment, form = opened
        scores = scores_from_form(form)
        try:
            submission_id = await run_in_threadpool(submit_review, services, assignment.id, scores, now=clock())
        except ScoringError as exc:
            return await rerender(request, token, assignment, form, exc.problems, values=scores)
        except AccessDenied as exc:
            return denied(str(exc))
        if await run_in_threadpool(open_verdicts, services, submission_id) == 0:
            await run_in_threadpool(notify, submission_id)  # the last verdict: decide now, not once per review
        return await run_in_threadpool(finished, request, assignment, "submitted")

    @router.post("/review/{token}/decline")
    async def post_decline(request: Request, token: str) -> Response:
        opened = await open_for_post(request, token)
        if isinstance(opened, Response):
            return opened
        assignment, form = opened
        reason = form.get("reason", "")
        try:
            submission_id = await run_in_threadpool(decline, services, assignment.id, reason, now=clock())
        except ScoringError as exc:
            return await rerender(request, token, assignment, form, exc.problems, reason=reason)
        except AccessDenied as exc:
            return denied(str(exc))
        await run_in_threadpool(notify, submission_id)
        return await run_in_threadpool(finished, request, assignment, "declined")

    def evidence_of(token: str, evidence_id: str) -> EvidenceFile | Response:
        try:
            assignment = open_assignment(services, token, now=clock())
        except AccessDenied as exc:
            return denied(str(exc))
        ctx = review_context(services, assignment.id)
        found = next((item for item in ctx.files if item.id == evidence_id), None)
        return not_found() if found is None else found

    @router.get("/review/{token}/files/{evidence_id}")
    def get_file(token: str, evidence_id: str) -> Response:
        item = evidence_of(token, evidence_id)
        if isinstance(item, Response):
            return item
        return download(services.store, item.storage_key, item.name) or missing(item.id)

    @router.get("/review/{token}/video/{evidence_id}")
    def video(request: Request, token: str, evidence_id: str) -> Response:
        item = evidence_of(token, evidence_id)
        if isinstance(item, Response):
            return item
        if item.video_key is None:
            return not_found()
        return ranged(services.store, request, item.video_key, "video/mp4") or not_found()

    @router.get("/review/{token}/poster/{evidence_id}")
    def poster(request: Request, token: str, evidence_id: str) -> Response:
        item = evidence_of(token, evidence_id)
        if isinstance(item, Response):
            return item
        if item.poster_key is None:
            return not_found()
        return ranged(services.store, request, item.poster_key, "image/jpeg") or not_found()

    return router
