"""Drafts: an applicant's answers and files kept over days, checked by the pre-assessor, read by a coach, applied.

A draft is one attempt in the making. Its files live in the store under ``drafts/<uuid>`` (sent
through the page), ``uploads/<uuid>`` (an upload grant's object, recorded without copying) or,
after "not yet", as the previous attempt's evidence itself (``carried_from``: kept, never copied
or deleted here). **Check my evidence** runs the pre-assessor's own checks
(:func:`credflow.validation.stage.inspect_item`, :func:`credflow.validation.rules.check_requirements`)
on the draft without recording a submission; **Apply** sends it through
:func:`credflow.intake.stage.submit` under a key made of the draft's id and content, so applying
twice is one submission.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.accounts.rules import digest
from credflow.assessment.rules import missing_prerequisites
from credflow.assessment.stage import earned_ids
from credflow.catalog.models import Credential
from credflow.db.models import (
    Applicant,
    CoachComment,
    CoachLink,
    Draft,
    DraftFile,
    Enrolment,
    EvidenceItem,
    Submission,
)
from credflow.drafts.rules import (
    CoachLinkProblem,
    DraftNotFound,
    DraftRefused,
    answers_to_send,
    coach_expiry,
    coach_link_problem,
    comment_text,
    content_hash,
    file_refusal,
    idempotency_key,
    normal_answer,
    slot,
    too_large,
    wrong_kind,
)
from credflow.errors import IntakeRefused, NotFoundError
from credflow.intake.rules import (
    MAX_NAME_CHARS,
    ApplicantInfo,
    CarryOver,
    IntakeRequest,
    IntakeResult,
    Upload,
    check_text_field,
    next_attempt,
)
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.stage import deliver
from credflow.services import Services
from credflow.states import DraftState, move
from credflow.storage.base import CHUNK_SIZE, ObjectReader, ObjectStore, ObjectTooLarge, new_key
from credflow.submissions import unlock_count
from credflow.validation.rules import Problem, SentFile, check_requirements, file_problems
from credflow.validation.sniff import HEAD_BYTES, sniff
from credflow.validation.stage import inspect_item

DRAFT_PREFIX = "drafts"
#: Objects up to this size are sniffed whole (a DOCX is told from a ZIP by its parts); larger ones by their head.
WHOLE_SNIFF_BYTES = 64 << 20
#: States of the latest attempt after which a new draft revises it, pre-filled.
REVISABLE = (State.NOT_YET, State.RETURNED)


class CoachLinkRefused(Exception):
    """A coach link that cannot be used: :attr:`problem` has the page's status and message."""

    def __init__(self, problem: CoachLinkProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class DraftFileView:
    """One file of a draft as the pages show it."""

    id: str
    requirement_key: str
    filename: str
    content_type: str | None
    size: int
    sha256: str
    object_key: str
    added_at: datetime
    carried_attempt: int | None  # "kept (from attempt N)" when it is the previous attempt's file


@dataclass(frozen=True)
class CommentView:
    """A coach's comment as the applicant reads it."""

    id: str
    body: str
    created_at: datetime
    coach: str


@dataclass(frozen=True)
class CoachLinkView:
    """A coach link as its applicant manages it (the token itself is never kept)."""

    id: str
    coach_email: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Whether the link still works at ``now``."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class DraftView:
    """A draft with its files, its coaches' comments and its coach links."""

    id: str
    applicant_id: str
    credential_id: str
    state: DraftState
    answers: Mapping[str, str]
    files: tuple[DraftFileView, ...]
    comments: tuple[CommentView, ...]
    links: tuple[CoachLinkView, ...]
    previous_id: str | None
    previous_attempt: int | None
    submission_id: str | None
    updated_at: datetime

    def files_for(self, key: str) -> list[DraftFileView]:
        """The draft's files for one requirement."""
        return [f for f in self.files if f.requirement_key == key]


@dataclass(frozen=True)
class Started:
    """What starting a micro-credential made or found: the applicant and their open draft."""

    applicant_id: str
    draft_id: str


@dataclass(frozen=True)
class NewCoachLink:
    """A coach link just made: its URL (shown once: only its digest is kept) and whether it was emailed."""

    link_id: str
    url: str
    expires_at: datetime
    emailed: bool


@dataclass(frozen=True)
class CoachAccess:
    """What a working coach link opens: the draft, read-only, and whose it is."""

    link_id: str
    draft: DraftView
    applicant_name: str
    expires_at: datetime


# --- reading ---------------------------------------------------------------------------------------


def _view(session: Session, draft: Draft) -> DraftView:
    carried_ids = [f.carried_from for f in draft.files if f.carried_from]
    attempts: dict[str, int] = {}
    if carried_ids:
        rows = session.execute(
            select(EvidenceItem.id, Submission.attempt)
            .join(Submission, Submission.id == EvidenceItem.submission_id)
            .where(EvidenceItem.id.in_(carried_ids))
        ).all()
        attempts = {row[0]: row[1] for row in rows}
    previous_attempt = session.scalar(select(Submission.attempt).where(Submission.id == draft.previous_id))
    links = session.scalars(select(CoachLink).where(CoachLink.draft_id == draft.id).order_by(CoachLink.created_at))
    comments = session.execute(
        select(CoachComment, CoachLink.coach_email)
        .join(CoachLink, CoachLink.id == CoachComment.link_id)
        .where(CoachComment.draft_id == draft.id)
        .order_by(CoachComment.created_at, CoachComment.id)
    ).all()
    return DraftView(
        id=draft.id,
        applicant_id=draft.applicant_id,
        credential_id=draft.credential_id,
        state=DraftState(draft.state),
        answers={str(k): str(v) for k, v in (draft.answers or {}).items()},
        files=tuple(
            DraftFileView(
                id=f.id,
                requirement_key=f.requirement_key,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                object_key=f.object_key,
                added_at=f.added_at,
                carried_attempt=attempts.get(f.carried_from) if f.carried_from else None,
            )
            for f in draft.files
        ),
        comments=tuple(
            CommentView(id=c.id, body=c.body, created_at=c.created_at, coach=email or "Your coach")
            for c, email in comments
        ),
        links=tuple(
            CoachLinkView(
                id=link.id,
                coach_email=link.coach_email,
                created_at=link.created_at,
                expires_at=link.expires_at,
                revoked_at=link.revoked_at,
            )
            for link in links
        ),
        previous_id=draft.previous_id,
        previous_attempt=previous_attempt,
        submission_id=draft.submission_id,
        updated_at=draft.updated_at,
    )


def _own(session: Session, draft_id: str, applicant_id: str, *, open_only: bool = True) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.applicant_id != applicant_id:
        raise DraftNotFound("no such draft")
    if open_only and draft.state != DraftState.OPEN:
        raise DraftRefused("This draft has already been applied with; it cannot change any more.")
    return draft


def get_draft(services: Services, *, draft_id: str, applicant_id: str) -> DraftView:
    """One of the applicant's drafts (any state).

    Raises:
        DraftNotFound: no such draft of this applicant.
    """
    with services.db.session() as session:
        return _view(session, _own(session, draft_id, applicant_id, open_only=False))


def _latest(session: Session, applicant_id: str, credential_id: str) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(Submission.applicant_id == applicant_id, Submission.credential_id == credential_id)
        .order_by(Submission.created_at.desc(), Submission.attempt.desc())
        .limit(1)
    )


