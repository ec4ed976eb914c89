"""The lead reviewers' stage: a lead's waiting adjudications and back-reads, the back-read cases, filtered ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from credflow.db.models import Assignment, Decision, Reviewer, Submission
from credflow.leads.rules import BackreadCase, BackreadFilter
from credflow.review.links import issue_token
from credflow.review.rules import anonymous_id
from credflow.reviewers.rules import Rating
from credflow.services import Services
from credflow.states import AssignmentState

#: The roles a lead reviewer's own assignments take.
LEAD_ROLES = ("adjudication", "backread")


@dataclass(frozen=True)
class LeadTask:
    """One adjudication or back-read waiting for a lead, with the token of its review link.

    Attributes:
        assignment_id: The assignment.
        role: ``adjudication`` or ``backread``.
        credential_id: The micro-credential.
        credential_title: Its title.
        criteria: Titles of the split criteria to settle (adjudication); empty for a back-read (all criteria).
        applicant: The applicant as reviewers see them (anonymised).
        attempt: The submission's attempt number.
        assigned_at: When it was assigned.
        due_at: When it is due.
        token: The review link's token (``/review/<token>``).
    """

    assignment_id: str
    role: str
    credential_id: str
    credential_title: str
    criteria: tuple[str, ...]
    applicant: str
    attempt: int
    assigned_at: datetime
    due_at: datetime
    token: str


@dataclass(frozen=True)
class WaitingCounts:
    """Adjudications and back-reads waiting across all leads, and how many of them are overdue."""

    adjudications: int
    backreads: int
    overdue: int


def lead_queue(services: Services, *, email: str) -> list[LeadTask]:
    """The active adjudications and back-reads of the lead reviewer with ``email``, soonest due first.

    Each carries a fresh token for its own assignment's review link (the nonce the emailed link carries),
    so opening it from the workspace is the same as opening the email's link.
    """
    tasks = []
    with services.db.session() as session:
        rows = session.execute(
            select(Assignment, Submission)
            .join(Reviewer, Reviewer.id == Assignment.reviewer_id)
            .join(Submission, Submission.id == Assignment.submission_id)
            .where(
                Reviewer.email == email.lower(),
                Assignment.role.in_(LEAD_ROLES),
                Assignment.state == AssignmentState.ACTIVE,
                Assignment.token_nonce.is_not(None),
            )
            .order_by(Assignment.due_at, Assignment.id)
        ).all()
        for assignment, sub in rows:
            credential = services.catalog.get(sub.credential_id)
            titles = {c.key: c.title for c in credential.criteria}
            criteria = (
                tuple(titles.get(key, key) for key in assignment.criteria) if assignment.role == "adjudication" else ()
            )
            assert assignment.token_nonce is not None  # the query keeps only links not revoked
            tasks.append(
                LeadTask(
                    assignment_id=assignment.id,
                    role=assignment.role,
                    credential_id=sub.credential_id,
                    credential_title=credential.title,
                    criteria=criteria,
                    applicant=anonymous_id(sub),
                    attempt=sub.attempt,
                    assigned_at=assignment.assigned_at,
                    due_at=assignment.due_at,
                    token=issue_token(
                        services.settings.keyring,
                        assignment_id=assignment.id,
                        nonce=assignment.token_nonce,
                        due_at=assignment.due_at,
                    ),
                )
            )
    return tasks


def waiting_counts(services: Services, *, now: datetime) -> WaitingCounts:
    """Active adjudications and back-reads across every lead, and those past their due time at ``now``."""
    with services.db.session() as session:
        rows = session.execute(
            select(Assignment.role, Assignment.due_at < now, func.count())
            .where(Assignment.role.in_(LEAD_ROLES), Assignment.state == AssignmentState.ACTIVE)
            .group_by(Assignment.role, Assignment.due_at < now)
        ).all()
    by_role = dict.fromkeys(LEAD_ROLES, 0)
    overdue = 0
    for role, late, count in rows:
        by_role[role] += count
        overdue += count if late else 0
    return WaitingCounts(by_role["adjudication"], by_role["backread"], overdue)


def backread_cases(services: Services) -> list[BackreadCase]:
    """Every decision with a submitted back-read: the decision's, the back-read's and the original verdicts.

    Reviewers are named by their email (see :func:`reviewer_names`). The originals are the reviews the
    decision rests on (its criteria's ``reviews``) and the adjudication on the criteria it settled.
    """
    cases = []
    with services.db.session() as session:
        rows = session.execute(
            select(Decision, Assignment, Submission)
            .join(Assignment, Assignment.submission_id == Decision.submission_id)
            .join(Submission, Submission.id == Decision.submission_id)
            .where(Assignment.role == "backread", Assignment.state == AssignmentState.SUBMITTED)
            .order_by(Decision.decided_at, Decision.id)
        ).all()
        for decision, backread, sub in rows:
            used = {rid for entry in decision.criteria.values() for rid in entry.get("reviews", [])}
            settled: dict[str, list[str]] = {}
            for criterion, entry in decision.criteria.items():
                if entry.get("adjudication"):
                    settled.setdefault(entry["adjudication"], []).append(criterion)
            originals: dict[str, dict[str, str]] = {}
            for assignment in session.scalars(select(Assignment).where(Assignment.id.in_(used | set(settled)))):
                scores = assignment.scores or {}
                keys = settled.get(assignment.id, []) if assignment.role == "adjudication" else list(scores)
                mine = originals.setdefault(assignment.reviewer.email, {})
                for key in keys:
                    verdict = (scores.get(key) or {}).get("verdict")
                    if verdict:
                        mine[key] = verdict
            cases.append(
                BackreadCase(
                    submission_id=sub.id,
                    credential_id=sub.credential_id,
                    decided_on=decision.decided_at.date(),
                    decision={k: str(v.get("verdict", "")) for k, v in decision.criteria.items()},
                    backread={k: str((v or {}).get("verdict", "")) for k, v in (backread.scores or {}).items()},
                    originals=originals,
                    backreader=backread.reviewer.email,
                )
            )
    return cases


def reviewer_names(services: Services) -> dict[str, str]:
    """Every reviewer's name by email (those who left the pool too: their history still shows)."""
    with services.db.session() as session:
        return {str(email): str(name) for email, name in session.execute(select(Reviewer.email, Reviewer.name))}


def agreement_ratings(services: Services, where: BackreadFilter) -> list[Rating]:
    """Submitted reviews' and back-reads' verdicts (as ``ratings_from_reviews``), filtered.

    The period is the day each review was completed; the credential the submission's.
    """
    ratings = []
    with services.db.session() as session:
        rows = session.execute(
            select(Assignment, Submission.credential_id)
            .join(Submission, Submission.id == Assignment.submission_id)
            .where(Assignment.role.in_(["review", "backread"]), Assignment.state == AssignmentState.SUBMITTED)
        ).all()
        for review, credential_id in rows:
            done: date | None = review.completed_at.date() if review.completed_at else None
            if where.credential is not None and credential_id != where.credential:
                continue
            if done is not None and where.start is not None and done < where.start:
                continue
            if done is not None and where.end is not None and done > where.end:
                continue
            for criterion, score in (review.scores or {}).items():
                if score.get("verdict") in ("met", "not_yet"):
                    ratings.append(
                        Rating(review.submission_id, criterion, review.reviewer.email, score["verdict"] == "met")
                    )
    return ratings
