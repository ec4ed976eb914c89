"""The applicant's draft: start a micro-credential, write and add evidence over days, check it, ask a coach, apply.

Everything under ``/me/credentials/{credential_id}`` is for the signed-in applicant and reaches only
their own draft (another person's file or link id is a 404). ``/coach/{token}`` is a coach's private,
expiring link: the draft read-only, its files, and a comment form; no account needed. The draft
page's view model is :func:`draft_page`, a plain function of the draft. Every form carries a signed
double-submit token bound to the credential (``draft:<id>``) or the coach link (``coach:<id>``).
The pages work without JavaScript; ``/static/drafts.js`` adds live word counts.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from credflow.accounts.rules import AddressError, Identity, normalise_email
from credflow.catalog.models import Credential, EvidenceKind
from credflow.drafts.rules import (
    DEFAULT_COACH_DAYS,
    MAX_COACH_DAYS,
    DraftNotFound,
    DraftRefused,
    RequirementProblems,
    accept_list,
    answer_problem,
    coach_days,
    kind_label,
    problems_by_requirement,
    words_label,
)
from credflow.drafts.stage import (
    CoachAccess,
    CoachLinkRefused,
    DraftFileView,
    DraftView,
    NewCoachLink,
    add_comment,
    add_file,
    add_stored,
    apply_draft,
    check_draft,
    current_draft,
    draft_file,
    last_applied,
    make_coach_link,
    open_coach_link,
    prerequisites_missing,
    remove_file,
    revoke_coach_link,
    save_answers,
    start,
)
from credflow.errors import IntakeRefused, NotFoundError
from credflow.formatting import human_size, long_date
from credflow.intake.rules import NothingChanged, refusal_status
from web.api.uploads import SUBMIT_GRACE, applicant_keys, read_grant
from web.deps import WebDeps, sign_in_redirect
from web.evidence_files import content_disposition
from web.forms import read_urlencoded

log = logging.getLogger(__name__)

#: Where the draft pages live: their policy also allows this origin's scripts (``/static/drafts.js``).
PREFIX = "/me/credentials"
#: The answers form: several answers of up to 50,000 characters each, percent-encoded.
MAX_FORM_BYTES = 2 << 20
MAX_FIELDS = 100
FORM_FAILED = (
    "This form could not be verified: its security token is missing or out of date. "
    "Reload the page and send the form again."
)


# --- view models -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    """One file of a requirement as the draft page lists it."""

    id: str
    name: str
    size: str
    kept: str | None  # "kept (from attempt 1)"
    download_url: str


@dataclass(frozen=True)
class Section:
    """One requirement of the draft page: a written answer or files."""

    key: str
    title: str
    prompt: str
    is_text: bool
    answer: str
    words: str
    min_words: int | None
    max_words: int | None
    files: list[FileRow]
    accept: str
    max_bytes: int
    kind: str
    takes: str
    can_add: bool
    problem: str | None


@dataclass(frozen=True)
class DraftPage:
    """Everything draft.html shows: the view model of one draft page."""

    credential: Credential
    base: str
    csrf: str
    sections: list[Section]
    summary: list[tuple[str, str]]  # (field id, problem) for the error summary
    notice: str | None
    revising: int | None  # the attempt this draft revises
    comments: list[dict[str, str]]
    links: list[dict[str, Any]]
    new_link: NewCoachLink | None
    coach_email: str
    coach_days: str
    coach_problem: str | None
    default_days: int
    max_days: int
    saved: str

    def context(self) -> dict[str, Any]:
        """The template's variables (one per field, values as they are)."""
        return dict(vars(self))


def _when(moment: datetime) -> str:
    return f"{long_date(moment)}, {moment:%H:%M} UTC"


