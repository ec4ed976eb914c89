"""What a reviewer does with an assignment: open it, score criteria, save a draft, submit, or decline."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential, Criterion
from credflow.db.models import Assignment, EvidenceItem, Submission, Transcode, utcnow
from credflow.errors import PermanentError
from credflow.review.links import AccessDenied, read_token
from credflow.services import Services
from credflow.states import AssignmentState, TranscodeState, move
from credflow.submissions import get_submission, record_event


class Verdict(StrEnum):
    MET = "met"
    NOT_YET = "not_yet"


class ScoringError(PermanentError):
    """A review cannot be saved as sent; ``problems`` maps each criterion to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {text}" for key, text in problems.items()))
        self.problems = problems


def anonymous_id(submission: Submission) -> str:
    """The applicant as reviewers see them: stable per applicant and credential, never the name."""
    digest = hashlib.sha256(f"{submission.applicant_id}:{submission.credential_id}".encode()).hexdigest()
    return f"Applicant {digest[:6].upper()}"


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
        files = tuple(_file(item, titles, transcodes) for item in sub.evidence)
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


def _file(item: EvidenceItem, titles: dict[str, Any], transcodes: dict[str, Transcode]) -> EvidenceFile:
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


CONTROL_CHARACTER = "the text holds a control character (such as NUL): remove it and send again"


def _has_control(text: str) -> bool:
    # PostgreSQL can hold no NUL in text or JSON (it answered 500); other control characters are never typed.
    return any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text)


def check_scores(criteria: tuple[Criterion, ...], scores: dict[str, Any], *, final: bool) -> dict[str, dict[str, str]]:
    """Normalise scores; for a final submission every criterion needs a verdict and Not Yet a comment.

    Raises:
        ScoringError: naming each criterion that is missing a verdict or a required comment.
    """
    clean: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    known = {c.key: c for c in criteria}
    for key in scores:
        if key not in known:
            problems[key] = "not a criterion of this assignment"
    for criterion in criteria:
        raw = scores.get(criterion.key) or {}
        verdict = str(raw.get("verdict") or "").strip()
        comment = str(raw.get("comment") or "").strip()
        if _has_control(comment):
            problems[criterion.key] = CONTROL_CHARACTER
            continue
        if verdict and verdict not in (Verdict.MET, Verdict.NOT_YET):
            problems[criterion.key] = f"verdict must be 'met' or 'not_yet', not {verdict!r}"
            continue
        if final and not verdict:
            problems[criterion.key] = "choose Met or Not Yet"
            continue
        if final and verdict == Verdict.NOT_YET and not comment:
            problems[criterion.key] = "a comment is required for Not Yet: say what to strengthen"
            continue
        if verdict or comment:
            clean[criterion.key] = {"verdict": verdict, "comment": comment[:5000]}
    if problems:
        raise ScoringError(problems)
    return clean


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
    reason = reason.strip()
    if not reason:
        raise ScoringError({"reason": "say why you decline, so the program team can plan"})
    if _has_control(reason):
        raise ScoringError({"reason": CONTROL_CHARACTER})
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
