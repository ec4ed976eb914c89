"""``/uploads/try``: a signed-in applicant tries a large upload (and their connection) before they need it.

The page shows one ``form.evidence-upload`` (the markup every evidence form uses, enhanced by
``/static/upload.js``) for a file requirement of the catalog. Posting it tells what arrived:
the file sent resumably (its ``upload_id``), or a small file posted by a browser without
JavaScript. Nothing joins a submission: the upload is swept like every unclaimed one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from credflow.accounts.rules import Identity
from credflow.accounts.signin import session_key
from credflow.catalog.models import EvidenceKind
from credflow.errors import NotFoundError
from credflow.formatting import human_size
from credflow.intake.resumable import accept_attribute, format_names
from web.api.resumable import Target, target_of
from web.api.uploads import applicant_keys, read_grant
from web.deps import WebDeps, sign_in_redirect

TRY_PATH = "/uploads/try"


@dataclass(frozen=True)
class TryView:
    """What the try page shows: the requirement its form answers, and what arrived (after a post)."""

    credential_id: str
    credential_title: str
    requirement_key: str
    requirement_title: str
    max_bytes: int
    max_size: str
    accept: str
    formats: str
    kind: str
    arrived: str | None = None
    problem: str | None = None


def first_video_target(deps: WebDeps) -> tuple[str, str]:
    """The catalog's first video requirement (else its first file requirement), as (credential, requirement)."""
    credentials = sorted(deps.services.catalog.credentials.values(), key=lambda c: c.id)
    for wanted in (EvidenceKind.VIDEO, None):
        for credential in credentials:
            for requirement in credential.file_requirements:
                if wanted is None or requirement.kind is wanted:
                    return credential.id, requirement.key
    raise HTTPException(404, "the catalog asks for no files")


def try_view(deps: WebDeps, target: Target, **outcome: str | None) -> TryView:
    """The page's view model for ``target``."""
    credential = deps.services.catalog.credentials[target.credential_id]
    requirement = target.requirement
    return TryView(
        credential_id=credential.id,
        credential_title=credential.title,
        requirement_key=requirement.key,
        requirement_title=requirement.title,
        max_bytes=target.max_bytes,
        max_size=human_size(target.max_bytes),
        accept=accept_attribute(requirement.formats),
        formats=format_names(requirement.formats),
        kind=requirement.kind.value,
        **outcome,
    )


def routes(deps: WebDeps) -> APIRouter:
    """The try-a-large-upload page."""
    services, accounts = deps.services, deps.accounts
    router = APIRouter()

    def target_for(credential: str | None, requirement: str | None) -> Target:
        if not credential or not requirement:
            credential, requirement = first_video_target(deps)
        try:
            return target_of(services, credential, requirement)
        except HTTPException:
            raise HTTPException(404, "no such file requirement") from None

    def page(request: Request, view: TryView, *, status: int = 200) -> Response:
        secret = accounts.secret(request) or ""
        return accounts.render(request, "upload_try.html", binding=session_key(secret), status=status, view=view)

    @router.get(TRY_PATH)
    def get_try(request: Request, credential: str | None = None, requirement: str | None = None) -> Response:
        if accounts.current(request) is None:
            return sign_in_redirect(request)
        return page(request, try_view(deps, target_for(credential, requirement)))

    @router.post(TRY_PATH)
    async def post_try(request: Request) -> Response:
        who = await run_in_threadpool(accounts.current, request)
        secret = accounts.secret(request)
        if who is None or secret is None:
            return sign_in_redirect(request)
        form = await request.form(max_files=1, max_fields=10)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        target = target_for(fields.get("credential"), fields.get("requirement"))
        if not accounts.form_ok(request, fields, session_key(secret)):
            view = try_view(deps, target, problem="This form could not be verified: reload the page and try again.")
            return page(request, view, status=403)
        upload_id = fields.get("upload_id", "")
        file = form.get("file")
        if upload_id:
            arrived, problem = await run_in_threadpool(_what_arrived, deps, who, upload_id)
        elif isinstance(file, UploadFile) and file.filename:
            size = file.size or 0
            arrived, problem = f"{file.filename} arrived through the form ({human_size(size)}).", None
        else:
            arrived, problem = None, "Choose a file to upload."
        view = try_view(deps, target, arrived=arrived, problem=problem)
        return page(request, view, status=200 if problem is None else 422)

    return router


def _what_arrived(deps: WebDeps, who: Identity, upload_id: str) -> tuple[str | None, str | None]:
    """The sentence saying which file arrived for ``upload_id``, or the problem with it."""
    keys = deps.services.settings.keyring
    try:
        grant = read_grant(keys, upload_id, tz=deps.clock().tzinfo)
    except HTTPException:
        return None, "That upload id is not valid: upload the file again."
    if not any(hmac.compare_digest(grant.applicant, mine) for mine in applicant_keys(keys, who.email)):
        return None, "That upload id is not valid: upload the file again."
    try:
        size = deps.services.store.size(grant.key)
    except NotFoundError:
        return None, f"{grant.filename} is no longer stored: upload it again."
    return f"{grant.filename} arrived whole ({human_size(size)}) and is ready to add to a draft.", None