def applicant_id_of(services: Services, email: str) -> str | None:
    """The applicant record of an address, if it has one."""
    with services.db.session() as session:
        return session.scalar(select(Applicant.id).where(Applicant.email == email.strip().lower()))


def prerequisites_missing(services: Services, credential: Credential, applicant_id: str | None) -> list[str]:
    """The titles of the credential's prerequisites the applicant has not earned (most declare none)."""
    prerequisites = credential.prerequisites
    if not prerequisites:
        return []
    with services.db.session() as session:
        earned = earned_ids(session, applicant_id) if applicant_id else frozenset()
    missing = missing_prerequisites(credential, earned)
    return [services.catalog.credentials[cid].title if cid in services.catalog.credentials else cid for cid in missing]


def current_draft(services: Services, *, applicant_id: str, credential_id: str, now: datetime) -> DraftView | None:
    """The applicant's open draft of a credential; after "not yet" (or a return) a new one, pre-filled.

    A draft that revises the latest attempt copies its answers and keeps each of its files
    (``carried_from``: no bytes copied). None when there is no open draft and none may open now.
    """
    with services.db.session() as session:
        draft = session.scalar(select(Draft).where(Draft.open_slot == slot(applicant_id, credential_id)))
        if draft is not None:
            return _view(session, draft)
        latest = _latest(session, applicant_id, credential_id)
        if latest is None or State(latest.state) not in REVISABLE:
            return None
        credential = services.catalog.credentials.get(credential_id)
        if credential is None:
            return None
        unlocks = unlock_count(session, applicant_id=applicant_id, credential_id=credential_id)
        try:
            next_attempt(latest, credential, now=now, unlocks=unlocks)
        except IntakeRefused:
            return None
        latest_id = latest.id
    return _open(services, applicant_id=applicant_id, credential_id=credential_id, revising=latest_id, now=now)


