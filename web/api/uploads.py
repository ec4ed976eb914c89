"""Upload URLs for the HTTP intake: large files go straight to storage, then join a submission by name.

A grant is stateless (no table): its ``upload_id`` is a signed token naming the object
(``uploads/<uuid>``, server-generated), the applicant (a keyed hash of the email: the token is
signed, not encrypted, and may end up in logs), the credential, the requirement, the byte cap,
the file's name and type and the URL's expiry. A submission names
it as ``<requirement key>:<upload_id>`` in its ``uploaded`` field; the bytes then go through
the ordinary intake (sha256, idempotency, validation) like a multipart file. Once the
submission is recorded the upload object is deleted and a small ``uploads/<uuid>.used``
marker (the submission's id) refuses the id for any other submission.

The local store's upload URL (``PUT /api/store/...``) reads the body in the event loop and
hands only each megabyte's disk write to a worker thread, so slow uploads hold no thread
while they wait for the network (:class:`web.limits.RequestLimits` stops a body
that idles or takes too long). Uploads never claimed are swept by :func:`sweep_abandoned_uploads`.
"""

from __future__ import annotations

import hmac
import io
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Header, HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, Field
from sqlalchemy import select

from credflow.catalog.models import EvidenceKind
from credflow.db.models import Applicant
from credflow.errors import IntakeRefused, NotFoundError
from credflow.formatting import human_size
from credflow.intake.rules import EMAIL, Upload
from credflow.keyring import KeyRing, Purpose
from credflow.services import Services
from credflow.storage.base import CHUNK_SIZE, ObjectReader, ObjectTooLarge, StoredObject, UploadReceiver
from web.limits import intake_rules_of
from web.ratelimit import RateLimited, client_address, limiter_of, too_many

UPLOAD_PREFIX = "uploads"
#: A grant may join a submission this long after its URL expired: a large upload started in time can end late.
SUBMIT_GRACE = timedelta(hours=24)
#: The sweep leaves an unclaimed upload this much longer than its grant could still be used.
SWEEP_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class UploadGrant:
    """What one upload URL was issued for; signed into its ``upload_id``."""

    upload_uuid: str
    applicant: str  # applicant_key() of the email it was issued for
    credential_id: str
    requirement_key: str
    filename: str
    content_type: str | None
    max_bytes: int
    expires: datetime

    @property
    def key(self) -> str:
        """The object the bytes go to."""
        return f"{UPLOAD_PREFIX}/{self.upload_uuid}"

    @property
    def marker_key(self) -> str:
        """The object that records which submission took the upload."""
        return f"{self.key}.used"

    @property
    def label(self) -> str:
        """How messages name the upload."""
        return f"the upload of {self.filename!r} for {self.requirement_key!r}"


def _serializer(keys: KeyRing) -> URLSafeSerializer:
    return keys.serializer(Purpose.UPLOAD_GRANT)


def applicant_keys(keys: KeyRing, email: str) -> tuple[str, ...]:
    """Keyed hashes naming the applicant of ``email`` (trimmed, lower case) in grants; the first signs."""
    normal = email.strip().lower().encode()
    return tuple(mac[:32] for mac in keys.macs(Purpose.UPLOAD_GRANT, normal))


def issue_grant(keys: KeyRing, grant: UploadGrant) -> str:
    """Sign ``grant`` into an opaque, URL-safe ``upload_id`` (it contains no ``:``)."""
    claims = {
        "u": grant.upload_uuid,
        "a": grant.applicant,
        "c": grant.credential_id,
        "r": grant.requirement_key,
        "n": grant.filename,
        "t": grant.content_type,
        "b": grant.max_bytes,
        "e": int(grant.expires.timestamp()),
    }
    return str(_serializer(keys).dumps(claims))


