"""Intake: store a submission's evidence and record it, once, whatever the number of sends.

The CLI (``credflow submit``) and the HTTP intake both call :func:`submit`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.db.models import Applicant, Enrolment, EvidenceItem, Submission, utcnow
from credflow.errors import IntakeRefused
from credflow.evidence.names import safe_display_name
from credflow.lifecycle import State
from credflow.services import Services
from credflow.storage.base import ObjectTooLarge, StoredObject, new_key
from credflow.submissions import record_event, transition, unlock_count

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class ApplicantInfo:
    """Who is applying."""

    name: str
    email: str
    organisation: str


@dataclass(frozen=True)
class Upload:
    """One evidence file as sent: the requirement it answers, its name as sent, its bytes."""

    requirement_key: str
    filename: str
    stream: BinaryIO
    content_type: str | None = None


@dataclass(frozen=True)
class CarryOver:
    """An evidence file of the previous attempt kept as it was: named by its sha256, not sent again."""

    requirement_key: str
    sha256: str


@dataclass(frozen=True)
class IntakeRequest:
    """Everything one submission carries."""

    applicant: ApplicantInfo
    credential_id: str
    answers: Mapping[str, Any]
    uploads: Sequence[Upload] = field(default=())
    idempotency_key: str | None = None
    enrolled_on: date | None = None  # first enrolment date; later sends never move it
    carried: Sequence[CarryOver] = field(default=())  # resubmissions: unchanged files of the previous attempt
    previous_id: str | None = None  # resubmissions: the attempt this one follows (checked against the chain)


@dataclass(frozen=True)
class IntakeResult:
    """What intake did: the submission's id and state, and whether this call created it."""

    submission_id: str
    credential_id: str
    attempt: int
    state: str
    created: bool
    previous_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "credential_id": self.credential_id,
            "attempt": self.attempt,
            "state": self.state,
            "created": self.created,
            "previous_id": self.previous_id,
        }


def _check_request(request: IntakeRequest) -> dict[str, str]:
    applicant = request.applicant
    if not applicant.name.strip():
        raise IntakeRefused("applicant name is empty")
    if not EMAIL.match(applicant.email.strip()):
        raise IntakeRefused(f"applicant email {applicant.email!r} is not an email address")
    if not applicant.organisation.strip():
        raise IntakeRefused("applicant organisation is empty (it is needed to avoid reviewer conflicts)")
    answers: dict[str, str] = {}
    for key, value in request.answers.items():
        if not isinstance(value, str):
            raise IntakeRefused(f"the answer to {key!r} must be text, not {type(value).__name__}")
        answers[str(key)] = value
    return answers


def access_ends(enrolled_on: date, years: int) -> date:
    """The last day of access: the enrolment date plus ``years`` (29 February falls back to the 28th)."""
    try:
        return enrolled_on.replace(year=enrolled_on.year + years)
    except ValueError:
        return enrolled_on.replace(year=enrolled_on.year + years, day=28)


def check_access_window(*, credential: Credential, enrolled_on: date, today: date) -> None:
    """Refuse a submission outside the applicant's access window.

    Raises:
        IntakeRefused: with the enrolment date, the window and what to do.
    """
    if today < enrolled_on:
        raise IntakeRefused(f"enrolment for {credential.id} starts on {enrolled_on}; it cannot be used before then")
    ends = access_ends(enrolled_on, credential.access_years)
    if today > ends:
        raise IntakeRefused(
            f"access to {credential.title!r} ended on {ends}: enrolled on {enrolled_on} with "
            f"{credential.access_years} years of access. Ask your program administrator to renew the enrolment."
        )


def next_attempt(latest: Submission | None, credential: Credential, *, now: datetime, unlocks: int = 0) -> int:
    """The attempt number a new submission gets after ``latest`` in the same chain.

    A returned (incomplete) or withdrawn attempt costs nothing: the correction keeps its
    number. After "not yet" the next attempt counts, up to the catalog's limit.

    Raises:
        IntakeRefused: the chain does not accept a new submission now, saying why.
    """
    if latest is None:
        return 1
    state = State(latest.state)
    if state in (State.RETURNED, State.WITHDRAWN):
        return latest.attempt
    if state is State.NOT_YET:
        if latest.attempt >= credential.max_attempts + unlocks:
            raise IntakeRefused(
                f"all {credential.max_attempts} attempts at {credential.id} are used; "
                "an operator must unlock the chain after a coaching meeting"
            )
        deadline = latest.state_since + timedelta(days=credential.resubmission_window_days)
        if now > deadline:
            raise IntakeRefused(f"the resubmission window for submission {latest.id} closed on {deadline.date()}")
        return latest.attempt + 1
    if state is State.EARNED:
        raise IntakeRefused(f"{credential.id} is already earned (submission {latest.id})")
    if state is State.CLOSED:
        raise IntakeRefused(f"the attempts at {credential.id} are closed (submission {latest.id}); ask an operator")
    if state is State.FAILED:
        raise IntakeRefused(f"submission {latest.id} hit a system failure; operators are on it, no new send needed")
    raise IntakeRefused(f"submission {latest.id} for {credential.id} is still {state}; wait for its result")


def _derived_key(
    email: str, credential_id: str, answers: dict[str, str], stored: list[tuple[Upload, StoredObject]]
) -> str:
    content = {
        "email": email,
        "credential": credential_id,
        "answers": answers,
        "files": sorted([upload.requirement_key, obj.sha256] for upload, obj in stored),
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"content:{digest}"


def _client_key(email: str, key: str) -> str:
    # Namespaced by applicant: two applicants who pick the same key never see each other's work.
    return "client:" + hashlib.sha256(f"{email}\n{key}".encode()).hexdigest()


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
        IntakeRefused: unknown credential, bad applicant details, closed access window,
            or a chain that takes no new attempt now.
    """
    now = now or utcnow()
    credential = services.catalog.credentials.get(request.credential_id)
    if credential is None:
        known = ", ".join(sorted(services.catalog.credentials))
        raise IntakeRefused(f"no micro-credential {request.credential_id!r}; known: {known}")
    answers = _check_request(request)
    email = request.applicant.email.strip().lower()
    key = _client_key(email, request.idempotency_key) if request.idempotency_key else None
    if key is not None:
        with services.db.session() as session:
            found = _existing(session, key)
        if found is not None:
            return found

    stored: list[tuple[Upload, StoredObject]] = []
    try:
        for carried in request.carried:
            stored.append(_carry_over(services, request, carried))
        for upload in request.uploads:
            try:
                obj = services.store.put_stream(
                    new_key("evidence"),
                    upload.stream,
                    content_type="application/octet-stream",
                    max_bytes=services.settings.ingest_max_bytes,
                )
            except ObjectTooLarge:
                raise IntakeRefused(
                    f"file {upload.filename!r} is larger than the upload cap of "
                    f"{services.settings.ingest_max_bytes / 2**30:.1f} GiB"
                ) from None
            stored.append((upload, obj))
        key = key or _derived_key(email, credential.id, answers, stored)
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
    return found


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
