"""Intake: store a submission's evidence and record it, once, whatever the number of sends.

The CLI (``credflow submit``) and the HTTP intake both call :func:`submit`; what a submission may
carry is decided in :mod:`credflow.intake.rules`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from io import BytesIO
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.db.models import Applicant, Enrolment, EvidenceItem, Submission, utcnow
from credflow.errors import IntakeRefused
from credflow.formatting import human_size
from credflow.intake.rules import (
    CarryOver,
    EvidenceTooLarge,
    IdempotencyKeyReused,
    IntakeRequest,
    IntakeResult,
    NothingChanged,
    Upload,
    check_access_window,
    check_request,
    client_key,
    derived_key,
    next_attempt,
    same_content,
)
from credflow.lifecycle import State
from credflow.services import Services
from credflow.storage.base import CHUNK_SIZE, ObjectTooLarge, StoredObject, new_key
from credflow.submissions import record_event, transition, unlock_count
from credflow.validation.inspect import printable
from credflow.validation.names import safe_display_name


def _existing(session: Session, key: str) -> IntakeResult | None:
    sub = session.scalar(select(Submission).where(Submission.idempotency_key == key))
    if sub is None:
        return None
    return IntakeResult(sub.id, sub.credential_id, sub.attempt, sub.state, False, sub.previous_id)


def _record(
    session: Session,
    *,
    request: IntakeRequest,
    credential: Credential,
    answers: dict[str, str],
    stored: list[tuple[Upload, StoredObject]],
    key: str,
    now: datetime,
) -> IntakeResult:
    email = request.applicant.email.strip().lower()
    applicant = session.scalar(select(Applicant).where(Applicant.email == email))
    if applicant is None:
        applicant = Applicant(email=email, name=request.applicant.name.strip(), organisation="")
        session.add(applicant)
    elif not request.address_verified:
        raise IntakeRefused("this address already has an applicant record: send the applicant's API token")
    applicant.name = request.applicant.name.strip()
    applicant.organisation = request.applicant.organisation.strip()
    session.flush()

    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.applicant_id == applicant.id, Enrolment.credential_id == credential.id)
    )
    if enrolment is None:
        enrolment = Enrolment(
            applicant_id=applicant.id, credential_id=credential.id, enrolled_on=request.enrolled_on or now.date()
        )
        session.add(enrolment)
    check_access_window(credential=credential, enrolled_on=enrolment.enrolled_on, today=now.date())

    latest = session.scalar(
        select(Submission)
        .where(Submission.applicant_id == applicant.id, Submission.credential_id == credential.id)
        .order_by(Submission.created_at.desc(), Submission.attempt.desc())
        .limit(1)
    )
    if request.previous_id is not None and (latest is None or latest.id != request.previous_id):
        raise IntakeRefused(
            f"submission {request.previous_id} is not the latest attempt of this applicant for {credential.id}"
        )
    unlocks = unlock_count(session, applicant_id=applicant.id, credential_id=credential.id) if latest else 0
    attempt = next_attempt(latest, credential, now=now, unlocks=unlocks)
    if (
        latest is not None
        and State(latest.state) is State.NOT_YET
        and same_content(
            answers,
            [(upload.requirement_key, obj.sha256) for upload, obj in stored],
            before_answers=dict(latest.answers or {}),
            before_files=[(item.requirement_key, item.sha256) for item in latest.evidence],
        )
    ):
        raise NothingChanged(attempt=latest.attempt, submission_id=latest.id)
    submission = Submission(
        applicant_id=applicant.id,
        credential_id=credential.id,
        attempt=attempt,
        previous_id=latest.id if latest else None,
        state=State.RECEIVED.value,
        idempotency_key=key,
        answers=answers,
        problems=[],
        created_at=now,
        updated_at=now,
        state_since=now,
    )
    session.add(submission)
    session.flush()
    if latest is not None:
        transition(session, latest, State.RESUBMITTED, actor="applicant", detail={"next": submission.id}, now=now)
    positions: dict[str, int] = {}
    for upload, obj in stored:
        position = positions.get(upload.requirement_key, 0)
        positions[upload.requirement_key] = position + 1
        session.add(
            EvidenceItem(
                submission_id=submission.id,
                requirement_key=upload.requirement_key,
                position=position,
                original_name=upload.filename,
                display_name=safe_display_name(upload.filename).name,
                storage_key=obj.key,
                sha256=obj.sha256,
                size=obj.size,
                declared_type=upload.content_type,
            )
        )
    record_event(
        session,
        submission_id=submission.id,
        kind="state",
        actor=f"applicant:{applicant.id}",  # never the email: the log is append-only and erasure must work
        to_state=State.RECEIVED.value,
        detail={"attempt": attempt, "files": len(stored), "previous": submission.previous_id},
        at=now,
    )
    return IntakeResult(submission.id, credential.id, attempt, submission.state, True, submission.previous_id)


def submit(services: Services, request: IntakeRequest, *, now: datetime | None = None) -> IntakeResult:
    """Record one submission, or return the one this exact submission already made.

    Files are streamed to the object store under server-generated keys (hashing on
    the way); the records are written in one transaction. A refused or duplicate
    submission leaves nothing behind in the store.

    Raises:
        IntakeRefused: unknown credential, closed access window, or a chain that takes no new
            attempt now; :class:`IdempotencyKeyReused` for a key already used for other content;
            :class:`IntakeInvalid` for forbidden characters or a size over its cap, and
            :class:`EvidenceTooLarge` for a file over its requirement's limit (counted as the
            bytes arrive; nothing of it is kept).
    """
    now = now or utcnow()
    credential = services.catalog.credentials.get(request.credential_id)
    if credential is None:
        known = ", ".join(sorted(services.catalog.credentials))
        raise IntakeRefused(f"no micro-credential '{printable(request.credential_id, 60)}'; known: {known}")
    answers = check_request(request)
    email = request.applicant.email.strip().lower()
    key = client_key(email, request.idempotency_key) if request.idempotency_key else None
    if key is not None:
        with services.db.session() as session:
            sub = session.scalar(select(Submission).where(Submission.idempotency_key == key))
            if sub is not None:
                if not _same_content(sub, request, credential_id=credential.id, answers=answers):
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was already used for a submission with other content; "
                        "send new content with a new key"
                    )
                return IntakeResult(sub.id, sub.credential_id, sub.attempt, sub.state, False, sub.previous_id)

    stored: list[tuple[Upload, StoredObject]] = []
    try:
        for carried in request.carried:
            stored.append(_carry_over(services, request, carried))
        for upload in request.uploads:
            stored.append((upload, _store_upload(services, credential, upload)))
        key = key or derived_key(email, credential.id, answers, stored)
        try:
            with services.db.session() as session:
                found = _existing(session, key)
                if found is None:
                    return _record(
                        session,
                        request=request,
                        credential=credential,
                        answers=answers,
                        stored=stored,
                        key=key,
                        now=now,
                    )
        except IntegrityError:
            # The same submission arrived concurrently and won the race: answer with its record.
            with services.db.session() as session:
                found = _existing(session, key)
            if found is None:
                raise
    except BaseException:
        _discard(services, stored)
        raise
    _discard(services, stored)
    if request.previous_id is not None and found.previous_id != request.previous_id:
        # The content is that of an earlier attempt (not a retry of this resubmission): nothing new to review.
        raise NothingChanged(attempt=found.attempt, submission_id=found.submission_id)
    return found


def _store_upload(services: Services, credential: Credential, upload: Upload) -> StoredObject:
    """Stream one file to the store, stopping (and keeping nothing) past its requirement's size limit."""
    cap = services.settings.ingest_max_bytes
    requirement = credential.requirement(upload.requirement_key)
    limit = requirement.max_size_bytes if requirement is not None else None
    max_bytes = min(cap, limit) if limit is not None else cap
    try:
        return services.store.put_stream(
            new_key("evidence"), upload.stream, content_type="application/octet-stream", max_bytes=max_bytes
        )
    except ObjectTooLarge:
        name = safe_display_name(upload.filename).name
        if requirement is not None and limit is not None and limit <= cap:
            raise EvidenceTooLarge(
                f"'{name}' is larger than {human_size(limit)}, the limit for '{requirement.title}'; nothing of it "
                "was kept. Compress or shorten the file, or export it at a lower resolution, then send it again."
            ) from None
        raise EvidenceTooLarge(
            f"'{name}' is larger than the upload cap of {human_size(cap)}; nothing of it was kept"
        ) from None