def draft_page(
    credential: Credential,
    draft: DraftView,
    *,
    csrf: str,
    now: datetime,
    answers: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    notice: str | None = None,
    new_link: NewCoachLink | None = None,
    coach_email: str = "",
    coach_days_text: str = "",
) -> DraftPage:
    """The draft page of one draft.

    Args:
        credential: The micro-credential drafted for.
        draft: The draft as stored.
        csrf: The forms' token.
        now: The clock's time (which coach links still work).
        answers: The answers to show (the posted ones after a refusal); default: the draft's.
        problems: What is wrong, by requirement key (or ``coach``), shown at the field and summarised.
        notice: A line at the top ("Draft saved.").
        new_link: A coach link just made (its URL is shown once).
        coach_email: The coach form's address to show again.
        coach_days_text: The coach form's days to show again.
    """
    problems = problems or {}
    shown = dict(draft.answers) if answers is None else dict(answers)
    base = f"{PREFIX}/{credential.id}/draft"
    cap_of = {req.key: req.max_size_bytes or 0 for req in credential.evidence}
    sections = []
    for req in credential.evidence:
        text = shown.get(req.key, "")
        files = [
            FileRow(
                id=f.id,
                name=f.filename,
                size=human_size(f.size),
                kept=f"kept (from attempt {f.carried_attempt})" if f.carried_attempt is not None else None,
                download_url=f"{base}/files/{f.id}",
            )
            for f in draft.files_for(req.key)
        ]
        is_text = req.kind is EvidenceKind.TEXT
        sections.append(
            Section(
                key=req.key,
                title=req.title,
                prompt=req.prompt.strip(),
                is_text=is_text,
                answer=text,
                words=words_label(req, text) if is_text else "",
                min_words=req.min_words,
                max_words=req.max_words,
                files=files,
                accept="" if is_text else accept_list(req),
                max_bytes=cap_of[req.key],
                kind=req.kind.value,
                takes="" if is_text else kind_label(req),
                can_add=not is_text and len(files) < req.max_count,
                problem=problems.get(req.key),
            )
        )
    field_of = {s.key: (f"answer-{s.key}" if s.is_text else f"file-{s.key}") for s in sections}
    summary = [
        (field_of.get(key, "coach-email" if key == "coach" else "content"), text) for key, text in problems.items()
    ]
    return DraftPage(
        credential=credential,
        base=base,
        csrf=csrf,
        sections=sections,
        summary=summary,
        notice=notice,
        revising=draft.previous_attempt,
        comments=[{"coach": c.coach, "when": _when(c.created_at), "body": c.body} for c in draft.comments],
        links=[
            {
                "id": link.id,
                "coach": link.coach_email or "a coach (link not emailed)",
                "expires": _when(link.expires_at),
                "state": "works" if link.active(now) else ("withdrawn" if link.revoked_at else "expired"),
                "active": link.active(now),
            }
            for link in draft.links
        ],
        new_link=new_link,
        coach_email=coach_email,
        coach_days=coach_days_text or str(DEFAULT_COACH_DAYS),
        coach_problem=problems.get("coach"),
        default_days=DEFAULT_COACH_DAYS,
        max_days=MAX_COACH_DAYS,
        saved=_when(draft.updated_at),
    )


def check_rows(credential: Credential, problems: Sequence[Any]) -> list[RequirementProblems]:
    """Check my evidence's problems grouped by requirement (catalog order)."""
    return problems_by_requirement(credential, problems)


# --- routes ----------------------------------------------------------------------------------------------


async def _read_urlencoded(request: Request) -> dict[str, str] | None:
    """A urlencoded form within the caps, or None."""
    return await read_urlencoded(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FIELDS)