def last_applied(services: Services, *, applicant_id: str, credential_id: str) -> DraftView | None:
    """The applicant's most recently applied draft of a credential, if any."""
    with services.db.session() as session:
        draft = session.scalar(
            select(Draft)
            .where(
                Draft.applicant_id == applicant_id,
                Draft.credential_id == credential_id,
                Draft.state == DraftState.APPLIED.value,
            )
            .order_by(Draft.updated_at.desc())
            .limit(1)
        )
        return None if draft is None else _view(session, draft)


def _open(
    services: Services, *, applicant_id: str, credential_id: str, revising: str | None, now: datetime
) -> DraftView:
    """Make the open draft of the slot (pre-filled from ``revising``); a concurrent maker's draft wins."""
    try:
        with services.db.session() as session:
            draft = Draft(
                applicant_id=applicant_id,
                credential_id=credential_id,
                open_slot=slot(applicant_id, credential_id),
                answers={},
                state=DraftState.OPEN.value,
                previous_id=revising,
                created_at=now,
                updated_at=now,
            )
            session.add(draft)
            session.flush()
            if revising is not None:
                previous = session.get_one(Submission, revising)
                draft.answers = {str(k): str(v) for k, v in (previous.answers or {}).items()}
                for item in previous.evidence:
                    if item.purged_at is not None:
                        continue  # deleted under the retention policy: it must be sent again
                    session.add(
                        DraftFile(
                            draft_id=draft.id,
                            requirement_key=item.requirement_key,
                            filename=item.original_name,
                            content_type=item.declared_type,
                            size=item.size,
                            sha256=item.sha256,
                            object_key=item.storage_key,
                            added_at=now,
                            carried_from=item.id,
                        )
                    )
            session.flush()
            session.refresh(draft)
            return _view(session, draft)
    except IntegrityError:
        with services.db.session() as session:
            found = session.scalar(select(Draft).where(Draft.open_slot == slot(applicant_id, credential_id)))
            if found is None:
                raise
            return _view(session, found)


# --- starting ----------------------------------------------------------------------------------------


