"""Resumable uploads of large evidence files (1-4 GB videos from a phone) for signed-in applicants.

Two ways, one per store, both resumable after a dropped connection or a closed tab:

* **The local store: the tus protocol** (tus.io 1.0: core, creation, termination), served by
  ``tuspyserver``'s FastAPI router at ``/uploads/tus/`` and spoken by ``tus-js-client`` in the
  browser. The bytes go to ``<data dir>/resumable/<uid>`` as they arrive (no buffering); a
  ``HEAD`` tells a resumed upload where to go on. ``POST /uploads/tus/{uid}/complete`` then
  sniffs the whole file, moves it into the store as ``uploads/<uuid>`` and answers a signed
  ``upload_id`` exactly as :mod:`web.api.uploads` grants make them.
* **S3: multipart straight to the bucket.** ``POST /uploads/s3`` starts a multipart upload of
  ``uploads/<uuid>`` and answers a signed token; the browser asks for presigned part URLs
  (``/uploads/s3/parts``), PUTs the parts to S3 itself, asks which parts S3 holds when it
  resumes (``/uploads/s3/status``), and ``/uploads/s3/complete`` has credflow join the parts,
  sniff the head of the object and answer the ``upload_id``.

Every request names the signed-in person (the session cookie); an upload is bound to its
applicant, credential and requirement when it starts, and another person's upload is a 404.
The declared size and kind are checked before any byte is accepted
(:func:`credflow.intake.resumable.check_declared`), the bytes again when the last one arrived.
tuspyserver reads a PATCH body in its dependencies, so the checks run in a router-level
dependency (FastAPI resolves those first), before a byte is read. JSON calls need a JSON body
and tus calls the ``Tus-Resumable`` header: neither can come from another site's form.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, Field
from tuspyserver import create_tus_router

from credflow.accounts.rules import Identity
from credflow.catalog.models import EvidenceKind, EvidenceRequirement
from credflow.errors import NotFoundError
from credflow.intake.resumable import (
    RESUME_WINDOW,
    Declared,
    Refusal,
    UploadRefused,
    check_complete,
    check_declared,
    check_sniffed,
    part_plan,
)
from credflow.keyring import KeyRing, Purpose
from credflow.services import Services
from credflow.storage.base import DirectMultipart, UploadReceiver
from credflow.validation.sniff import HEAD_BYTES, sniff
from web.api.uploads import UPLOAD_PREFIX, UploadGrant, applicant_keys, issue_grant, upload_limit
from web.deps import WebDeps

#: Where the tus protocol is served (its creation URL is ``TUS_PATH + "/"``).
TUS_PATH = "/uploads/tus"
#: Every path of this module starts so; :func:`web.limits.body_cap` lets a tus PATCH carry a large body here.
RESUMABLE_PREFIX = "/uploads/"
TUS_VERSION = "1.0.0"
#: The largest body the browser sends in one tus PATCH: a connection lost loses at most the rest of one.
TUS_CHUNK_BYTES = 64 << 20
#: The status of each refusal by the rules.
REFUSAL_STATUS = {Refusal.TOO_LARGE: 413, Refusal.WRONG_KIND: 415, Refusal.EMPTY: 422, Refusal.INCOMPLETE: 409}
_UID_HEX = 64  # a tus upload's id: the upload's uuid (32 hex) and its owner's tag (32 hex)
_METADATA_KEYS = ("filename", "filetype", "credential", "requirement")


def resumable_dir(services: Services) -> Path:
    """The folder of unfinished tus uploads (``<data dir>/resumable``)."""
    return Path(services.settings.data_dir) / "resumable"


def upload_page_policy(base: str, services: Services) -> str:
    """The content security policy of a page that uploads: ``base`` plus this origin's scripts and connections.

    With S3 the page also connects to the bucket's origin (the presigned part URLs).
    """
    connect = "connect-src 'self'"
    multipart = services.store.direct_multipart()
    if multipart is not None:
        connect += f" {multipart.upload_origin()}"
    return f"{base}; script-src 'self'; {connect}"


def _refused(refusal: UploadRefused) -> HTTPException:
    return HTTPException(REFUSAL_STATUS[refusal.reason], refusal.message)


# --- who owns an upload ---------------------------------------------------------------------------


def _owner_tag(keys: KeyRing, applicant: str, upload_uuid: str) -> tuple[str, ...]:
    message = f"resumable\n{applicant}\n{upload_uuid}".encode()
    return tuple(mac[:32] for mac in keys.macs(Purpose.UPLOAD_GRANT, message))


def new_tus_uid(keys: KeyRing, applicant: str) -> str:
    """A fresh tus upload id for ``applicant``: a uuid and a tag only that applicant's session can make."""
    upload_uuid = uuid.uuid4().hex
    return upload_uuid + _owner_tag(keys, applicant, upload_uuid)[0]


