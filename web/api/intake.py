"""The HTTP intake (mounted at /api): the same intake as the CLI, with an OpenAPI schema.

An applicant reads only their own submissions. The API token that says so is made only by
someone who proved the address: a signed-in person makes one on the home page (``/me``), never
on submit; it expires and can be revoked. A first submission for a new address needs no token;
an address that already has an applicant record needs its token (401 otherwise), so nobody who
merely knows an address can read, resubmit or change that applicant's record, and a refusal
names none of their submissions.
Large files can go straight to storage first (``POST /api/uploads``, see
:mod:`web.api.uploads`) and join the submission by reference.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Header, HTTPException, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import select

from credflow.accounts.tokens import TokenRefused, how_to_get_one, token_email
from credflow.db.models import Applicant, utcnow
from credflow.errors import CredflowError, IntakeRefused, NotFoundError
from credflow.intake.rules import (
    ApplicantInfo,
    CarryOver,
    IntakeInvalid,
    IntakeRequest,
    Upload,
    check_keys,
    check_request,
    parse_answers,
    refusal_status,
)
from credflow.intake.stage import submit
from credflow.services import Services
from credflow.submissions import get_submission
from web.api.docs import register_docs_routes
from web.api.uploads import register_upload_routes, release_uploads, take_uploads
from web.limits import submission_limits
from web.request_errors import short_validation_error

BEARER = "'Authorization: Bearer <token>'"


class SubmissionOut(BaseModel):
    """A submission as its applicant sees it."""

    submission_id: str
    credential_id: str
    attempt: int
    state: str
    created: bool = Field(description="False when the same submission was already recorded (idempotent intake).")
    problems: list[dict[str, Any]] = Field(default_factory=list, description="Why it was returned, if it was.")


def _uploads(keys: list[str] | None, files: list[UploadFile] | None) -> list[Upload]:
    """Pair each file with its requirement key (one key per file, in order)."""
    files, keys = files or [], keys or []
    if len(keys) != len(files):
        raise HTTPException(422, f"{len(files)} files but {len(keys)} requirement_keys: send one key per file")
    return [Upload(k, f.filename or "unnamed", f.file, f.content_type) for k, f in zip(keys, files, strict=True)]


def _answers(text: str | None, default: dict[str, Any]) -> dict[str, Any]:
    """The answers form field as a JSON object (``default`` when absent)."""
    if text is None:
        return default
    try:
        return parse_answers(text)  # within intake's size and nesting caps ('[' x 200,000 was a 500)
    except IntakeInvalid as exc:
        raise HTTPException(422, str(exc)) from None


def create_intake_app(
    services: Services,
    *,
    on_submitted: Callable[[str], None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The intake API; ``on_submitted(submission_id)`` starts the submission flow for a new one.

    Args:
        services: The composition root's services.
        on_submitted: Called with the id of each new submission.
        now: The clock (aware UTC datetimes) for upload URLs' expiry, for tests that simulate time.

    Returns:
        The FastAPI application, to mount at ``/api``.
    """
    clock = now or utcnow
    api = FastAPI(
        title="credflow intake",
        version="1",
        description="Submit evidence for a micro-credential and follow your submissions.",
        dependencies=[submission_limits],  # per applicant; per address in RequestLimits, before the body
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: web.api.docs serves it from a package
        redoc_url=None,
    )
    register_docs_routes(api)
    api.add_exception_handler(RequestValidationError, short_validation_error)  # no input echoed back

    def verified_email(authorization: str | None) -> str | None:
        """The address a ``Bearer`` token speaks for; None without a token (401 for a bad one)."""
        if authorization is None:
            return None
        if not authorization.startswith("Bearer "):
            raise HTTPException(
                401, f"send your API token as 'Authorization: Bearer <token>': {how_to_get_one(services)}"
            )
        try:
            return token_email(services, authorization.removeprefix("Bearer ").strip(), now=clock())
        except TokenRefused as exc:
            raise HTTPException(401, str(exc)) from None

    def applicant_of(email: str) -> str | None:
        with services.db.session() as session:
            return session.scalar(select(Applicant.id).where(Applicant.email == email))

    def require_email(authorization: str | None) -> str:
        """The token's verified address; 401 without a token."""
        email = verified_email(authorization)
        if email is None:
            raise HTTPException(
                401, f"send your API token as 'Authorization: Bearer <token>': {how_to_get_one(services)}"
            )
        return email

    def caller(authorization: str | None) -> str | None:
        """The applicant id of a token's address (None while that address has not submitted)."""
        return applicant_of(require_email(authorization))

    register_upload_routes(api, services, caller=caller, now=clock)

    def refuse_unknown_keys(request: IntakeRequest, uploaded: list[str] | None) -> None:
        """Refuse a request over its caps (4xx), then keys the credential does not ask for (422), storing nothing.

        The intake checks the caps again; only the catalog knows the keys.
        """
        try:
            check_request(request)
            credential = services.catalog.get(request.credential_id)
        except IntakeRefused as exc:
            raise HTTPException(refusal_status(exc), str(exc)) from None
        except NotFoundError:
            return  # the intake names the unknown credential
        files = [u.requirement_key for u in request.uploads] + [c.requirement_key for c in request.carried]
        try:
            check_keys(credential, answers=request.answers, files=files + [e.partition(":")[0] for e in uploaded or []])
        except IntakeInvalid as exc:
            raise HTTPException(422, f"{exc}. Nothing was stored.") from None

    def out(submission_id: str, *, created: bool) -> SubmissionOut:
        with services.db.session() as session:
            sub = get_submission(session, submission_id)
            return SubmissionOut(
                submission_id=sub.id,
                credential_id=sub.credential_id,
                attempt=sub.attempt,
                state=sub.state,
                created=created,
                problems=list(sub.problems or []),
            )

    @api.post("/submissions", response_model=SubmissionOut, status_code=201)
    def create_submission(
        name: Annotated[str, Form()],
        email: Annotated[str, Form()],
        organisation: Annotated[str, Form()],
        credential_id: Annotated[str, Form()],
        answers: Annotated[str, Form(description="JSON object: question key -> answer text.")] = "{}",
        requirement_keys: Annotated[list[str] | None, Form(description="One per file, in the files' order.")] = None,
        files: Annotated[list[UploadFile] | None, File()] = None,
        uploaded: Annotated[
            list[str] | None, Form(description="'<requirement key>:<upload_id>' of each file sent to an upload URL.")
        ] = None,
        idempotency_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> SubmissionOut:
        """Submit evidence (multipart). The same submission sent twice is one submission.

        A new address needs no token. An address with an applicant record needs its API token
        (`Authorization: Bearer <token>`, made after signing in at `/sign-in`): 401 without it.
        """
        verified = verified_email(authorization)
        address = email.strip().lower()
        if verified is not None and verified != address:
            raise HTTPException(
                403, "this API token is for another address: send the token of the address you submit for"
            )
        if verified is None and applicant_of(address) is not None:
            raise HTTPException(
                401,
                "this address already has an applicant record, so a submission for it needs its API token "
                f"('Authorization: Bearer <token>'): {how_to_get_one(services)}",
            )
        uploads = _uploads(requirement_keys, files)
        parsed = _answers(answers, {})
        refuse_unknown_keys(
            IntakeRequest(ApplicantInfo(name, email, organisation), credential_id, parsed, uploads), uploaded
        )
        taken = take_uploads(services, uploaded, email=email, credential_id=credential_id, now=clock())
        recorded: str | None = None
        try:
            result = submit(
                services,
                IntakeRequest(
                    applicant=ApplicantInfo(name=name, email=email, organisation=organisation),
                    credential_id=credential_id,
                    answers=parsed,
                    uploads=[*uploads, *(t.upload for t in taken)],
                    idempotency_key=idempotency_key,
                    address_verified=verified is not None,
                ),
            )
            recorded = result.submission_id
        except IntakeRefused as exc:
            raise HTTPException(refusal_status(exc), str(exc)) from None
        except CredflowError as exc:
            raise HTTPException(400, str(exc)) from None
        finally:
            release_uploads(services, taken, submission_id=recorded)
        if result.created and on_submitted is not None:
            on_submitted(result.submission_id)
        return out(result.submission_id, created=result.created)

    @api.post("/submissions/{submission_id}/resubmit", response_model=SubmissionOut, status_code=201)
    def resubmit(
        submission_id: str,
        authorization: Annotated[str | None, Header()] = None,
        answers: Annotated[str | None, Form(description="JSON object; default: the previous answers.")] = None,
        carry_over: Annotated[
            list[str] | None, Form(description="'<requirement key>:<sha256>' of each unchanged file, not sent again.")
        ] = None,
        requirement_keys: Annotated[list[str] | None, Form(description="One per new file, in order.")] = None,
        files: Annotated[list[UploadFile] | None, File()] = None,
        uploaded: Annotated[
            list[str] | None, Form(description="'<requirement key>:<upload_id>' of each file sent to an upload URL.")
        ] = None,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> SubmissionOut:
        """Start the next attempt after "not yet": send changed files, name unchanged ones by hash."""
        mine = require_email(authorization)
        uploads = _uploads(requirement_keys, files)
        try:
            with services.db.session() as session:
                previous = get_submission(session, submission_id)
                if previous.applicant.email != mine:
                    raise HTTPException(403, "this submission is not yours")
                who = ApplicantInfo(previous.applicant.name, previous.applicant.email, previous.applicant.organisation)
                credential_id, old_answers = previous.credential_id, dict(previous.answers)
        except NotFoundError:
            raise HTTPException(404, "no such submission") from None
        carried = []
        for entry in carry_over or []:
            key, _, sha = entry.partition(":")
            if not key or len(sha) != 64:
                raise HTTPException(422, f"carry_over {entry!r}: use '<requirement key>:<sha256>'")
            carried.append(CarryOver(key, sha.lower()))
        parsed = _answers(answers, old_answers)
        refuse_unknown_keys(IntakeRequest(who, credential_id, parsed, uploads, carried=carried), uploaded)
        taken = take_uploads(services, uploaded, email=who.email, credential_id=credential_id, now=clock())
        recorded: str | None = None
        try:
            result = submit(
                services,
                IntakeRequest(
                    applicant=who,
                    credential_id=credential_id,
                    answers=parsed,
                    uploads=[*uploads, *(t.upload for t in taken)],
                    carried=carried,
                    previous_id=submission_id,
                    idempotency_key=idempotency_key,
                ),
            )
            recorded = result.submission_id
        except IntakeRefused as exc:
            raise HTTPException(refusal_status(exc), str(exc)) from None
        finally:
            release_uploads(services, taken, submission_id=recorded)
        if result.created and on_submitted is not None:
            on_submitted(result.submission_id)
        return out(result.submission_id, created=result.created)

    @api.get("/submissions/{submission_id}", response_model=SubmissionOut)
    def read_submission(submission_id: str, authorization: Annotated[str | None, Header()] = None) -> SubmissionOut:
        """Read one of your submissions (403 for anyone else's)."""
        mine = require_email(authorization)
        try:
            with services.db.session() as session:
                owner = get_submission(session, submission_id).applicant.email
        except NotFoundError:
            raise HTTPException(404, "no such submission") from None
        if owner != mine:
            raise HTTPException(403, "this submission is not yours")
        return out(submission_id, created=False)

    return api