def start(
    services: Services,
    *,
    email: str,
    credential_id: str,
    name: str | None = None,
    organisation: str | None = None,
    now: datetime,
) -> Started:
    """Start a micro-credential for a signed-in address: its applicant record (made when new), enrolment, draft.

    Args:
        services: The composition root's services.
        email: The verified address.
        credential_id: The micro-credential.
        name: The person's name (needed when the address has no applicant record yet).
        organisation: Their organisation (likewise).
        now: The moment (the enrolment starts today).

    Raises:
        DraftNotFound: no such micro-credential.
        DraftRefused: a prerequisite is not earned, or the name or organisation is missing or malformed.
    """
    credential = services.catalog.credentials.get(credential_id)
    if credential is None:
        raise DraftNotFound(f"no micro-credential {credential_id[:80]!r}")
    address = email.strip().lower()
    applicant_id = applicant_id_of(services, address)
    missing = prerequisites_missing(services, credential, applicant_id)
    if missing:
        raise DraftRefused(
            f"{credential.title!r} needs {' and '.join(repr(t) for t in missing)} first: earn "
            f"{'it' if len(missing) == 1 else 'them'}, then start this one."
        )
    if applicant_id is None:
        try:
            clean_name = check_text_field("Your name", name or "", max_chars=MAX_NAME_CHARS)
            clean_org = check_text_field("Your organisation", organisation or "", max_chars=MAX_NAME_CHARS)
        except IntakeRefused as exc:
            raise DraftRefused(str(exc)) from None
        if not clean_name:
            raise DraftRefused("Enter your name as it should appear on your badge.")
        if not clean_org:
            raise DraftRefused("Enter your organisation (reviewers from it are not assigned to you).")
        try:
            with services.db.session() as session:
                applicant = Applicant(email=address, name=clean_name, organisation=clean_org)
                session.add(applicant)
                session.flush()
                applicant_id = applicant.id
        except IntegrityError:  # the same person started twice at once
            applicant_id = applicant_id_of(services, address)
            assert applicant_id is not None
    try:
        with services.db.session() as session:
            enrolled = session.scalar(
                select(Enrolment.id).where(
                    Enrolment.applicant_id == applicant_id, Enrolment.credential_id == credential_id
                )
            )
            if enrolled is None:
                session.add(Enrolment(applicant_id=applicant_id, credential_id=credential_id, enrolled_on=now.date()))
    except IntegrityError:
        pass  # enrolled concurrently: one enrolment either way
    draft = current_draft(services, applicant_id=applicant_id, credential_id=credential_id, now=now)
    if draft is None:
        with services.db.session() as session:
            latest = _latest(session, applicant_id, credential_id)
        if latest is not None:
            raise DraftRefused(
                f"Your attempt {latest.attempt} at {credential.title!r} is "
                f"{State(latest.state).value.replace('_', ' ')}: "
                "there is nothing to draft now. Follow it on My micro-credentials."
            )
        draft = _open(services, applicant_id=applicant_id, credential_id=credential_id, revising=None, now=now)
    return Started(applicant_id=applicant_id, draft_id=draft.id)


# --- changing ----------------------------------------------------------------------------------------


def save_answers(
    services: Services, *, draft_id: str, applicant_id: str, answers: Mapping[str, str], now: datetime
) -> None:
    """Keep the draft's written answers (only the credential's questions; line breaks made uniform).

    Raises:
        DraftNotFound: not this applicant's draft.
        DraftRefused: the draft was applied.
    """
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id)
        credential = services.catalog.get(draft.credential_id)
        keys = {req.key for req in credential.text_requirements}
        kept = dict(draft.answers or {})
        kept.update({key: normal_answer(value) for key, value in answers.items() if key in keys})
        draft.answers = kept
        draft.updated_at = now


def _requirement_check(session: Session, services: Services, draft: Draft, key: str) -> tuple[Credential, Any]:
    credential = services.catalog.get(draft.credential_id)
    requirement = credential.requirement(key)
    held = sum(1 for f in draft.files if f.requirement_key == key)
    problem = file_refusal(requirement, credential=credential, key=key, held=held)
    if problem is not None:
        raise DraftRefused(problem)
    return credential, requirement


def _sniffed(services: Services, key: str, size: int) -> tuple[str, str]:
    """``(format, description)`` of a stored object by its content (whole when small, else its head)."""
    if size <= WHOLE_SNIFF_BYTES:
        with services.store.local_path(key) as path:
            found = sniff(path)
    else:
        head = services.store.read_head(key, HEAD_BYTES)
        with tempfile.TemporaryDirectory(prefix="credflow-sniff-") as folder:
            path = Path(folder) / "head"
            path.write_bytes(head)
            found = sniff(path)
    return found.format, found.description


