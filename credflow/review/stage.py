"""The review stage: a reviewer opens, scores, drafts, submits or declines; deadline sweeps; the waiting table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential, Criterion
from credflow.db.models import Assignment, EvidenceItem, GoldFile, GoldStandard, Reviewer, Submission, Transcode, utcnow
from credflow.lifecycle import State
from credflow.review.links import AccessDenied, read_token
from credflow.review.rules import anonymous_id, check_reason, check_scores
from credflow.review.workspace import (
    AssignmentFacts,
    CalibrationStatus,
    Groups,
    TimeLeft,
    calibration_status,
    group,
    time_left,
)
from credflow.services import Services
from credflow.states import AssignmentState, TranscodeState, move
from credflow.submissions import get_submission, record_event

REMINDER_BUSINESS_DAYS = 2


@dataclass(frozen=True)
class EvidenceFile:
    """A file as shown on the review page."""

    id: str
    requirement_key: str
    requirement_title: str
    name: str
    size: int
    kind: str  # document | image | video
    storage_key: str
    mime: str
    video_key: str | None = None
    poster_key: str | None = None


@dataclass(frozen=True)
class ReviewContext:
    """Everything the review page shows for one assignment (and nothing it must not)."""

    assignment_id: str
    role: str  # review | adjudication | backread
    state: str
    reviewer_name: str
    applicant: str  # anonymised
    credential: Credential
    attempt: int
    due_at: datetime
    answers: tuple[tuple[str, str, str], ...]  # key, question title, answer
    files: tuple[EvidenceFile, ...]
    criteria: tuple[Criterion, ...]  # those this assignment scores
    scores: dict[str, Any]  # the reviewer's own saved scores
    other_reviews: tuple[dict[str, Any], ...]  # adjudication only: "Reviewer 1/2" and their scores


def open_assignment(services: Services, token: str, *, now: datetime | None = None) -> Assignment:
    """Resolve a link token to its active assignment.

    Raises:
        AccessDenied: forged, expired, revoked (reassigned, declined or completed) links.
    """
    now = now or utcnow()
    claims = read_token(services.settings.keyring, token, now=now)
    with services.db.session() as session:
        assignment = session.get(Assignment, claims.assignment_id)
        if assignment is None or assignment.token_nonce is None or assignment.token_nonce != claims.nonce:
            raise AccessDenied(
                "This review link is no longer active: the assignment was completed, declined or reassigned."
            )
        if assignment.state != AssignmentState.ACTIVE:
            raise AccessDenied("This assignment is closed.")
        session.expunge(assignment)
        return assignment


def _criteria_for(assignment: Assignment, credential: Credential) -> tuple[Criterion, ...]:
    if assignment.role == "adjudication":
        wanted = set(assignment.criteria)
        return tuple(c for c in credential.criteria if c.key in wanted)
    return credential.criteria


def review_context(services: Services, assignment_id: str) -> ReviewContext:
    """Load what the page shows: answers, files (with review videos), rubric, own scores."""
    with services.db.session() as session:
        assignment = session.get_one(Assignment, assignment_id)
        sub = get_submission(session, assignment.submission_id)
        credential = services.catalog.get(sub.credential_id)
        titles = {req.key: req for req in credential.evidence}
        answers = tuple((req.key, req.title, str(sub.answers.get(req.key, ""))) for req in credential.text_requirements)
        transcodes = {
            t.input_sha256: t
            for t in session.scalars(
                select(Transcode).where(Transcode.input_sha256.in_([i.sha256 for i in sub.evidence]))
            )
        }
        files = tuple(evidence_file(item, titles, transcodes) for item in sub.evidence)
        others: tuple[dict[str, Any], ...] = ()
        if assignment.role == "adjudication":
            reviews = session.scalars(
                select(Assignment)
                .where(
                    Assignment.submission_id == sub.id,
                    Assignment.role == "review",
                    Assignment.state == AssignmentState.SUBMITTED,
                )
                .order_by(Assignment.completed_at)
            ).all()
            others = tuple({"label": f"Reviewer {n}", "scores": r.scores} for n, r in enumerate(reviews, start=1))
        return ReviewContext(
            assignment_id=assignment.id,
            role=assignment.role,
            state=assignment.state,
            reviewer_name=assignment.reviewer.name,
            applicant=anonymous_id(sub),
            credential=credential,
            attempt=sub.attempt,
            due_at=assignment.due_at,
            answers=answers,
            files=files,
            criteria=_criteria_for(assignment, credential),
            scores=dict(assignment.scores or {}),
            other_reviews=others,
        )


def evidence_file(
    item: EvidenceItem | GoldFile, titles: Mapping[str, Any], transcodes: Mapping[str, Transcode]
) -> EvidenceFile:
    """One stored file as the review and calibration pages show it (its player when its video is transcoded).

    Args:
        item: A submission's evidence item or a gold standard's file.
        titles: The credential's evidence requirements by key.
        transcodes: Finished or pending transcodes by input sha256.
    """
    requirement = titles.get(item.requirement_key)
    kind = requirement.kind.value if requirement else "document"
    done = transcodes.get(item.sha256)
    video = done if kind == "video" and done is not None and done.state == TranscodeState.DONE else None
    return EvidenceFile(
        id=item.id,
        requirement_key=item.requirement_key,
        requirement_title=requirement.title if requirement else item.requirement_key,
        name=item.display_name,
        size=item.size,
        kind=kind,
        storage_key=item.storage_key,
        mime=item.sniffed_mime or "application/octet-stream",
        video_key=video.output_key if video else None,
        poster_key=video.poster_key if video else None,
    )


def save_draft(services: Services, assignment_id: str, scores: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Keep a partial review; nothing is final until submitted."""
    with services.db.session() as session:
        assignment = session.get_one(Assignment, assignment_id)
        _require_active(assignment)
        credential = services.catalog.get(get_submission(session, assignment.submission_id).credential_id)
        clean = check_scores(_criteria_for(assignment, credential), scores, final=False)
        assignment.scores = clean
        return clean