def owns_tus_uid(keys: KeyRing, email: str, uid: str) -> bool:
    """Whether ``uid`` was made for the applicant of ``email`` (any key of the rotation)."""
    if len(uid) != _UID_HEX or any(ch not in "0123456789abcdef" for ch in uid):
        return False
    upload_uuid, tag = uid[:32], uid[32:]
    return any(
        hmac.compare_digest(tag, mine)
        for applicant in applicant_keys(keys, email)
        for mine in _owner_tag(keys, applicant, upload_uuid)
    )


def parse_tus_metadata(header: str | None) -> dict[str, str]:
    """The tus ``Upload-Metadata`` header as a dict (``key base64,key base64``).

    Raises:
        HTTPException: 400 for a value that is not base64 of UTF-8, or a missing field this app needs.
    """
    found: dict[str, str] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition(" ")
        if not key:
            continue
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HTTPException(400, f"Upload-Metadata {key!r} is not base64 of UTF-8 text") from None
    missing = [key for key in _METADATA_KEYS if key not in found or (key != "filetype" and not found[key])]
    if missing:
        raise HTTPException(400, f"Upload-Metadata lacks {', '.join(missing)}")
    if len(found["filename"]) > 255:
        raise HTTPException(400, "the file name is longer than 255 characters")
    return found


# --- the requirement an upload answers -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The requirement a file answers, and its limit."""

    credential_id: str
    requirement: EvidenceRequirement
    max_bytes: int


def target_of(services: Services, credential_id: str, requirement_key: str) -> Target:
    """The requirement ``requirement_key`` of ``credential_id`` and its byte limit.

    Raises:
        HTTPException: 422 for an unknown credential or requirement, or a written answer.
    """
    limit = upload_limit(services, credential_id, requirement_key)
    credential = services.catalog.credentials[credential_id]
    requirement = credential.requirement(requirement_key)
    assert requirement is not None and requirement.kind is not EvidenceKind.TEXT  # upload_limit checked both
    return Target(credential_id=credential_id, requirement=requirement, max_bytes=limit)


def _declared_ok(target: Target, declared: Declared) -> None:
    try:
        check_declared(
            declared,
            kind=target.requirement.kind.value,
            formats=target.requirement.formats,
            max_bytes=target.max_bytes,
        )
    except UploadRefused as refusal:
        raise _refused(refusal) from None


class UploadDone(BaseModel):
    """A finished upload: name it in the form's ``upload_id`` field (or a submission's ``uploaded``)."""

    upload_id: str
    reference: str = Field(description="'<requirement key>:<upload_id>', as the HTTP intake takes it.")
    filename: str
    size: int
    description: str = Field(description="What the bytes are, e.g. 'an MP4 video'.")


def _grant_for(
    services: Services,
    *,
    upload_uuid: str,
    applicant: str,
    target: Target,
    filename: str,
    content_type: str,
    now: datetime,
) -> tuple[UploadGrant, str]:
    grant = UploadGrant(
        upload_uuid=upload_uuid,
        applicant=applicant,
        credential_id=target.credential_id,
        requirement_key=target.requirement.key,
        filename=filename,
        content_type=content_type,
        max_bytes=target.max_bytes,
        expires=now + timedelta(seconds=services.settings.upload_url_seconds),
    )
    return grant, issue_grant(services.settings.keyring, grant)


# --- S3 multipart tokens -------------------------------------------------------------------------


def _multipart_serializer(keys: KeyRing) -> URLSafeSerializer:
    # Its own salt: a multipart token can never pass for an upload grant, nor a grant for a token.
    return URLSafeSerializer(list(reversed(keys.keys(Purpose.UPLOAD_GRANT))), salt="credflow-upload-multipart")