def add_file(
    services: Services,
    *,
    draft_id: str,
    applicant_id: str,
    requirement_key: str,
    filename: str,
    content_type: str | None,
    stream: BinaryIO,
    now: datetime,
) -> DraftFileView:
    """Stream one file into the store (``drafts/<uuid>``, stopped at its requirement's limit) and add it to the draft.

    Raises:
        DraftNotFound: not this applicant's draft.
        DraftRefused: not a file requirement, it holds its maximum, the file is too large (nothing of it
            kept), or its content is not a format the requirement accepts (deleted again).
    """
    name = filename.strip()[:255] or "unnamed"
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id)
        _, requirement = _requirement_check(session, services, draft, requirement_key)
    cap = services.settings.ingest_max_bytes
    limit = min(cap, requirement.max_size_bytes or cap)
    try:
        stored = services.store.put_stream(new_key(DRAFT_PREFIX), stream, max_bytes=limit)
    except ObjectTooLarge:
        raise DraftRefused(too_large(requirement, filename=name, limit=limit)) from None
    return _record_file(
        services,
        draft_id=draft_id,
        applicant_id=applicant_id,
        requirement=requirement,
        filename=name,
        content_type=content_type,
        object_key=stored.key,
        size=stored.size,
        sha256=stored.sha256,
        now=now,
        discard=lambda: services.store.delete(stored.key),
    )


def add_stored(
    services: Services,
    *,
    draft_id: str,
    applicant_id: str,
    requirement_key: str,
    filename: str,
    content_type: str | None,
    object_key: str,
    max_bytes: int,
    now: datetime,
) -> DraftFileView:
    """Add a file already in the store (an upload grant's ``uploads/<uuid>``) without copying its bytes.

    The object moves to ``drafts/<uuid>`` (a rename; on S3 a copy inside the bucket), out of reach
    of the sweep and the bucket rule that expire unclaimed uploads, however long the draft waits.
    The caller has checked the grant (signature, applicant, credential, requirement, expiry). The
    same upload added twice is one draft file.

    Raises:
        DraftNotFound: not this applicant's draft.
        DraftRefused: never completed, too large, wrong format, or already part of another draft.
    """
    name = filename.strip()[:255] or "unnamed"
    kept_key = f"{DRAFT_PREFIX}/{object_key.rsplit('/', 1)[-1]}"
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id)
        already = session.scalar(select(DraftFile).where(DraftFile.object_key.in_((object_key, kept_key))))
        if already is not None:
            if already.draft_id != draft.id:
                raise DraftRefused(f"The upload of '{name}' already belongs to another draft; upload the file again.")
            return _file_view(already)
        _, requirement = _requirement_check(session, services, draft, requirement_key)
    # A move that happened before a crash left the bytes under kept_key, unrecorded: take them from there.
    source = object_key if services.store.exists(object_key) else kept_key
    try:
        size = services.store.size(source)
    except NotFoundError:
        raise DraftRefused(f"The upload of '{name}' never completed: send the file again.") from None
    limit = min(max_bytes, requirement.max_size_bytes or max_bytes, services.settings.ingest_max_bytes)
    if size > limit:
        services.store.delete(source)
        raise DraftRefused(too_large(requirement, filename=name, limit=limit))
    sha = hashlib.sha256()
    for chunk in services.store.stream(source):
        sha.update(chunk)
    if source != kept_key:
        services.store.move(source, kept_key)
    return _record_file(
        services,
        draft_id=draft_id,
        applicant_id=applicant_id,
        requirement=requirement,
        filename=name,
        content_type=content_type,
        object_key=kept_key,
        size=size,
        sha256=sha.hexdigest(),
        now=now,
        discard=lambda: services.store.delete(kept_key),
    )


def _file_view(row: DraftFile, carried_attempt: int | None = None) -> DraftFileView:
    return DraftFileView(
        id=row.id,
        requirement_key=row.requirement_key,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        object_key=row.object_key,
        added_at=row.added_at,
        carried_attempt=carried_attempt,
    )