def routes(deps: WebDeps, *, on_submitted: Callable[[str], None] | None = None) -> APIRouter:
    """The draft pages under ``/me/credentials/{credential_id}`` and the coach pages under ``/coach/{token}``.

    Args:
        deps: The app's shared dependencies.
        on_submitted: Called with the id of each new submission an Apply makes (starts its flow, as the
            HTTP intake does); an error in it is logged: the submission is already recorded.
    """
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    def credential_of(credential_id: str) -> Credential | None:
        return services.catalog.credentials.get(credential_id)

    def not_found(request: Request, what: str = "This page does not exist, or it is not yours.") -> HTMLResponse:
        return accounts.render(request, "draft_missing.html", status=404, message=what)

    def refused_form(request: Request) -> HTMLResponse:
        return accounts.render(request, "draft_missing.html", status=403, message=FORM_FAILED)

    def binding(credential_id: str) -> str:
        return f"draft:{credential_id}"

    def render_draft(
        request: Request,
        credential: Credential,
        draft: DraftView,
        *,
        status: int = 200,
        **extra: Any,
    ) -> HTMLResponse:
        page = draft_page(credential, draft, csrf="", now=clock(), **extra).context()
        del page["csrf"]  # the render's own token, paired with the form cookie it sets
        return accounts.render(request, "draft.html", binding=binding(credential.id), status=status, **page)

    async def signed_in(request: Request) -> Identity | None:
        return await run_in_threadpool(accounts.current, request)

    async def open_draft_of(who: Identity, credential: Credential) -> DraftView | None:
        if who.applicant_id is None:
            return None
        applicant_id = who.applicant_id
        return await run_in_threadpool(
            lambda: current_draft(services, applicant_id=applicant_id, credential_id=credential.id, now=clock())
        )

    def started(
        request: Request, credential: Credential, who: Identity, *, problem: str | None = None, **kw: Any
    ) -> HTMLResponse:
        missing = prerequisites_missing(services, credential, who.applicant_id)
        return accounts.render(
            request,
            "draft_start.html",
            binding=f"start:{credential.id}",
            status=kw.pop("status", 403 if missing else 200),
            credential=credential,
            known=who.applicant_id is not None,
            missing=missing,
            problem=problem,
            name=kw.pop("name", ""),
            organisation=kw.pop("organisation", ""),
        )

    # --- start ---------------------------------------------------------------------------------------

    @router.get("/me/credentials/{credential_id}/start")
    async def get_start(request: Request, credential_id: str) -> Response:
        who = await signed_in(request)
        if who is None:
            return sign_in_redirect(request)
        credential = credential_of(credential_id)
        if credential is None:
            return not_found(request, "There is no such micro-credential.")
        return await run_in_threadpool(started, request, credential, who)

    @router.post("/me/credentials/{credential_id}/start")
    async def post_start(request: Request, credential_id: str) -> Response:
        who = await signed_in(request)
        if who is None:
            return RedirectResponse(f"/sign-in?next={PREFIX}/{credential_id[:80]}/start", status_code=303)
        credential = credential_of(credential_id)
        if credential is None:
            return not_found(request, "There is no such micro-credential.")
        form = await _read_urlencoded(request)
        if form is None or not accounts.form_ok(request, form, f"start:{credential.id}"):
            return refused_form(request)
        name, organisation = form.get("name"), form.get("organisation")
        if who.applicant_id is None and name is None and organisation is None:
            # The catalog's Start button: ask who they are first.
            return await run_in_threadpool(started, request, credential, who)
        try:
            await run_in_threadpool(
                lambda: start(
                    services,
                    email=who.email,
                    credential_id=credential.id,
                    name=name,
                    organisation=organisation,
                    now=clock(),
                )
            )
        except DraftNotFound:
            return not_found(request, "There is no such micro-credential.")
        except DraftRefused as exc:
            refusal = str(exc)
            missing = await run_in_threadpool(prerequisites_missing, services, credential, who.applicant_id)
            return await run_in_threadpool(
                lambda: started(
                    request,
                    credential,
                    who,
                    problem=refusal,
                    status=403 if missing else 422,
                    name=(name or "")[:200],
                    organisation=(organisation or "")[:200],
                )
            )
        return RedirectResponse(f"{PREFIX}/{credential.id}/draft", status_code=303)

    # --- the draft page ----------------------------------------------------------------------------

    @router.get("/me/credentials/{credential_id}/draft")
    async def get_draft(request: Request, credential_id: str, saved: bool = False, applied: bool = False) -> Response:
        who = await signed_in(request)
        if who is None:
            return sign_in_redirect(request)
        credential = credential_of(credential_id)
        if credential is None:
            return not_found(request, "There is no such micro-credential.")
        draft = await open_draft_of(who, credential)
        if draft is None:
            done = (
                await run_in_threadpool(
                    lambda: last_applied(services, applicant_id=who.applicant_id or "", credential_id=credential.id)
                )
                if who.applicant_id
                else None
            )
            if done is None:
                return RedirectResponse(f"{PREFIX}/{credential.id}/start", status_code=303)
            return accounts.render(request, "draft_applied.html", credential=credential, draft=done, just=applied)
        notice = "Draft saved." if saved else ("Applied." if applied else None)
        return await run_in_threadpool(lambda: render_draft(request, credential, draft, notice=notice))

    async def draft_for_post(
        request: Request, credential_id: str, *, multipart: bool = False
    ) -> tuple[Identity, Credential, DraftView, dict[str, Any]] | Response:
        """The signed-in applicant's open draft and the posted form, once the CSRF token checks out."""
        who = await signed_in(request)
        if who is None:
            return RedirectResponse(f"/sign-in?next={PREFIX}/{credential_id[:80]}/draft", status_code=303)
        credential = credential_of(credential_id)
        if credential is None:
            return not_found(request, "There is no such micro-credential.")
        form: dict[str, Any] | None
        if multipart:
            try:
                parsed = await request.form(max_files=1, max_fields=10)
            except Exception:  # a malformed multipart body
                return refused_form(request)
            form = dict(parsed.items())
        else:
            form = await _read_urlencoded(request)
        text_fields = {k: v for k, v in (form or {}).items() if isinstance(v, str)}
        if form is None or not accounts.form_ok(request, text_fields, binding(credential.id)):
            return refused_form(request)
        draft = await open_draft_of(who, credential)
        if draft is None:
            return RedirectResponse(f"{PREFIX}/{credential.id}/draft", status_code=303)
        return who, credential, draft, form

    def posted_answers(credential: Credential, form: Mapping[str, Any]) -> dict[str, str]:
        return {
            req.key: str(form[f"answer__{req.key}"])
            for req in credential.text_requirements
            if isinstance(form.get(f"answer__{req.key}"), str)
        }

    @router.post("/me/credentials/{credential_id}/draft")
    async def post_draft(request: Request, credential_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        _, credential, draft, form = checked
        answers = posted_answers(credential, form)
        problems = {
            req.key: problem
            for req in credential.text_requirements
            if (problem := answer_problem(req.title, answers.get(req.key, ""))) is not None
        }
        if problems:
            merged = {**draft.answers, **answers}
            return await run_in_threadpool(
                lambda: render_draft(request, credential, draft, status=422, answers=merged, problems=problems)
            )
        await run_in_threadpool(
            lambda: save_answers(
                services, draft_id=draft.id, applicant_id=draft.applicant_id, answers=answers, now=clock()
            )
        )
        action = form.get("action", "save")
        if action == "check":
            return await run_in_threadpool(lambda: check_page(request, credential, draft))
        if action == "apply":
            return RedirectResponse(f"{PREFIX}/{credential.id}/draft/apply", status_code=303)
        return RedirectResponse(f"{PREFIX}/{credential.id}/draft?saved=1", status_code=303)

    def check_page(request: Request, credential: Credential, draft: DraftView) -> HTMLResponse:
        problems = check_draft(services, draft_id=draft.id, applicant_id=draft.applicant_id)
        return accounts.render(
            request,
            "draft_check.html",
            binding=binding(credential.id),
            credential=credential,
            groups=check_rows(credential, problems),
            count=len(problems),
            base=f"{PREFIX}/{credential.id}/draft",
        )

    @router.post("/me/credentials/{credential_id}/draft/check")
    async def post_check(request: Request, credential_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        _, credential, draft, _ = checked
        return await run_in_threadpool(lambda: check_page(request, credential, draft))

    # --- files -----------------------------------------------------------------------------------------

    @router.post("/me/credentials/{credential_id}/draft/files/{requirement_key}")
    async def post_file(request: Request, credential_id: str, requirement_key: str) -> Response:
        checked = await draft_for_post(request, credential_id, multipart=True)
        if isinstance(checked, Response):
            return checked
        who, credential, draft, form = checked
        upload_id = form.get("upload_id")
        sent = form.get("file")

        def refuse(problem: str, status: int) -> HTMLResponse:
            shown = requirement_key if credential.requirement(requirement_key) is not None else "content"
            return render_draft(request, credential, draft, status=status, problems={shown: problem})

        try:
            if isinstance(upload_id, str) and upload_id.strip():
                added = await run_in_threadpool(
                    lambda: add_by_grant(who, credential, draft, requirement_key, upload_id.strip())
                )
            elif isinstance(sent, UploadFile) and sent.filename:
                upload = sent
                added = await run_in_threadpool(
                    lambda: add_file(
                        services,
                        draft_id=draft.id,
                        applicant_id=draft.applicant_id,
                        requirement_key=requirement_key,
                        filename=upload.filename or "unnamed",
                        content_type=upload.content_type,
                        stream=upload.file,
                        now=clock(),
                    )
                )
            else:
                return await run_in_threadpool(refuse, "Choose a file to add first.", 422)
        except DraftNotFound:
            return not_found(request)
        except DraftRefused as exc:
            return await run_in_threadpool(refuse, str(exc), 413 if "larger than" in str(exc) else 422)
        except HTTPException as exc:
            return await run_in_threadpool(refuse, str(exc.detail), exc.status_code)
        finally:
            if isinstance(sent, UploadFile):
                await sent.close()
        notice = f"Added {added.filename}."
        response = await run_in_threadpool(
            lambda: render_draft(request, credential, _reloaded(who, credential) or draft, notice=notice)
        )
        return response

    def _reloaded(who: Identity, credential: Credential) -> DraftView | None:
        return current_draft(services, applicant_id=who.applicant_id or "", credential_id=credential.id, now=clock())

    def add_by_grant(
        who: Identity, credential: Credential, draft: DraftView, requirement_key: str, upload_id: str
    ) -> DraftFileView:
        """Record an upload grant's object (``uploads/<uuid>``) as a draft file, once the grant checks out."""
        keys = services.settings.keyring
        now = clock()
        grant = read_grant(keys, upload_id, tz=now.tzinfo)
        if now > grant.expires + SUBMIT_GRACE:
            raise HTTPException(403, f"{grant.label} expired: upload the file again.")
        if not any(hmac.compare_digest(grant.applicant, mine) for mine in applicant_keys(keys, who.email)):
            raise HTTPException(403, f"{grant.label} was issued to someone else: upload the file again.")
        if grant.credential_id != credential.id or grant.requirement_key != requirement_key:
            raise HTTPException(422, f"{grant.label} was made for another requirement: upload the file again here.")
        if services.store.exists(grant.marker_key):
            raise HTTPException(409, f"{grant.label} was already used by a submission: upload the file again.")
        return add_stored(
            services,
            draft_id=draft.id,
            applicant_id=draft.applicant_id,
            requirement_key=requirement_key,
            filename=grant.filename,
            content_type=grant.content_type,
            object_key=grant.key,
            max_bytes=grant.max_bytes,
            now=now,
        )

    @router.post("/me/credentials/{credential_id}/draft/files/{file_id}/remove")
    async def post_remove(request: Request, credential_id: str, file_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        who, credential, draft, _ = checked
        try:
            name = await run_in_threadpool(
                lambda: remove_file(
                    services, draft_id=draft.id, applicant_id=draft.applicant_id, file_id=file_id[:64], now=clock()
                )
            )
        except DraftNotFound:
            return not_found(request)
        fresh = await run_in_threadpool(_reloaded, who, credential)
        return await run_in_threadpool(
            lambda: render_draft(request, credential, fresh or draft, notice=f"Removed {name}.")
        )

    def stream_file(item: DraftFileView) -> Response:
        try:
            size = services.store.size(item.object_key)
        except NotFoundError:
            return HTMLResponse("This file is no longer stored.", status_code=410)
        return StreamingResponse(
            services.store.stream(item.object_key),
            media_type="application/octet-stream",
            headers={"Content-Disposition": content_disposition(item.filename), "Content-Length": str(size)},
        )

    @router.get("/me/credentials/{credential_id}/draft/files/{file_id}")
    async def get_file(request: Request, credential_id: str, file_id: str) -> Response:
        who = await signed_in(request)
        if who is None:
            return sign_in_redirect(request)
        credential = credential_of(credential_id)
        draft = await open_draft_of(who, credential) if credential is not None else None
        if draft is None:
            return not_found(request)
        try:
            item = await run_in_threadpool(draft_file, services, draft_id=draft.id, file_id=file_id[:64])
        except DraftNotFound:
            return not_found(request)
        return await run_in_threadpool(stream_file, item)

    # --- apply -----------------------------------------------------------------------------------------

    def apply_page(
        request: Request, credential: Credential, draft: DraftView, *, problem: str | None = None, status: int = 200
    ) -> HTMLResponse:
        texts = {req.key: req for req in credential.text_requirements}
        return accounts.render(
            request,
            "draft_apply.html",
            binding=binding(credential.id),
            status=status,
            credential=credential,
            base=f"{PREFIX}/{credential.id}/draft",
            problem=problem,
            revising=draft.previous_attempt,
            answers=[(req.title, words_label(req, draft.answers.get(key, ""))) for key, req in texts.items()],
            files=[
                (
                    (credential.requirement(f.requirement_key) or credential.evidence[0]).title,
                    f.filename,
                    human_size(f.size),
                    f.carried_attempt,
                )
                for f in draft.files
            ],
        )

    @router.get("/me/credentials/{credential_id}/draft/apply")
    async def get_apply(request: Request, credential_id: str) -> Response:
        who = await signed_in(request)
        if who is None:
            return sign_in_redirect(request)
        credential = credential_of(credential_id)
        if credential is None:
            return not_found(request, "There is no such micro-credential.")
        draft = await open_draft_of(who, credential)
        if draft is None:
            return RedirectResponse(f"{PREFIX}/{credential.id}/draft", status_code=303)
        return await run_in_threadpool(apply_page, request, credential, draft)

    def started_flow(submission_id: str) -> None:
        if on_submitted is None:
            return
        try:
            on_submitted(submission_id)
        except Exception:
            log.exception("on_submitted failed for submission %s (applied from a draft)", submission_id)

    @router.post("/me/credentials/{credential_id}/draft/apply")
    async def post_apply(request: Request, credential_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        _, credential, draft, _ = checked
        try:
            result = await run_in_threadpool(
                lambda: apply_draft(services, draft_id=draft.id, applicant_id=draft.applicant_id, now=clock())
            )
        except IntakeRefused as exc:
            message = str(exc)
            status = 409 if isinstance(exc, NothingChanged) else refusal_status(exc)
            problem = message[:1].upper() + message[1:]
            return await run_in_threadpool(
                lambda: apply_page(request, credential, draft, problem=problem, status=status)
            )
        if result.created:
            await run_in_threadpool(started_flow, result.submission_id)
        return RedirectResponse(f"{PREFIX}/{credential.id}/draft?applied=1", status_code=303)

    # --- coach links (the applicant's side) --------------------------------------------------------------

    @router.post("/me/credentials/{credential_id}/draft/coach")
    async def post_coach(request: Request, credential_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        who, credential, draft, form = checked
        email_text = str(form.get("coach_email", "")).strip()[:320]
        days_text = str(form.get("days", "")).strip()[:10]
        try:
            days = coach_days(days_text)
            email = normalise_email(email_text) if email_text else None
        except (DraftRefused, AddressError) as exc:
            message = str(exc)
            return await run_in_threadpool(
                lambda: render_draft(
                    request,
                    credential,
                    draft,
                    status=422,
                    problems={"coach": message},
                    coach_email=email_text,
                    coach_days_text=days_text,
                )
            )
        made = await run_in_threadpool(
            lambda: make_coach_link(
                services, draft_id=draft.id, applicant_id=draft.applicant_id, days=days, coach_email=email, now=clock()
            )
        )
        fresh = await run_in_threadpool(_reloaded, who, credential)
        notice = f"The link was emailed to {email}." if made.emailed else "Your coach link is ready: copy it below."
        return await run_in_threadpool(
            lambda: render_draft(request, credential, fresh or draft, status=201, notice=notice, new_link=made)
        )

    @router.post("/me/credentials/{credential_id}/draft/coach/{link_id}/revoke")
    async def post_revoke(request: Request, credential_id: str, link_id: str) -> Response:
        checked = await draft_for_post(request, credential_id)
        if isinstance(checked, Response):
            return checked
        who, credential, draft, _ = checked
        try:
            await run_in_threadpool(
                lambda: revoke_coach_link(
                    services, draft_id=draft.id, applicant_id=draft.applicant_id, link_id=link_id[:64], now=clock()
                )
            )
        except DraftNotFound:
            return not_found(request)
        fresh = await run_in_threadpool(_reloaded, who, credential)
        return await run_in_threadpool(
            lambda: render_draft(request, credential, fresh or draft, notice="The coach link no longer works.")
        )

    # --- the coach's pages -------------------------------------------------------------------------------

    def coach_refused(request: Request, exc: CoachLinkRefused) -> HTMLResponse:
        return accounts.render(request, "coach_problem.html", status=exc.problem.status, message=exc.problem.message)

    def coach_page(
        request: Request,
        token: str,
        access: CoachAccess,
        *,
        comment: str = "",
        problem: str | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        credential = services.catalog.get(access.draft.credential_id)
        base = f"/coach/{token}"
        sections = []
        for req in credential.evidence:
            sections.append(
                {
                    "title": req.title,
                    "prompt": req.prompt.strip(),
                    "is_text": req.kind is EvidenceKind.TEXT,
                    "answer": access.draft.answers.get(req.key, ""),
                    "words": words_label(req, access.draft.answers.get(req.key, ""))
                    if req.kind is EvidenceKind.TEXT
                    else "",
                    "files": [
                        {"name": f.filename, "size": human_size(f.size), "url": f"{base}/files/{f.id}"}
                        for f in access.draft.files_for(req.key)
                    ],
                }
            )
        return accounts.render(
            request,
            "coach.html",
            binding=f"coach:{access.link_id}",
            status=status,
            credential=credential,
            applicant=access.applicant_name,
            sections=sections,
            comments=[{"coach": c.coach, "when": _when(c.created_at), "body": c.body} for c in access.draft.comments],
            action=base,
            expires=_when(access.expires_at),
            comment=comment,
            problem=problem,
            notice=notice,
        )

    @router.get("/coach/{token}")
    async def get_coach(request: Request, token: str, sent: bool = False) -> Response:
        try:
            access = await run_in_threadpool(lambda: open_coach_link(services, token, now=clock()))
        except CoachLinkRefused as exc:
            return coach_refused(request, exc)
        return await run_in_threadpool(
            lambda: coach_page(request, token, access, notice="Your comment was sent." if sent else None)
        )

    @router.post("/coach/{token}")
    async def post_coach_comment(request: Request, token: str) -> Response:
        try:
            access = await run_in_threadpool(lambda: open_coach_link(services, token, now=clock()))
        except CoachLinkRefused as exc:
            return coach_refused(request, exc)
        form = await _read_urlencoded(request)
        if form is None or not accounts.form_ok(request, form, f"coach:{access.link_id}"):
            return accounts.render(request, "coach_problem.html", status=403, message=FORM_FAILED)
        body = form.get("comment", "")
        try:
            await run_in_threadpool(lambda: add_comment(services, token, body, now=clock()))
        except CoachLinkRefused as exc:
            return coach_refused(request, exc)
        except DraftRefused as exc:
            message = str(exc)
            return await run_in_threadpool(
                lambda: coach_page(request, token, access, comment=body[:6000], problem=message, status=422)
            )
        return RedirectResponse(f"/coach/{token}?sent=1", status_code=303)

    @router.get("/coach/{token}/files/{file_id}")
    async def get_coach_file(request: Request, token: str, file_id: str) -> Response:
        try:
            access = await run_in_threadpool(lambda: open_coach_link(services, token, now=clock()))
        except CoachLinkRefused as exc:
            return coach_refused(request, exc)
        try:
            item = await run_in_threadpool(draft_file, services, draft_id=access.draft.id, file_id=file_id[:64])
        except DraftNotFound:
            return not_found(request, "This file is not part of the draft.")
        return await run_in_threadpool(stream_file, item)

    return router