def submit_review(
    services: Services, assignment_id: str, scores: dict[str, Any], *, now: datetime | None = None
) -> str:
    """Make the review final, revoke its link and return the submission id (aggregation may follow).

    Raises:
        ScoringError: a criterion lacks a verdict, or a Not Yet lacks its comment.
    """
    now = now or utcnow()
    with services.db.session() as session:
        assignment = session.get_one(Assignment, assignment_id)
        _require_active(assignment)
        credential = services.catalog.get(get_submission(session, assignment.submission_id).credential_id)
        clean = check_scores(_criteria_for(assignment, credential), scores, final=True)
        assignment.scores = clean
        _close(session, assignment, AssignmentState.SUBMITTED, completed_at=now, token_nonce=None)
        record_event(
            session,
            submission_id=assignment.submission_id,
            kind=f"{assignment.role}_submitted",
            actor=f"reviewer:{assignment.reviewer_id}",
            detail={
                "assignment": assignment.id,
                "not_yet": sorted(k for k, v in clean.items() if v["verdict"] == "not_yet"),
            },
            at=now,
        )
        return assignment.submission_id


def open_verdicts(services: Services, submission_id: str) -> int:
    """How many review or adjudication assignments of the submission still owe a verdict.

    The web app starts the decision only when this is 0 after a submit: each reviewer checks
    after their own commit, so the last of two simultaneous submits always sees 0 (and both
    may: aggregation is compare-and-set, so a second start decides nothing twice).
    """
    with services.db.session() as session:
        open_count = session.scalar(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.submission_id == submission_id,
                Assignment.state == AssignmentState.ACTIVE,
                Assignment.role.in_(("review", "adjudication")),
            )
        )
        return int(open_count or 0)