def _record_file(
    services: Services,
    *,
    draft_id: str,
    applicant_id: str,
    requirement: Any,
    filename: str,
    content_type: str | None,
    object_key: str,
    size: int,
    sha256: str,
    now: datetime,
    discard: Callable[[], None],
) -> DraftFileView:
    """Check the stored object's kind by content, then record it (or delete it and say why)."""
    try:
        fmt, found = _sniffed(services, object_key, size)
        problem = (
            f"'{filename}' is empty (0 bytes): add the file again; it may not have finished saving."
            if size == 0
            else wrong_kind(requirement, filename=filename, found=found, fmt=fmt)
        )
        if problem is not None:
            raise DraftRefused(problem)
        with services.db.session() as session:
            draft = _own(session, draft_id, applicant_id)
            held = sum(1 for f in draft.files if f.requirement_key == requirement.key)
            if held >= requirement.max_count:  # another tab added one meanwhile
                _requirement_check(session, services, draft, requirement.key)
            row = DraftFile(
                draft_id=draft.id,
                requirement_key=requirement.key,
                filename=filename,
                content_type=(content_type or "")[:200] or None,
                size=size,
                sha256=sha256,
                object_key=object_key,
                added_at=now,
            )
            session.add(row)
            draft.updated_at = now
            session.flush()
            return _file_view(row)
    except BaseException:
        discard()
        raise


def _owned_object(key: str) -> bool:
    """Whether a draft file's object is the draft's own (not the previous attempt's evidence)."""
    return key.startswith((f"{DRAFT_PREFIX}/", "uploads/"))


def remove_file(services: Services, *, draft_id: str, applicant_id: str, file_id: str, now: datetime) -> str:
    """Remove a file from the draft (its own bytes are deleted; a kept file's evidence stays). Returns its name.

    Raises:
        DraftNotFound: no such file in this applicant's draft.
        DraftRefused: the draft was applied.
    """
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id)
        row = session.get(DraftFile, file_id)
        if row is None or row.draft_id != draft.id:
            raise DraftNotFound("no such file in this draft")
        key, name, own = row.object_key, row.filename, row.carried_from is None
        session.delete(row)
        draft.updated_at = now
    if own and _owned_object(key):
        services.store.delete(key)
    return name


def draft_file(services: Services, *, draft_id: str, file_id: str) -> DraftFileView:
    """One file of a draft (for a download by its applicant or through a coach link).

    Raises:
        DraftNotFound: no such file in this draft.
    """
    with services.db.session() as session:
        row = session.get(DraftFile, file_id)
        if row is None or row.draft_id != draft_id:
            raise DraftNotFound("no such file in this draft")
        return _file_view(row)


# --- Check my evidence ---------------------------------------------------------------------------------


def check_draft(services: Services, *, draft_id: str, applicant_id: str) -> list[Problem]:
    """Run the pre-assessor on the draft as it stands: every problem, in plain words; nothing is recorded.

    The checks are the ones intake's validation runs (:func:`inspect_item`, :func:`file_problems`,
    :func:`check_requirements`), on the draft's answers and stored files. No submission is made and
    no attempt is spent.
    """
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id, open_only=False)
        credential = services.catalog.get(draft.credential_id)
        answers = answers_to_send(credential, {str(k): str(v) for k, v in (draft.answers or {}).items()})
        files = [_file_view(f) for f in draft.files]
    sent: list[SentFile] = []
    for f in files:
        requirement = credential.requirement(f.requirement_key)
        # Unsaved: the facts are gathered on a transient record exactly as validation gathers them on a real one.
        item = EvidenceItem(original_name=f.filename, storage_key=f.object_key, size=f.size, sha256=f.sha256)
        try:
            facts = inspect_item(services, item, requirement)
        except NotFoundError:
            sent.append(
                SentFile(
                    f.requirement_key,
                    f.filename,
                    f.sha256,
                    (
                        Problem(
                            "file_missing",
                            f"'{f.filename}' is no longer stored (perhaps removed under the retention policy).",
                            "Remove it from the draft and add the file again.",
                            f.requirement_key,
                            f.filename,
                        ),
                    ),
                )
            )
            continue
        sent.append(SentFile(f.requirement_key, facts.display_name, f.sha256, tuple(file_problems(requirement, facts))))
    return check_requirements(credential, answers=answers, files=sent)