def read_grant(keys: KeyRing, upload_id: str, *, tz: Any = None) -> UploadGrant:
    """The grant signed into ``upload_id``.

    Raises:
        HTTPException: 403 when the id is forged or altered.
    """
    try:
        data = _serializer(keys).loads(upload_id)
        return UploadGrant(
            upload_uuid=uuid.UUID(hex=str(data["u"])).hex,
            applicant=str(data["a"]),
            credential_id=str(data["c"]),
            requirement_key=str(data["r"]),
            filename=str(data["n"]),
            content_type=None if data["t"] is None else str(data["t"]),
            max_bytes=int(data["b"]),
            expires=datetime.fromtimestamp(int(data["e"]), tz=tz),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        raise HTTPException(403, f"upload id {upload_id[:16]!r}... is not valid (forged or altered)") from None


class UploadRequest(BaseModel):
    """Ask for an upload URL for one file."""

    email: str = Field(description="The applicant's email; the upload can join only this applicant's submissions.")
    credential_id: str
    requirement_key: str = Field(description="The evidence requirement the file answers.")
    filename: str = Field(min_length=1, max_length=255, description="The file's name as shown to reviewers.")
    size: int = Field(gt=0, description="The file's size in bytes, checked against the requirement's limit.")
    content_type: str | None = Field(default=None, max_length=127, pattern=r"^[\w.+-]+/[\w.+-]+$")


class UploadOut(BaseModel):
    """Where to send the file, and how to name it in the submission afterwards."""

    upload_id: str = Field(description="Signed grant; name it in a submission's `uploaded` field.")
    reference: str = Field(description="The `uploaded` entry to send: '<requirement key>:<upload_id>'.")
    url: str
    method: Literal["PUT", "POST"] = Field(
        description="PUT: the bytes are the body, with `headers`. POST: a multipart form of `fields`, then `file`."
    )
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] | None = Field(default=None, description="POST only: form fields sent before the file.")
    expires_at: datetime = Field(description="The URL works until then; the submission may follow up to 24 h later.")
    max_bytes: int = Field(description="The storage refuses a larger file.")


class StoredOut(BaseModel):
    """What a local-store upload stored."""

    size: int
    sha256: str


def upload_limit(services: Services, credential_id: str, requirement_key: str) -> int:
    """The most bytes a file for this requirement may have (its own limit, within the ingest cap).

    Raises:
        HTTPException: 422 for an unknown credential or requirement, or a written-answer requirement.
    """
    credential = services.catalog.credentials.get(credential_id)
    if credential is None:
        known = ", ".join(sorted(services.catalog.credentials))
        raise HTTPException(422, f"no micro-credential {credential_id!r}; known: {known}")
    requirement = credential.requirement(requirement_key)
    if requirement is None:
        keys = ", ".join(req.key for req in credential.file_requirements)
        raise HTTPException(422, f"{credential_id} has no requirement {requirement_key!r}; file requirements: {keys}")
    if requirement.kind is EvidenceKind.TEXT:
        raise HTTPException(422, f"{requirement_key!r} is a written answer: send it in `answers`, not as a file")
    cap = services.settings.ingest_max_bytes
    own = requirement.max_size_bytes
    return cap if own is None else min(own, cap)


@dataclass(frozen=True)
class TakenUpload:
    """An upload named by a submission: its grant, the intake's Upload, and who took it before (if anyone)."""

    grant: UploadGrant
    upload: Upload
    used_by: str | None


def take_uploads(
    services: Services,
    references: Sequence[str] | None,
    *,
    email: str,
    credential_id: str,
    now: datetime,
) -> list[TakenUpload]:
    """Check each ``<requirement key>:<upload_id>`` and open it as an intake Upload (read lazily).

    An upload another submission already took is still returned (``used_by``): the intake
    answers an idempotent retry without reading it, and reading it refuses the submission.

    Args:
        services: The composition root's services.
        references: The submission's ``uploaded`` entries.
        email: The applicant's email (the grant must name it).
        credential_id: The credential submitted for (the grant must name it).
        now: The clock's time, aware UTC.

    Returns:
        One TakenUpload per reference, in order.

    Raises:
        HTTPException: 422 malformed, named twice, or another credential or requirement; 403 forged,
            expired or another applicant's; 409 never completed; 413 over its limit (then deleted).
    """
    keys = services.settings.keyring
    who = applicant_keys(keys, email)
    taken: list[TakenUpload] = []
    for entry in references or []:
        requirement_key, sep, upload_id = entry.partition(":")
        if not sep or not requirement_key or not upload_id:
            raise HTTPException(422, f"uploaded {entry[:40]!r}: use '<requirement key>:<upload_id>'")
        grant = read_grant(keys, upload_id, tz=now.tzinfo)
        if now > grant.expires + SUBMIT_GRACE:
            raise HTTPException(
                403, f"{grant.label} expired at {grant.expires:%Y-%m-%d %H:%M} UTC: ask for a new upload URL"
            )
        if not any(hmac.compare_digest(grant.applicant, mine) for mine in who):
            raise HTTPException(403, f"{grant.label} was issued to another applicant")
        if grant.credential_id != credential_id:
            raise HTTPException(422, f"{grant.label} was issued for {grant.credential_id}, not {credential_id}")
        if grant.requirement_key != requirement_key:
            raise HTTPException(422, f"{grant.label} cannot answer {requirement_key!r}")
        if any(t.grant.upload_uuid == grant.upload_uuid for t in taken):
            raise HTTPException(422, f"{grant.label} is named twice")
        used_by = _used_by(services, grant)
        if used_by is None:
            _check_completed(services, grant)
        reader = ObjectReader(_opener(services, grant, used_by))
        upload = Upload(requirement_key, grant.filename, io.BufferedReader(reader), grant.content_type)
        taken.append(TakenUpload(grant=grant, upload=upload, used_by=used_by))
    return taken


