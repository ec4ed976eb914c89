"""SQLAlchemy models of credflow's records (applicants, submissions, evidence, transcodes, events, messages)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from credflow.states import BadgeState, MessageState

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
        datetime: UTCDateTime,
    }


class Applicant(Base):
    __tablename__ = "applicants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Erasure on request (credflow/privacy): personal fields become a tombstone; a keyed hash of the
    # old email lets a second erase (or export) answer "already erased" without keeping the address.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    erased_email_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class Enrolment(Base):
    """An applicant's access to one micro-credential, from ``enrolled_on`` for the catalog's years."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("applicant_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    enrolled_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One attempt at one micro-credential; attempts of a chain link to the previous one."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_state", "state"),
        Index("ix_submissions_applicant_credential", "applicant_id", "credential_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    attempt: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), default=None)
    state: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[list[Any]] = mapped_column(default=list)  # why it was returned, if it was
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    state_since: Mapped[datetime] = mapped_column(default=utcnow)

    applicant: Mapped[Applicant] = relationship(lazy="joined")
    evidence: Mapped[list[EvidenceItem]] = relationship(
        back_populates="submission", order_by="(EvidenceItem.requirement_key, EvidenceItem.position)"
    )


class EvidenceItem(Base):
    """One uploaded file and what validation found in it."""

    __tablename__ = "evidence_items"
    __table_args__ = (
        UniqueConstraint("submission_id", "requirement_key", "position"),
        Index("ix_evidence_sha256", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    requirement_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(Text)  # as sent, for the record only: never used as a path
    display_name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    declared_type: Mapped[str | None] = mapped_column(String(200), default=None)
    sniffed_format: Mapped[str | None] = mapped_column(String(32), default=None)
    sniffed_mime: Mapped[str | None] = mapped_column(String(200), default=None)
    media_probe: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    validation: Mapped[list[Any] | None] = mapped_column(JsonType, default=None)  # problems; [] = valid
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the bytes were deleted (retention sweep or erasure); the record stays.
    purged_at: Mapped[datetime | None] = mapped_column(default=None)

    submission: Mapped[Submission] = relationship(back_populates="evidence")


class Transcode(Base):
    """The review version of one video, keyed by the input's sha256: same bytes, one transcode."""

    __tablename__ = "transcodes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    input_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # a credflow.states.TranscodeState
    output_key: Mapped[str | None] = mapped_column(String(255), default=None)
    poster_key: Mapped[str | None] = mapped_column(String(255), default=None)
    output_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    output_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Who is transcoding it and until when the claim holds; progress renews the lease, so a
    # crashed worker's claim lapses and a re-run takes the work over.
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """Append-only log of every state change and notable step (database triggers refuse edits)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_submission", "submission_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32), default=None)
    to_state: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutgoingMessage(Base):
    """Every email credflow sends, by idempotency key: a key that is ``sent`` is never sent again."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), default=None)
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.PENDING)
    # A sender claims the message before calling the mail service; a claim that lapses (the
    # sender crashed) lets a later run try again, so concurrent runs never both send.
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    backend: Mapped[str | None] = mapped_column(String(32), default=None)
    provider_id: Mapped[str | None] = mapped_column(String(255), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class Reviewer(Base):
    """A trained assessor. Re-imports update the row; assignments and events keep the history."""

    __tablename__ = "reviewers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    is_lead: Mapped[bool] = mapped_column(default=False)
    max_active: Mapped[int] = mapped_column(Integer, default=5)
    calibrated_on: Mapped[date | None] = mapped_column(Date, default=None)
    in_pool: Mapped[bool] = mapped_column(default=True)  # False once a re-import leaves them out
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    certifications: Mapped[list[ReviewerCertification]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    unavailable: Mapped[list[ReviewerUnavailability]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    relations: Mapped[list[ReviewerRelation]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class ReviewerCertification(Base):
    __tablename__ = "reviewer_certifications"
    __table_args__ = (UniqueConstraint("reviewer_id", "credential_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))


class ReviewerUnavailability(Base):
    __tablename__ = "reviewer_unavailability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class ReviewerRelation(Base):
    """A declared relation (coach, mentor, supervisor, ...) with an applicant, by the applicant's email."""

    __tablename__ = "reviewer_relations"
    __table_args__ = (UniqueConstraint("reviewer_id", "applicant_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    applicant_email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))


class Assignment(Base):
    """One reviewer's job on one submission: a review, an adjudication of split criteria, or a back-read."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_submission", "submission_id"),
        Index("ix_assignments_reviewer_state", "reviewer_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("reviewers.id"))
    role: Mapped[str] = mapped_column(String(16))  # review | adjudication | backread
    state: Mapped[str] = mapped_column(String(16))  # a credflow.states.AssignmentState
    # Changing the nonce revokes every link issued for the assignment.
    token_nonce: Mapped[str | None] = mapped_column(String(32), default=new_id)
    criteria: Mapped[list[Any]] = mapped_column(default=list)  # adjudication: the split criteria
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # criterion -> {"verdict", "comment"}
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    decline_reason: Mapped[str | None] = mapped_column(Text, default=None)

    reviewer: Mapped[Reviewer] = relationship(lazy="joined")


class Decision(Base):
    """The outcome of a submission and its provenance: which reviews and adjudications made it."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))  # earned | not_yet
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)  # criterion -> verdict and its sources
    backread: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class GoldStandard(Base):
    """A calibration submission with known scores per criterion."""

    __tablename__ = "gold_standards"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    credential_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # criterion -> true (Met) / false (Not Yet)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What a reviewer calibrating in the browser reads (migration 0010; None for gold files without it).
    answers: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # text requirement key -> answer
    evidence_notes: Mapped[str | None] = mapped_column(Text, default=None)  # the files, described in words
    comments: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # criterion -> why gold scored it so


class CalibrationRecord(Base):
    """One reviewer's scoring of one gold-standard submission, and the result."""

    __tablename__ = "calibration_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    gold_id: Mapped[str] = mapped_column(ForeignKey("gold_standards.id", ondelete="CASCADE"))
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agreed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # A retake of a gold standard whose verdicts the reviewer has seen: it cannot calibrate (migration 0010).
    practice: Mapped[bool] = mapped_column(default=False)


class IssuedBadge(Base):
    """One issued credential: a micro-credential badge or a pathway badge, in OB 3.0 and OB 2.0."""

    __tablename__ = "badges"
    __table_args__ = (UniqueConstraint("issuer_id", "status_index"), Index("ix_badges_applicant", "applicant_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # micro | pathway
    badge_key: Mapped[str] = mapped_column(String(80))  # credential id, or pathway badge id
    issuer_id: Mapped[str] = mapped_column(String(80))
    status_index: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(16), default=BadgeState.ACTIVE)
    ob3: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ob2: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    ob2_jws: Mapped[str | None] = mapped_column(Text, default=None)
    superseded_by: Mapped[str | None] = mapped_column(String(32), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoke_reason: Mapped[str | None] = mapped_column(Text, default=None)
    expiry_reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusListCounter(Base):
    """The next free status-list index of one issuer (indexes are unique per issuer, see ``badges``).

    An issuance takes its index with one ``UPDATE ... RETURNING`` in its own transaction, so
    concurrent issuances wait their turn instead of colliding, and a rolled-back one gives its
    index back.
    """

    __tablename__ = "status_list_counters"

    issuer_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_index: Mapped[int] = mapped_column(Integer)


class InServiceHours(Base):
    """In-service hours earned with one micro-credential (one record per decision)."""

    __tablename__ = "inservice_hours"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), unique=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    hours: Mapped[float] = mapped_column(Float)
    earned_on: Mapped[date] = mapped_column(Date)
    confirmation: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """Someone who proved an email address by opening a sign-in link sent to it (roles follow from the address)."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_signed_in_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInLink(Base):
    """One emailed sign-in link: single use (``used_at`` is set once, by compare-and-set), short-lived."""

    __tablename__ = "sign_in_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))  # lower-cased; no person row until the link is used
    nonce_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the link's secret nonce
    next_path: Mapped[str] = mapped_column(String(500), default="/me")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PersonSession(Base):
    """A signed-in browser: the cookie holds a secret whose sha256 is the key; revoking ends it at once."""

    __tablename__ = "person_sessions"
    __table_args__ = (Index("ix_person_sessions_person", "person_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # the absolute end; idleness ends it sooner
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AdminGrant(Base):
    """A program admin's or operator's grant, by email: it counts only once that address has signed in."""

    __tablename__ = "admin_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    operator: Mapped[bool] = mapped_column(default=False)
    organisations: Mapped[list[Any]] = mapped_column(default=list)  # names as applicants give them
    programs: Mapped[list[Any]] = mapped_column(default=list)  # catalog program slugs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """An applicant's API token, made by a signed-in person: it expires and can be revoked."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_person", "person_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Draft(Base):
    """An applicant's draft of one attempt at a micro-credential: answers and files kept over days until applied."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_applicant_credential", "applicant_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    # "<applicant id>:<credential id>" while open, None once applied: one open draft per applicant and credential.
    open_slot: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="open")
    # The attempt this draft revises (its files may be carried over from it), and the submission it became.
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"), default=None)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    files: Mapped[list[DraftFile]] = relationship(
        back_populates="draft", order_by="(DraftFile.requirement_key, DraftFile.added_at, DraftFile.id)"
    )


class DraftFile(Base):
    """One file of a draft: stored under ``drafts/`` or ``uploads/``, or kept from the previous attempt."""

    __tablename__ = "draft_files"
    __table_args__ = (Index("ix_draft_files_draft", "draft_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    requirement_key: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(Text)  # as sent, shown escaped; never used as a path
    content_type: Mapped[str | None] = mapped_column(String(200), default=None)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The previous attempt's evidence this file keeps (its bytes are that evidence's: never copied, never deleted here).
    carried_from: Mapped[str | None] = mapped_column(ForeignKey("evidence_items.id", ondelete="SET NULL"), default=None)

    draft: Mapped[Draft] = relationship(back_populates="files")


class CoachLink(Base):
    """A private, expiring, revocable link for a coach to read a draft and comment (only its sha256 is kept)."""

    __tablename__ = "coach_links"
    __table_args__ = (Index("ix_coach_links_draft", "draft_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    coach_email: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class CoachComment(Base):
    """A coach's comment on a draft, left through a coach link; the applicant reads it on the draft page."""

    __tablename__ = "coach_comments"
    __table_args__ = (Index("ix_coach_comments_draft", "draft_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    link_id: Mapped[str] = mapped_column(ForeignKey("coach_links.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormalTestAttempt(Base):
    """One try at a micro-credential's formal test: started, then submitted once with its answers and score."""

    __tablename__ = "test_attempts"
    __table_args__ = (
        UniqueConstraint("applicant_id", "credential_id", "number"),
        Index("ix_test_attempts_applicant", "applicant_id", "credential_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first try; unique per applicant and credential
    started_at: Mapped[datetime] = mapped_column()
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # item key -> chosen option key
    score: Mapped[int | None] = mapped_column(Integer, default=None)  # correct answers
    out_of: Mapped[int | None] = mapped_column(Integer, default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)
    # A pass is recorded as an earned submission with its decision, so issuance and hours run as for a portfolio.
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"), default=None)


class PlanTargetRow(Base):
    """An applicant's target date for one requirement of one micro-credential (the backwards plan)."""

    __tablename__ = "plan_targets"
    __table_args__ = (UniqueConstraint("applicant_id", "credential_id", "requirement_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    requirement_key: Mapped[str] = mapped_column(String(64))
    target_date: Mapped[date] = mapped_column(Date)
    # The latest reminder for this date (None once the date changes): the sweep's "already reminded".
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HoursConfirmation(Base):
    """A confirmation of one educator's in-service hours in a period, emailed to their PD director.

    ``content`` is what was confirmed, as sent (names, lines, hours); ``digest`` is its sha256, which the
    emailed link's signed token names, so a changed row or a changed link no longer verifies.
    """

    __tablename__ = "hours_confirmations"
    __table_args__ = (Index("ix_hours_confirmations_applicant", "applicant_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    director_name: Mapped[str] = mapped_column(String(200))
    director_email: Mapped[str] = mapped_column(String(320))
    sent_by: Mapped[str] = mapped_column(String(320))  # the program admin's verified address
    sent_at: Mapped[datetime] = mapped_column()
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    digest: Mapped[str] = mapped_column(String(64))
    message_key: Mapped[str] = mapped_column(String(200))


class CohortConsent(Base):
    """An educator's consent to be shown, with their address, to others on one micro-credential (withdrawn: deleted)."""

    __tablename__ = "cohort_consents"
    __table_args__ = (UniqueConstraint("applicant_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    consented_at: Mapped[datetime] = mapped_column()


class MilestoneCelebration(Base):
    """A milestone a program admin celebrated by email: one per educator, micro-credential and milestone."""

    __tablename__ = "milestone_celebrations"
    __table_args__ = (UniqueConstraint("applicant_id", "credential_id", "milestone"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    credential_id: Mapped[str] = mapped_column(String(80))
    milestone: Mapped[str] = mapped_column(String(16))  # a credflow.cohorts.rules.Milestone
    reached_on: Mapped[date] = mapped_column(Date)
    celebrated_at: Mapped[datetime] = mapped_column()
    celebrated_by: Mapped[str] = mapped_column(String(320))  # the program admin's address


class Dispatch(Base):
    """One flow run handed to the background workers: who holds it, until when, and how it ended.

    The workers claim it under a lease they renew while the flow runs; a sweep hands a row whose
    lease lapsed (its worker died, or no worker took it) to the workers again.
    """

    __tablename__ = "dispatches"
    __table_args__ = (Index("ix_dispatches_state_lease", "state", "lease_until"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # ``submission:<id>`` (once per attempt) or ``decide:<id>:<n>`` (after each verdict).
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # a credflow.dispatch.rules.FlowKind
    # No foreign key: a dispatch names the submission its flow takes (which may not exist: the flow fails).
    submission_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # a credflow.states.DispatchState
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims taken
    handed: Mapped[int] = mapped_column(Integer, default=1)  # times handed to the workers
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    flow_run_id: Mapped[str | None] = mapped_column(String(36), default=None)  # the latest run's, in Prefect
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GoldFile(Base):
    """One evidence file of a gold standard, stored by content (``gold/<sha256>``) and checked as intake checks.

    A video's review copy and poster are the :class:`Transcode` of its sha256, as for evidence.
    """

    __tablename__ = "gold_files"
    __table_args__ = (UniqueConstraint("gold_id", "requirement_key", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    gold_id: Mapped[str] = mapped_column(ForeignKey("gold_standards.id", ondelete="CASCADE"))
    requirement_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    display_name: Mapped[str] = mapped_column(String(255))
    # Content-addressed: gold standards holding the same bytes share one object, never deleted on re-import.
    storage_key: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sniffed_mime: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