# --- Apply ---------------------------------------------------------------------------------------------


def apply_draft(services: Services, *, draft_id: str, applicant_id: str, now: datetime) -> IntakeResult:
    """Send the draft through the intake; the draft becomes applied and names its submission.

    New files are streamed from the store into the intake; kept files go as :class:`CarryOver`
    (named by sha256, never sent again). The Idempotency-Key is the draft's id and content hash,
    so a second press (or a retry after a lost answer) is the same submission. An already
    applied draft answers with its submission.

    Raises:
        DraftNotFound: not this applicant's draft.
        IntakeRefused: the intake's refusal (:class:`~credflow.intake.rules.NothingChanged` when the
            content is the previous attempt's), with its message.
    """
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id, open_only=False)
        if draft.state == DraftState.APPLIED and draft.submission_id is not None:
            sub = session.get_one(Submission, draft.submission_id)
            return IntakeResult(sub.id, sub.credential_id, sub.attempt, sub.state, False, sub.previous_id)
        applicant = session.get_one(Applicant, draft.applicant_id)
        who = ApplicantInfo(name=applicant.name, email=applicant.email, organisation=applicant.organisation)
        credential = services.catalog.get(draft.credential_id)
        answers = answers_to_send(credential, {str(k): str(v) for k, v in (draft.answers or {}).items()})
        files = [
            (f.requirement_key, f.filename, f.content_type, f.object_key, f.sha256, f.carried_from) for f in draft.files
        ]
        previous_id = draft.previous_id
    key = idempotency_key(draft_id, content_hash(answers, [(f[0], f[4]) for f in files]))
    uploads = [
        Upload(req_key, name, io.BufferedReader(ObjectReader(_chunks(services, obj_key)), CHUNK_SIZE), ctype)
        for req_key, name, ctype, obj_key, _, carried in files
        if carried is None
    ]
    carried_over = [CarryOver(req_key, sha) for req_key, _, _, _, sha, carried in files if carried is not None]
    try:
        result = submit(
            services,
            IntakeRequest(
                applicant=who,
                credential_id=credential.id,
                answers=answers,
                uploads=uploads,
                carried=carried_over,
                previous_id=previous_id,
                idempotency_key=key,
            ),
            now=now,
        )
    finally:
        for upload in uploads:
            upload.stream.close()
    with services.db.session() as session:
        move(
            session,
            Draft.state,
            DraftState.APPLIED,
            where=Draft.id == draft_id,
            current=DraftState.OPEN,
            values={"submission_id": result.submission_id, "open_slot": None, "updated_at": now},
        )
    for _, _, _, obj_key, _, carried in files:
        if carried is None and _owned_object(obj_key):
            services.store.delete(obj_key)  # the submission holds its own copy now
    return result


def _chunks(services: Services, key: str) -> Callable[[], Iterator[bytes]]:
    def open_chunks() -> Iterator[bytes]:
        try:
            return services.store.stream(key)
        except NotFoundError:
            raise IntakeRefused("a file of the draft is no longer stored: remove it and add it again") from None

    return open_chunks


# --- coaches -------------------------------------------------------------------------------------------


def make_coach_link(
    services: Services,
    *,
    draft_id: str,
    applicant_id: str,
    days: int,
    coach_email: str | None,
    now: datetime,
) -> NewCoachLink:
    """Make a private coach link to the draft (only its digest is stored) and email it when an address is given.

    Raises:
        DraftNotFound: not this applicant's draft.
        DraftRefused: the draft was applied.
    """
    token = secrets.token_urlsafe(32)
    expires = coach_expiry(now, days)
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id)
        applicant = session.get_one(Applicant, draft.applicant_id)
        link = CoachLink(
            draft_id=draft.id, token_hash=digest(token), coach_email=coach_email, created_at=now, expires_at=expires
        )
        session.add(link)
        session.flush()
        link_id, applicant_name = link.id, applicant.name
        credential = services.catalog.get(draft.credential_id)
    url = f"{services.settings.public_url}/coach/{token}"
    emailed = False
    if coach_email:
        message = render_message(
            "coach_invite",
            idempotency_key=f"coach_invite:{link_id}",
            to_email=coach_email,
            to_name=coach_email,
            reply_to=credential.reply_to,
            context={
                "applicant_name": applicant_name,
                "credential_title": credential.title,
                "issuer_name": credential.issuer.name,
                "url": url,
                "expires": f"{expires:%d %B %Y}",
            },
        )
        deliver(services, message, submission_id=None, now=now)
        emailed = True
    return NewCoachLink(link_id=link_id, url=url, expires_at=expires, emailed=emailed)