def _used_by(services: Services, grant: UploadGrant) -> str | None:
    try:
        return services.store.get_bytes(grant.marker_key).decode("utf-8", "replace")
    except NotFoundError:
        return None


def _check_completed(services: Services, grant: UploadGrant) -> None:
    try:
        size = services.store.size(grant.key)
    except NotFoundError:
        raise HTTPException(
            409, f"{grant.label} was never completed: send the file to its upload URL, then submit"
        ) from None
    if size > grant.max_bytes:
        # The store should have refused it; never let an oversize object linger either way.
        services.store.delete(grant.key)
        raise HTTPException(413, f"{grant.label} is {_over(size, grant.max_bytes)} limit; it was deleted")


def _opener(services: Services, grant: UploadGrant, used_by: str | None) -> Callable[[], Iterator[bytes]]:
    def open_chunks() -> Iterator[bytes]:
        if used_by is not None:
            raise IntakeRefused(f"{grant.label} was already used by submission {used_by}; ask for a new upload URL")
        try:
            return services.store.stream(grant.key)
        except NotFoundError:
            raise IntakeRefused(f"{grant.label} was never completed: send the file to its upload URL") from None

    return open_chunks


def release_uploads(services: Services, taken: Sequence[TakenUpload], *, submission_id: str | None) -> None:
    """Close the uploads' streams; once ``submission_id`` recorded them, mark them used and delete the objects.

    The evidence holds its own copy by now; the marker is written before the delete, so a crash
    in between leaves an orphan object (swept: S3 by its lifecycle rule on ``uploads/``, the local store by
    :func:`sweep_abandoned_uploads`), never a reusable id.
    """
    for item in taken:
        item.upload.stream.close()
        if submission_id is None or item.used_by is not None:
            continue
        services.store.put_stream(item.grant.marker_key, io.BytesIO(submission_id.encode()))
        services.store.delete(item.grant.key)


def sweep_abandoned_uploads(services: Services, *, now: datetime) -> list[str]:
    """Delete the local store's uploads (and partial uploads, and used markers) no grant can claim any more.

    A grant's upload joins a submission until its URL's expiry plus ``SUBMIT_GRACE``, and its
    URL expires ``CREDFLOW_UPLOAD_URL_SECONDS`` after it was issued, before any byte was
    written: a file older than both (plus ``SWEEP_GRACE``) is of no use. With S3 the bucket's
    lifecycle rule on ``uploads/`` does the same (infra/s3/lifecycle.json).

    Args:
        services: The composition root's services.
        now: The clock's time, aware UTC.

    Returns:
        The keys deleted (none with S3).
    """
    store = services.store.upload_receiver()
    if store is None:
        return []
    usable = timedelta(seconds=services.settings.upload_url_seconds) + SUBMIT_GRACE + SWEEP_GRACE
    return store.sweep(UPLOAD_PREFIX, modified_before=(now - usable).timestamp())


def _over(size: int, limit: int) -> str:
    """``"12.0 MB, over the 10.0 MB"``; in bytes when the rounded sizes would read the same."""
    shown, cap = human_size(size), human_size(limit)
    if shown == cap:
        shown, cap = f"{size:,} bytes", f"{limit:,}-byte"
    return f"{shown}, over the {cap}"