@dataclass(frozen=True)
class MultipartTicket:
    """One S3 multipart upload in progress, signed into the token the browser keeps."""

    upload_uuid: str
    store_upload_id: str
    applicant: str
    credential_id: str
    requirement_key: str
    filename: str
    content_type: str
    size: int
    resume_until: datetime

    @property
    def key(self) -> str:
        """The object the parts become."""
        return f"{UPLOAD_PREFIX}/{self.upload_uuid}"


def issue_ticket(keys: KeyRing, ticket: MultipartTicket) -> str:
    """Sign ``ticket`` into an opaque token."""
    claims = {
        "u": ticket.upload_uuid,
        "m": ticket.store_upload_id,
        "a": ticket.applicant,
        "c": ticket.credential_id,
        "r": ticket.requirement_key,
        "n": ticket.filename,
        "t": ticket.content_type,
        "s": ticket.size,
        "e": int(ticket.resume_until.timestamp()),
    }
    return str(_multipart_serializer(keys).dumps(claims))


def read_ticket(keys: KeyRing, token: str, *, tz: Any) -> MultipartTicket:
    """The ticket signed into ``token``.

    Raises:
        HTTPException: 404 when forged or altered (as for an upload that is not there).
    """
    try:
        data = _multipart_serializer(keys).loads(token)
        return MultipartTicket(
            upload_uuid=uuid.UUID(hex=str(data["u"])).hex,
            store_upload_id=str(data["m"]),
            applicant=str(data["a"]),
            credential_id=str(data["c"]),
            requirement_key=str(data["r"]),
            filename=str(data["n"]),
            content_type=str(data["t"]),
            size=int(data["s"]),
            resume_until=datetime.fromtimestamp(int(data["e"]), tz=tz),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        raise HTTPException(404, "no such upload") from None


class MultipartStart(BaseModel):
    """Start an upload of one file straight to the bucket."""

    credential_id: str = Field(max_length=80)
    requirement_key: str = Field(max_length=64)
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(gt=0)
    content_type: str = Field(default="", max_length=127)


class MultipartStarted(BaseModel):
    """The token naming the upload, and how to cut the file."""

    token: str
    part_bytes: int
    parts: int
    resume_until: datetime


class TicketIn(BaseModel):
    """An upload in progress, by its token."""

    token: str = Field(max_length=4000)


class PartsWanted(TicketIn):
    """The parts to sign URLs for."""

    numbers: list[int] = Field(min_length=1, max_length=100)


class PartsSigned(BaseModel):
    """A presigned PUT URL per part number."""

    urls: dict[int, str]


class PartOut(BaseModel):
    """One part S3 holds."""

    number: int
    size: int


class MultipartStatus(BaseModel):
    """What S3 holds of an upload: the parts whose size is right (a resumed upload skips them)."""

    part_bytes: int
    parts: int
    uploaded: list[PartOut]


class ResumableConfig(BaseModel):
    """How this server takes large files: ``tus`` through credflow, or ``s3`` straight to the bucket."""

    protocol: str
    tus_endpoint: str | None
    chunk_bytes: int


# --- the routes -------------------------------------------------------------------------------------


def routes(deps: WebDeps) -> APIRouter:
    """The resumable upload routes (tus for the local store, S3 multipart for S3), for signed-in applicants."""
    services, accounts = deps.services, deps.accounts
    keys = services.settings.keyring
    files_dir = resumable_dir(services)
    patching: set[str] = set()  # tus uploads receiving a PATCH now (the event loop's thread only)

    def signed_in(request: Request) -> Identity:
        who = accounts.current(request)
        if who is None:
            raise HTTPException(401, "sign in to upload files: your session ended")
        return who

    def applicant_of(who: Identity) -> str:
        return applicant_keys(keys, who.email)[0]

    def receiver() -> UploadReceiver:
        found = services.store.upload_receiver()
        if found is None:
            raise HTTPException(404, "this store takes large files straight from the browser: use /uploads/s3")
        return found

    def multipart() -> DirectMultipart:
        found = services.store.direct_multipart()
        if found is None:
            raise HTTPException(404, "this store takes large files through credflow: use the tus endpoint")
        return found

    router = APIRouter()

    @router.get("/uploads/resumable", response_model=ResumableConfig)
    def config(request: Request) -> ResumableConfig:
        """How the browser should send a large file here."""
        signed_in(request)
        if services.store.direct_multipart() is not None:
            return ResumableConfig(protocol="s3", tus_endpoint=None, chunk_bytes=part_plan(1).part_bytes)
        return ResumableConfig(protocol="tus", tus_endpoint=f"{TUS_PATH}/", chunk_bytes=TUS_CHUNK_BYTES)

    # --- tus (the local store) ----------------------------------------------------------------------

    async def tus_guard(request: Request) -> AsyncIterator[None]:
        """Before tuspyserver reads a byte: who asks, whose upload it is, and what it declares."""
        if request.method == "OPTIONS":
            yield
            return
        who = signed_in(request)
        if request.method == "POST":
            if request.headers.get("content-length", "0") not in ("", "0"):
                raise HTTPException(400, "create the upload first, then send its bytes with PATCH")
            if "upload-defer-length" in request.headers:
                raise HTTPException(400, "declare the file's size (Upload-Length) when the upload is created")
            length = request.headers.get("upload-length", "")
            if not length.isdigit() or len(length) > 20:
                raise HTTPException(400, "Upload-Length must be the file's size in bytes")
            meta = parse_tus_metadata(request.headers.get("upload-metadata"))
            target = target_of(services, meta["credential"], meta["requirement"])
            _declared_ok(target, Declared(meta["filename"], int(length), meta["filetype"]))
            request.state.tus_uid = new_tus_uid(keys, applicant_of(who))
            yield
            return
        uid = str(request.path_params.get("uuid", ""))
        if not owns_tus_uid(keys, who.email, uid):
            raise HTTPException(404, "no such upload")
        if request.method != "PATCH":
            yield
            return
        if uid in patching:
            # tuspyserver's file lock would wait for the other PATCH inside the event loop: answer at once.
            raise HTTPException(
                423,
                "this upload is still receiving bytes: try again in a moment",
                headers={"Tus-Resumable": TUS_VERSION},
            )
        patching.add(uid)
        try:
            yield
        finally:
            patching.discard(uid)

    def tus_files(request: Request) -> Callable[[dict[str, str]], dict[str, str]]:
        """tuspyserver's per-request folder and, on creation, the upload's id (made by the guard)."""
        uid = getattr(request.state, "tus_uid", None)

        def where(_metadata: dict[str, str]) -> dict[str, str]:
            return {"files_dir": str(files_dir)} | ({"uid": uid} if uid else {})

        return where

    if services.store.upload_receiver() is not None:
        tus = create_tus_router(
            prefix=TUS_PATH.lstrip("/"),
            files_dir=str(files_dir),
            max_size=services.settings.ingest_max_bytes,
            days_to_keep=max(1, RESUME_WINDOW.days),
            file_dep=cast(Any, tus_files),  # its hint says None; it reads the dict our callable returns
            tags=["uploads"],
        )
        router.include_router(tus, dependencies=[Depends(tus_guard)])

    @router.post(f"{TUS_PATH}/{{uid}}/complete", response_model=UploadDone)
    async def tus_complete(request: Request, uid: str) -> UploadDone:
        """After the last byte: check the whole file, move it into the store, answer its ``upload_id``."""
        who = signed_in(request)
        _json_only(request)
        if not owns_tus_uid(keys, who.email, uid):
            raise HTTPException(404, "no such upload")
        store = receiver()
        done = await anyio.to_thread.run_sync(_complete_tus, services, store, files_dir, uid, who, deps.clock())
        return done

    # --- S3 multipart -------------------------------------------------------------------------------

    def ticket_of(request: Request, token: str) -> MultipartTicket:
        who = signed_in(request)
        ticket = read_ticket(keys, token, tz=deps.clock().tzinfo)
        if not any(hmac.compare_digest(ticket.applicant, mine) for mine in applicant_keys(keys, who.email)):
            raise HTTPException(404, "no such upload")
        if deps.clock() > ticket.resume_until:
            raise HTTPException(410, f"{ticket.filename} was started too long ago to resume: send it again")
        return ticket

    @router.post("/uploads/s3", response_model=MultipartStarted, status_code=201)
    def s3_start(request: Request, body: MultipartStart) -> MultipartStarted:
        """Start a multipart upload straight to the bucket, once the declared size and kind are fine."""
        who = signed_in(request)
        store = multipart()
        target = target_of(services, body.credential_id, body.requirement_key)
        _declared_ok(target, Declared(body.filename, body.size, body.content_type))
        upload_uuid = uuid.uuid4().hex
        content_type = body.content_type or "application/octet-stream"
        store_upload_id = store.start_multipart(f"{UPLOAD_PREFIX}/{upload_uuid}", content_type=content_type)
        plan = part_plan(body.size)
        ticket = MultipartTicket(
            upload_uuid=upload_uuid,
            store_upload_id=store_upload_id,
            applicant=applicant_of(who),
            credential_id=body.credential_id,
            requirement_key=body.requirement_key,
            filename=body.filename,
            content_type=content_type,
            size=body.size,
            resume_until=deps.clock() + RESUME_WINDOW,
        )
        return MultipartStarted(
            token=issue_ticket(keys, ticket),
            part_bytes=plan.part_bytes,
            parts=plan.count,
            resume_until=ticket.resume_until,
        )

    @router.post("/uploads/s3/parts", response_model=PartsSigned)
    def s3_parts(request: Request, body: PartsWanted) -> PartsSigned:
        """Presigned PUT URLs for some parts (each works for ``CREDFLOW_UPLOAD_URL_SECONDS``)."""
        ticket = ticket_of(request, body.token)
        plan = part_plan(ticket.size)
        wrong = [n for n in body.numbers if not 1 <= n <= plan.count]
        if wrong:
            raise HTTPException(422, f"parts {wrong} are outside 1-{plan.count}")
        store = multipart()
        lifetime = services.settings.upload_url_seconds
        urls = {n: store.presign_part(ticket.key, ticket.store_upload_id, n, expires_in=lifetime) for n in body.numbers}
        return PartsSigned(urls=urls)

    @router.post("/uploads/s3/status", response_model=MultipartStatus)
    def s3_status(request: Request, body: TicketIn) -> MultipartStatus:
        """The parts the bucket holds with their right size: a resumed upload sends only the others."""
        ticket = ticket_of(request, body.token)
        plan = part_plan(ticket.size)
        try:
            held = multipart().uploaded_parts(ticket.key, ticket.store_upload_id)
        except NotFoundError:
            raise HTTPException(410, f"{ticket.filename} can no longer be resumed: send it again") from None
        good = [
            PartOut(number=p.number, size=p.size)
            for p in held
            if 1 <= p.number <= plan.count and p.size == plan.part_size(p.number)
        ]
        return MultipartStatus(part_bytes=plan.part_bytes, parts=plan.count, uploaded=good)

    @router.post("/uploads/s3/complete", response_model=UploadDone)
    def s3_complete(request: Request, body: TicketIn) -> UploadDone:
        """Join the parts, check the object's size and kind, and answer its ``upload_id``."""
        ticket = ticket_of(request, body.token)
        who = signed_in(request)
        return _complete_s3(services, multipart(), ticket, who, deps.clock())

    @router.post("/uploads/s3/abort", status_code=204)
    def s3_abort(request: Request, body: TicketIn) -> None:
        """Drop an upload the applicant cancelled, and what arrived of it."""
        ticket = ticket_of(request, body.token)
        multipart().abort_multipart(ticket.key, ticket.store_upload_id)

    return router


def _json_only(request: Request) -> None:
    # A form of another site cannot send JSON without the browser asking this server first (CORS).
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send this request as JSON")


def _complete_tus(
    services: Services, store: UploadReceiver, files_dir: Path, uid: str, who: Identity, now: datetime
) -> UploadDone:
    """Check a finished tus upload whole and make it ``uploads/<uuid>`` (idempotent: a retry gets the same answer)."""
    data, info_path, done_path = files_dir / uid, files_dir / f"{uid}.info", files_dir / f"{uid}.done"
    if done_path.is_file():
        return UploadDone.model_validate_json(done_path.read_text())
    try:
        info = json.loads(info_path.read_text())
    except FileNotFoundError:
        raise HTTPException(404, "no such upload (it may have expired): send the file again") from None
    meta = info.get("metadata") or {}
    filename = str(meta.get("filename", "the file"))
    target = target_of(services, str(meta.get("credential")), str(meta.get("requirement")))
    upload_uuid = uid[:32]
    key = f"{UPLOAD_PREFIX}/{upload_uuid}"
    if data.is_file():
        try:
            check_complete(
                filename=filename, received=data.stat().st_size, declared=int(info["size"]), max_bytes=target.max_bytes
            )
            sniffed = sniff(data)
            check_sniffed(sniffed, filename=filename, formats=target.requirement.formats, head_only=False)
        except UploadRefused as refusal:
            if refusal.reason is not Refusal.INCOMPLETE:
                _drop_tus(files_dir, uid)  # never keep bytes that can never be used
            raise _refused(refusal) from None
        size = store.adopt(key, data)
    elif store.exists(key):  # moved in by a completion that ended before it could answer
        sniffed = sniff_stored(services, key)
        size = services.store.size(key)
    else:
        raise HTTPException(404, "no such upload (it may have expired): send the file again")
    grant, upload_id = _grant_for(
        services,
        upload_uuid=upload_uuid,
        applicant=applicant_keys(services.settings.keyring, who.email)[0],
        target=target,
        filename=filename,
        content_type=sniffed.mime,
        now=now,
    )
    done = UploadDone(
        upload_id=upload_id,
        reference=f"{grant.requirement_key}:{upload_id}",
        filename=filename,
        size=size,
        description=sniffed.description,
    )
    _write_atomically(done_path, done.model_dump_json())
    info_path.unlink(missing_ok=True)
    return done


def _drop_tus(files_dir: Path, uid: str) -> None:
    for name in (uid, f"{uid}.info"):
        (files_dir / name).unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    temp.replace(path)


def sniff_stored(services: Services, key: str) -> Any:
    """Sniff the first bytes of a stored object (written to a temp file: the sniffer reads files)."""
    head = services.store.read_head(key, HEAD_BYTES)
    with tempfile.NamedTemporaryFile(prefix="credflow-head-") as handle:
        handle.write(head)
        handle.flush()
        return sniff(Path(handle.name))


def _complete_s3(
    services: Services, store: DirectMultipart, ticket: MultipartTicket, who: Identity, now: datetime
) -> UploadDone:
    """Join an S3 upload's parts once all arrived, check the object, and answer its ``upload_id`` (idempotent)."""
    target = target_of(services, ticket.credential_id, ticket.requirement_key)
    plan = part_plan(ticket.size)
    try:
        held = store.uploaded_parts(ticket.key, ticket.store_upload_id)
    except NotFoundError:
        held = None  # completed before (a retried completion) or aborted
    if held is not None:
        good = {p.number: p for p in held if 1 <= p.number <= plan.count and p.size == plan.part_size(p.number)}
        missing = [n for n in range(1, plan.count + 1) if n not in good]
        if missing:
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise HTTPException(409, f"{ticket.filename} is not complete: parts {shown} have not arrived")
        store.complete_multipart(ticket.key, ticket.store_upload_id, [good[n] for n in range(1, plan.count + 1)])
    try:
        size = services.store.size(ticket.key)
    except NotFoundError:
        raise HTTPException(410, f"{ticket.filename} can no longer be completed: send it again") from None
    try:
        check_complete(filename=ticket.filename, received=size, declared=ticket.size, max_bytes=target.max_bytes)
        sniffed = sniff_stored(services, ticket.key)
        check_sniffed(sniffed, filename=ticket.filename, formats=target.requirement.formats, head_only=True)
    except UploadRefused as refusal:
        services.store.delete(ticket.key)
        raise _refused(refusal) from None
    grant, upload_id = _grant_for(
        services,
        upload_uuid=ticket.upload_uuid,
        applicant=applicant_keys(services.settings.keyring, who.email)[0],
        target=target,
        filename=ticket.filename,
        content_type=sniffed.mime,
        now=now,
    )
    return UploadDone(
        upload_id=upload_id,
        reference=f"{grant.requirement_key}:{upload_id}",
        filename=ticket.filename,
        size=size,
        description=sniffed.description,
    )


def sweep_resumable(services: Services, *, now: float | None = None) -> list[str]:
    """Delete the tus uploads (and completion records) older than the resume window plus a grant's use.

    A finished upload has left the folder for the store (swept there by
    :func:`web.api.uploads.sweep_abandoned_uploads`); what stays is unfinished or refused.

    Returns:
        The names deleted.
    """
    folder = resumable_dir(services)
    if not folder.is_dir():
        return []
    usable = RESUME_WINDOW + timedelta(seconds=services.settings.upload_url_seconds) + timedelta(hours=1)
    cutoff = (time.time() if now is None else now) - usable.total_seconds()
    deleted = []
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
            Path(entry.path).unlink()
        except FileNotFoundError:
            continue
        deleted.append(entry.name)
    return sorted(deleted)