def revoke_coach_link(services: Services, *, draft_id: str, applicant_id: str, link_id: str, now: datetime) -> None:
    """Withdraw a coach link at once (idempotent).

    Raises:
        DraftNotFound: no such link on this applicant's draft.
    """
    with services.db.session() as session:
        draft = _own(session, draft_id, applicant_id, open_only=False)
        link = session.get(CoachLink, link_id)
        if link is None or link.draft_id != draft.id:
            raise DraftNotFound("no such coach link")
        if link.revoked_at is None:
            link.revoked_at = now


def open_coach_link(services: Services, token: str, *, now: datetime) -> CoachAccess:
    """The draft a coach link opens, read-only.

    Raises:
        CoachLinkRefused: unknown (404), revoked (403), expired or its draft applied (410).
    """
    with services.db.session() as session:
        link = (
            session.scalar(select(CoachLink).where(CoachLink.token_hash == digest(token))) if len(token) < 200 else None
        )
        draft = session.get(Draft, link.draft_id) if link is not None else None
        problem = coach_link_problem(
            found=link is not None and draft is not None,
            revoked_at=link.revoked_at if link else None,
            expires_at=link.expires_at if link else None,
            applied=draft is not None and draft.state != DraftState.OPEN,
            now=now,
        )
        if problem is not None or link is None or draft is None:
            raise CoachLinkRefused(problem or CoachLinkProblem(404, "This coach link is not valid."))
        applicant = session.get_one(Applicant, draft.applicant_id)
        return CoachAccess(
            link_id=link.id, draft=_view(session, draft), applicant_name=applicant.name, expires_at=link.expires_at
        )


def add_comment(services: Services, token: str, body: str, *, now: datetime) -> CommentView:
    """Record a coach's comment through their link.

    Raises:
        CoachLinkRefused: the link cannot be used.
        DraftRefused: the comment is empty, too long or has control characters.
    """
    text = comment_text(body)
    access = open_coach_link(services, token, now=now)
    with services.db.session() as session:
        comment = CoachComment(draft_id=access.draft.id, link_id=access.link_id, body=text, created_at=now)
        session.add(comment)
        session.flush()
        email = session.scalar(select(CoachLink.coach_email).where(CoachLink.id == access.link_id))
        return CommentView(id=comment.id, body=text, created_at=now, coach=email or "Your coach")


def forget_drafts(session: Session, store: ObjectStore, applicant_id: str) -> int:
    """Delete an applicant's drafts with their own files, coach links and comments (erasure); how many drafts.

    Files kept from a previous attempt are that attempt's evidence: the erasure purges those itself.
    """
    drafts = session.scalars(select(Draft).where(Draft.applicant_id == applicant_id)).all()
    if not drafts:
        return 0
    ids = [d.id for d in drafts]
    owned = session.scalars(select(DraftFile.object_key).where(DraftFile.draft_id.in_(ids))).all()
    session.execute(delete(CoachComment).where(CoachComment.draft_id.in_(ids)))
    session.execute(delete(CoachLink).where(CoachLink.draft_id.in_(ids)))
    session.execute(delete(DraftFile).where(DraftFile.draft_id.in_(ids)))
    session.execute(delete(Draft).where(Draft.id.in_(ids)))
    for key in owned:
        if _owned_object(key):
            store.delete(key)
    return len(ids)