class _InFlight:
    """The uploads arriving now: one at a time per upload URL, a few at a time per client address."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.keys: set[str] = set()
        self.clients: Counter[str] = Counter()

    @contextmanager
    def claim(self, client: str, key: str) -> Iterator[None]:
        # Only the event loop's thread calls this: no lock needed.
        if key in self.keys:
            raise HTTPException(409, "this upload URL is already receiving a file: wait until that upload ends")
        if self.clients[client] >= self.per_client:
            raise HTTPException(
                429,
                f"{self.per_client} uploads are already arriving from this address: send the next when one ends",
                headers={"Retry-After": "10"},
            )
        self.keys.add(key)
        self.clients[client] += 1
        try:
            yield
        finally:
            self.keys.discard(key)
            self.clients[client] -= 1
            if not self.clients[client]:
                del self.clients[client]


def register_upload_routes(
    api: FastAPI,
    services: Services,
    *,
    caller: Callable[[str | None], str | None],
    now: Callable[[], datetime],
) -> None:
    """Add ``POST /uploads`` (grants) and ``PUT /store/{key}`` (the local store's upload URLs) to ``api``.

    Args:
        api: The intake app.
        services: The composition root's services.
        caller: The applicant id a ``Bearer`` header names (HTTPException 403 otherwise).
        now: The clock (aware UTC datetimes).
    """

    in_flight = _InFlight(services.settings.upload_concurrency_per_client)

    @api.post("/uploads", response_model=UploadOut, status_code=201)
    def create_upload(
        request: Request, body: UploadRequest, authorization: Annotated[str | None, Header()] = None
    ) -> UploadOut:
        """Get a time-limited URL to send one large file straight to storage.

        Send your applicant token if you have submitted before. Afterwards name the upload in
        `POST /submissions` or `POST /submissions/{id}/resubmit` as `uploaded=<key>:<upload_id>`.
        Upload URLs are rate-limited per address and per applicant (429 with `Retry-After`).
        """
        email = body.email.strip().lower()
        if not EMAIL.match(email):
            raise HTTPException(422, f"email {body.email!r} is not an email address")
        try:
            limiter_of(request).hit((intake_rules_of(request).grants_applicant, email))
        except RateLimited as refusal:
            raise too_many(refusal) from None
        with services.db.session() as session:
            known = session.scalar(select(Applicant.id).where(Applicant.email == email))
        if authorization is not None:
            if caller(authorization) != known:
                raise HTTPException(403, f"this applicant token is not the one of {email}")
        elif known is not None:
            raise HTTPException(
                403, f"{email} has submitted before: send your applicant token as 'Authorization: Bearer <token>'"
            )
        limit = upload_limit(services, body.credential_id, body.requirement_key)
        if body.size > limit:
            raise HTTPException(
                413,
                f"file {body.filename!r} is {_over(body.size, limit)} limit for {body.requirement_key!r}",
            )
        lifetime = services.settings.upload_url_seconds
        keys = services.settings.keyring
        grant = UploadGrant(
            upload_uuid=uuid.uuid4().hex,
            applicant=applicant_keys(keys, email)[0],
            credential_id=body.credential_id,
            requirement_key=body.requirement_key,
            filename=body.filename,
            content_type=body.content_type,
            max_bytes=limit,
            expires=now() + timedelta(seconds=lifetime),
        )
        target = services.store.presigned_upload(
            grant.key, expires_in=lifetime, max_bytes=limit, content_type=body.content_type
        )
        upload_id = issue_grant(keys, grant)
        return UploadOut(
            upload_id=upload_id,
            reference=f"{body.requirement_key}:{upload_id}",
            url=target.url,
            method="POST" if target.method == "POST" else "PUT",
            headers=dict(target.headers),
            fields=dict(target.fields) if target.method == "POST" else None,
            expires_at=grant.expires,
            max_bytes=limit,
        )

    @api.put(
        "/store/{key:path}",
        response_model=StoredOut,
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def put_object(request: Request, key: str, expires: int, max_bytes: int, signature: str) -> StoredOut:
        """The local store's upload URL (from `POST /uploads`): the body is the file, at most `max_bytes`."""
        store = services.store.upload_receiver()
        if store is None:
            raise HTTPException(404, "this store takes uploads at its own URLs: ask POST /uploads for one")
        current = now().timestamp()
        if expires < current:
            raise HTTPException(403, "this upload URL has expired: ask POST /uploads for a new one")
        if not store.verify_upload(key, expires=expires, max_bytes=max_bytes, signature=signature, now=current):
            raise HTTPException(403, "this upload URL is not valid (forged or altered)")
        if await anyio.to_thread.run_sync(store.exists, f"{key}.used"):
            raise HTTPException(409, "this upload was already used by a submission: ask POST /uploads for a new one")
        declared = request.headers.get("content-length", "")
        too_large = f"the file is over this upload's {human_size(max_bytes)} limit; nothing was kept"
        if declared.isdigit() and (len(declared) > 20 or int(declared) > max_bytes):
            raise HTTPException(413, too_large)
        with in_flight.claim(client_address(request.scope), key):
            try:
                stored = await _receive(request, store, key, max_bytes)
            except ObjectTooLarge:
                raise HTTPException(413, too_large) from None
        return StoredOut(size=stored.size, sha256=stored.sha256)


async def _receive(request: Request, store: UploadReceiver, key: str, max_bytes: int) -> StoredObject:
    """Write the request body to ``key``: awaited in the event loop, each ``CHUNK_SIZE`` written by a worker thread.

    A body that breaks off (the client left, or RequestLimits stopped it) deletes the partial file.
    """
    part = await anyio.to_thread.run_sync(partial(store.begin_put, key, max_bytes=max_bytes))
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) > max_bytes or len(pending) >= CHUNK_SIZE:
                data, pending = bytes(pending), bytearray()
                await anyio.to_thread.run_sync(part.write, data)
        await anyio.to_thread.run_sync(part.write, bytes(pending))
        return await anyio.to_thread.run_sync(part.commit)
    finally:
        part.abort()  # after a commit it does nothing; otherwise a close, an unlink and ending the hashing thread
        # (which drops what waits for it): quick enough for the loop