def _same_content(sub: Submission, request: IntakeRequest, *, credential_id: str, answers: dict[str, str]) -> bool:
    """Whether a retry under the same Idempotency-Key sends what the recorded submission holds.

    Answers and file names are compared; the bytes too, for files that can be read twice (a file
    already taken by the recorded submission, sent by reference, is not read again).
    """
    if sub.credential_id != credential_id or dict(sub.answers or {}) != answers:
        return False
    left = [(item.requirement_key, item.original_name, item.sha256) for item in sub.evidence]
    for carried in request.carried:
        match = next((e for e in left if (e[0], e[2]) == (carried.requirement_key, carried.sha256.lower())), None)
        if match is None:
            return False
        left.remove(match)
    for upload in request.uploads:
        sha = _sha256_of(upload.stream)
        match = next(
            (e for e in left if e[:2] == (upload.requirement_key, upload.filename) and sha in (None, e[2])), None
        )
        if match is None:
            return False
        left.remove(match)
    return not left


def _sha256_of(stream: BinaryIO) -> str | None:
    """The sha256 of a seekable stream's bytes, leaving it where it was; None when it cannot be re-read."""
    try:
        if not stream.seekable():
            return None
        start = stream.tell()
    except (OSError, ValueError):
        return None
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
    stream.seek(start)
    return digest.hexdigest()


def _carry_over(services: Services, request: IntakeRequest, carried: CarryOver) -> tuple[Upload, StoredObject]:
    """Copy an unchanged file of the previous attempt server-side, under a new key of its own."""
    if request.previous_id is None:
        raise IntakeRefused("files can be carried over only from a previous attempt")
    with services.db.session() as session:
        item = session.scalar(
            select(EvidenceItem).where(
                EvidenceItem.submission_id == request.previous_id,
                EvidenceItem.requirement_key == carried.requirement_key,
                EvidenceItem.sha256 == carried.sha256,
                EvidenceItem.purged_at.is_(None),  # deleted under the retention policy: send it again
            )
        )
        if item is None:
            raise IntakeRefused(
                f"no file with sha256 {carried.sha256[:12]}... for {carried.requirement_key!r} in submission "
                f"{request.previous_id}; send the file itself"
            )
        name, key = item.original_name, item.storage_key
    with services.store.local_path(key) as path:
        obj = services.store.put_file(new_key("evidence"), path)
    return Upload(carried.requirement_key, name, BytesIO(b"")), obj


def _discard(services: Services, stored: list[tuple[Upload, StoredObject]]) -> None:
    for _, obj in stored:
        services.store.delete(obj.key)