def decline(services: Services, assignment_id: str, reason: str, *, now: datetime | None = None) -> str:
    """Decline an assignment with a reason; its link is revoked and the submission is reassigned."""
    reason = check_reason(reason)
    now = now or utcnow()
    with services.db.session() as session:
        assignment = session.get_one(Assignment, assignment_id)
        _require_active(assignment)
        _close(
            session,
            assignment,
            AssignmentState.DECLINED,
            decline_reason=reason[:2000],
            completed_at=now,
            token_nonce=None,
        )
        record_event(
            session,
            submission_id=assignment.submission_id,
            kind="assignment_declined",
            actor=f"reviewer:{assignment.reviewer_id}",
            detail={"assignment": assignment.id, "reason": reason[:200]},
            at=now,
        )
        return assignment.submission_id


def _require_active(assignment: Assignment) -> None:
    if assignment.state != AssignmentState.ACTIVE:
        raise AccessDenied("This assignment is closed.")


def _close(session: Session, assignment: Assignment, target: AssignmentState, **values: object) -> None:
    """Move an active assignment on (revoking its link), unless a sweep or another tab closed it first."""
    if not move(
        session,
        Assignment.state,
        target,
        where=Assignment.id == assignment.id,
        current=AssignmentState.ACTIVE,
        values=values,
    ):
        raise AccessDenied("This assignment is closed.")


# --- deadlines: a reminder before, withdrawal and reassignment after --------------------------------


@dataclass
class SweepResult:
    """Assignments to remind and those withdrawn in one sweep."""

    remind: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    submissions: set[str] = field(default_factory=set)  # submissions that now need reassignment


def sweep_deadlines(services: Services, *, now: datetime | None = None) -> SweepResult:
    """Mark reminders due and withdraw overdue assignments (revoking their links).

    A reminder is marked once per assignment; sending it is the caller's job (its mail
    key makes the send itself once only).
    """
    now = now or utcnow()
    result = SweepResult()
    with services.db.session() as session:
        active = session.scalars(
            select(Assignment).where(Assignment.state == AssignmentState.ACTIVE).order_by(Assignment.due_at)
        ).all()
        for assignment in active:
            if now > assignment.due_at:
                # The link is revoked with the move; a review submitted meanwhile stays submitted.
                if not move(
                    session,
                    Assignment.state,
                    AssignmentState.WITHDRAWN,
                    where=Assignment.id == assignment.id,
                    current=AssignmentState.ACTIVE,
                    values={"token_nonce": None, "completed_at": now},
                ):
                    continue
                result.withdrawn.append(assignment.id)
                result.submissions.add(assignment.submission_id)
                record_event(
                    session,
                    submission_id=assignment.submission_id,
                    kind="assignment_withdrawn",
                    actor="deadline-sweep",
                    detail={
                        "assignment": assignment.id,
                        "reviewer": assignment.reviewer_id,
                        "due": assignment.due_at.isoformat(),
                    },
                    at=now,
                )
            elif assignment.reminded_at is None and now >= services.calendar_for(
                session.get_one(Submission, assignment.submission_id).credential_id
            ).add_business_days(assignment.due_at, -REMINDER_BUSINESS_DAYS):
                assignment.reminded_at = now
                result.remind.append(assignment.id)
    return result


# --- the operators' table of submissions waiting on people (the Prefect UI) -----------------------


@dataclass(frozen=True)
class WaitingRow:
    submission: str
    credential: str
    state: str
    reviews_in: int
    reviews_needed: int
    open_assignments: int
    next_due: str
    waiting_days: float

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def waiting_for_review(services: Services, *, now: datetime | None = None) -> list[WaitingRow]:
    """Every submission waiting for reviewers or verdicts, oldest first."""
    now = now or utcnow()
    rows = []
    with services.db.session() as session:
        subs = session.scalars(
            select(Submission)
            .where(Submission.state.in_([State.AWAITING_REVIEW.value, State.IN_REVIEW.value, State.ADJUDICATING.value]))
            .order_by(Submission.created_at)
        ).all()
        for sub in subs:
            credential = services.catalog.get(sub.credential_id)
            assignments = session.scalars(select(Assignment).where(Assignment.submission_id == sub.id)).all()
            active = [a for a in assignments if a.state == AssignmentState.ACTIVE]
            rows.append(
                WaitingRow(
                    submission=sub.id,
                    credential=sub.credential_id,
                    state=sub.state,
                    reviews_in=sum(
                        1 for a in assignments if a.role == "review" and a.state == AssignmentState.SUBMITTED
                    ),
                    reviews_needed=credential.reviewers_per_submission,
                    open_assignments=len(active),
                    next_due=min(a.due_at for a in active).isoformat() if active else "",
                    waiting_days=round((now - sub.created_at).total_seconds() / 86400, 1),
                )
            )
    return rows


