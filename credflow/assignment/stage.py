"""The assignment stage: give every waiting submission its reviewers in one optimal round."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credflow.assignment.models import AssignmentPolicy, WaitingSubmission
from credflow.assignment.models import Reviewer as Candidate
from credflow.assignment.solver import solve
from credflow.catalog.models import ResubmissionPolicy
from credflow.db.locks import hold_lock
from credflow.db.models import Assignment, Event, Reviewer, Submission, utcnow
from credflow.lifecycle import State
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.submissions import record_event, transition

REVIEW_BUSINESS_DAYS = 5
OPEN_STATES = (AssignmentState.ACTIVE, AssignmentState.SUBMITTED)


@dataclass
class AssignmentRound:
    """What one round did: the new assignments, and why some submissions still lack reviewers."""

    assigned: list[str] = field(default_factory=list)  # assignment ids
    shortfalls: dict[str, str] = field(default_factory=dict)  # submission id -> explanation


def earlier_reviewers(session: Session, submission: Submission) -> set[str]:
    """Reviewers who reviewed any earlier attempt of the same chain."""
    found: set[str] = set()
    previous_id = submission.previous_id
    while previous_id:
        previous = session.get(Submission, previous_id)
        if previous is None:
            break
        found |= set(
            session.scalars(
                select(Assignment.reviewer_id).where(
                    Assignment.submission_id == previous.id,
                    Assignment.role == "review",
                    Assignment.state == AssignmentState.SUBMITTED,
                )
            )
        )
        previous_id = previous.previous_id
    return found


def _waiting(session: Session, services: Services) -> list[WaitingSubmission]:
    rows = session.scalars(
        select(Submission)
        .where(Submission.state.in_([State.AWAITING_REVIEW.value, State.IN_REVIEW.value]))
        .order_by(Submission.state_since, Submission.id)
    ).all()
    waiting = []
    for sub in rows:
        credential = services.catalog.get(sub.credential_id)
        assignments = session.scalars(select(Assignment).where(Assignment.submission_id == sub.id)).all()
        reviews = [a for a in assignments if a.role == "review" and a.state in OPEN_STATES]
        needed = credential.reviewers_per_submission - len(reviews)
        if needed <= 0:
            continue
        earlier = earlier_reviewers(session, sub)
        excluded = {a.reviewer_id for a in assignments}
        preferred: set[str] = set()
        if credential.resubmission_policy is ResubmissionPolicy.FRESH:
            excluded |= earlier
        else:
            preferred = earlier - excluded
        waiting.append(
            WaitingSubmission(
                id=sub.id,
                credential_id=sub.credential_id,
                applicant_email=sub.applicant.email,
                organisation=sub.applicant.organisation,
                needed=needed,
                waiting_since=sub.created_at,
                excluded=frozenset(excluded),
                preferred=frozenset(preferred),
            )
        )
    return waiting


def candidates(session: Session, *, reserve_lead_slot: bool = False) -> list[Candidate]:
    """The pool as the solver sees it, with each reviewer's active load.

    With ``reserve_lead_slot`` (ordinary review rounds) a lead reviewer counts one assignment
    more than they hold: one slot stays free for adjudication, and the balancing cost steers
    ordinary reviews to other reviewers first.
    """
    query = (
        select(Assignment.reviewer_id, func.count())
        .where(Assignment.state == AssignmentState.ACTIVE)
        .group_by(Assignment.reviewer_id)
    )
    active: dict[str, int] = {str(row[0]): int(row[1]) for row in session.execute(query)}
    return [
        Candidate(
            id=r.id,
            name=r.name,
            email=r.email,
            organisation=r.organisation,
            certified=frozenset(c.credential_id for c in r.certifications),
            calibrated_on=r.calibrated_on,
            capacity=r.max_active,
            active=int(active.get(r.id, 0)) + (1 if reserve_lead_slot and r.is_lead else 0),
            unavailable=tuple((u.starts_on, u.ends_on) for u in r.unavailable),
            relations=frozenset(rel.applicant_email for rel in r.relations),
            is_lead=r.is_lead,
        )
        for r in session.scalars(select(Reviewer).where(Reviewer.in_pool.is_(True)).order_by(Reviewer.id))
    ]


def review_due(services: Services, credential_id: str, now: datetime) -> datetime:
    """When a review assigned ``now`` is due: 5 business days later in the credential issuer's calendar."""
    return services.calendar_for(credential_id).add_business_days(now, REVIEW_BUSINESS_DAYS)


def assign_reviewers(services: Services, *, now: datetime | None = None, actor: str = "assigner") -> AssignmentRound:
    """Assign reviewers to every submission that needs them, in one min-cost-flow round.

    Each new assignment is due in 5 business days (holidays and the issuer's closures skipped), and
    its reviewer is available from today to that day. Submissions that cannot get all their
    reviewers keep what they got and the explanation is logged for operators.
    """
    now = now or utcnow()
    result = AssignmentRound()
    with services.db.session() as session:
        # Rounds run from every submission flow and sweep, on any worker: two at once would both
        # see the same waiting submissions and reviewer loads, and over-assign them.
        hold_lock(session, "assignment-round")
        waiting = _waiting(session, services)
        if not waiting:
            return result
        due_by = {w.id: review_due(services, w.credential_id, now) for w in waiting}
        # A reviewer must be available over the whole review window. One round has one policy, so the
        # window runs to the latest due date of the round (issuers' closures may move it by a few days).
        policy = AssignmentPolicy(today=now.date(), now=now, review_until=max(due_by.values()).date())
        solved = solve(waiting, candidates(session, reserve_lead_slot=True), policy)
        for submission_id, reviewer_id in solved.pairs:
            due = due_by[submission_id]
            assignment = Assignment(
                submission_id=submission_id,
                reviewer_id=reviewer_id,
                role="review",
                state=AssignmentState.ACTIVE,
                assigned_at=now,
                due_at=due,
            )
            session.add(assignment)
            session.flush()
            result.assigned.append(assignment.id)
            record_event(
                session,
                submission_id=submission_id,
                kind="reviewer_assigned",
                actor=actor,
                detail={"assignment": assignment.id, "reviewer": reviewer_id, "due": due.isoformat()},
                at=now,
            )
        for submission_id in sorted({sid for sid, _ in solved.pairs}):
            sub = session.get_one(Submission, submission_id)
            if sub.state == State.AWAITING_REVIEW:
                transition(session, sub, State.IN_REVIEW, actor=actor, now=now)
        for submission_id, shortfall in sorted(solved.unassigned.items()):
            text = shortfall.explain()
            result.shortfalls[submission_id] = text
            # Sweeps repeat rounds every few minutes: log a shortfall only when its reasons change.
            last = session.scalar(
                select(Event.detail)
                .where(Event.submission_id == submission_id, Event.kind == "assignment_shortfall")
                .order_by(Event.id.desc())
                .limit(1)
            )
            if last is None or last.get("explanation") != text:
                record_event(
                    session,
                    submission_id=submission_id,
                    kind="assignment_shortfall",
                    actor=actor,
                    detail={"explanation": text},
                    at=now,
                )
    return result