# --- the signed-in reviewer's workspace -------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerWorkspace:
    """What /reviewer shows one reviewer: their assignments by group, each deadline in words, their calibration."""

    reviewer_id: str
    name: str
    email: str
    groups: Groups
    time_left: dict[str, TimeLeft]  # active assignments' deadlines, by assignment id
    calibration: tuple[CalibrationStatus, ...]

    @property
    def next_up(self) -> AssignmentFacts | None:
        """The open assignment due soonest (a draft or a fresh one), or None when nothing is open."""
        active = sorted((*self.groups.drafts, *self.groups.queue), key=lambda a: (a.due_at, a.id))
        return active[0] if active else None


def _title(services: Services, credential_id: str) -> str:
    credential = services.catalog.credentials.get(credential_id)
    return credential.title if credential else credential_id  # a retired credential: its id


def _facts(services: Services, assignment: Assignment, sub: Submission) -> AssignmentFacts:
    credential = services.catalog.credentials.get(sub.credential_id)
    if assignment.role == "adjudication":
        criteria = len(assignment.criteria)
    else:
        criteria = len(credential.criteria) if credential else len(assignment.scores or {})
    scored = sum(
        1 for value in (assignment.scores or {}).values() if (value or {}).get("verdict") in ("met", "not_yet")
    )
    return AssignmentFacts(
        id=assignment.id,
        role=assignment.role,
        state=assignment.state,
        credential_id=sub.credential_id,
        credential_title=credential.title if credential else sub.credential_id,
        applicant=anonymous_id(sub),
        attempt=sub.attempt,
        assigned_at=assignment.assigned_at,
        due_at=assignment.due_at,
        completed_at=assignment.completed_at,
        scored=scored,
        criteria=criteria,
        decline_reason=assignment.decline_reason,
        nonce=assignment.token_nonce if assignment.state == AssignmentState.ACTIVE else None,
    )


def reviewer_workspace(services: Services, email: str, *, now: datetime) -> ReviewerWorkspace | None:
    """The workspace of the pool reviewer with this address, or None when the address is not in the pool.

    Only this reviewer's own assignments are loaded; other reviewers' never are.
    """
    with services.db.session() as session:
        reviewer = session.scalar(
            select(Reviewer).where(Reviewer.email == email.strip().lower(), Reviewer.in_pool.is_(True))
        )
        if reviewer is None:
            return None
        rows = session.execute(
            select(Assignment, Submission)
            .join(Submission, Submission.id == Assignment.submission_id)
            .where(Assignment.reviewer_id == reviewer.id)
        ).all()
        facts = [_facts(services, assignment, sub) for assignment, sub in rows]
        certified = sorted(c.credential_id for c in reviewer.certifications)
        counted = session.execute(
            select(GoldStandard.credential_id, func.count())
            .where(GoldStandard.credential_id.in_(certified))
            .group_by(GoldStandard.credential_id)
        ).all()
        gold_counts: dict[str, int] = {str(credential_id): int(n) for credential_id, n in counted}
        calibration = tuple(
            calibration_status(
                credential_id=credential_id,
                title=_title(services, credential_id),
                calibrated_on=reviewer.calibrated_on,
                today=now.date(),
                golds=gold_counts.get(credential_id, 0),
            )
            for credential_id in certified
        )
        groups = group(facts)
        left = {
            a.id: time_left(a.due_at, now=now, calendar=services.calendar_for(a.credential_id))
            for a in (*groups.queue, *groups.drafts)
        }
        return ReviewerWorkspace(
            reviewer_id=reviewer.id,
            name=reviewer.name,
            email=reviewer.email,
            groups=groups,
            time_left=left,
            calibration=calibration,
        )
