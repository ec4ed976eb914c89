"""The decision stage: wait for the reviews, send split criteria to a lead, record the decision and its back-read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.assignment.models import AssignmentPolicy, WaitingSubmission
from credflow.assignment.stage import candidates, review_due
from credflow.catalog.models import Credential
from credflow.db.models import Assignment, Decision, Submission, utcnow
from credflow.decision.rules import choose_lead, decide, is_backread, outcome_of, split_criteria
from credflow.lifecycle import State
from credflow.notifications.stage import alert_operator
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.submissions import get_submission, record_event, transition


@dataclass(frozen=True)
class AggregationOutcome:
    """Where aggregation left a submission and which new assignment (if any) needs its email."""

    state: State
    waiting_for: int = 0  # reviews still outstanding
    new_assignment: str | None = None  # an adjudication or back-read to announce
    decision_id: str | None = None


def _pick_lead(session: Session, services: Services, sub: Submission, avoid: set[str], now: datetime) -> str | None:
    waiting = WaitingSubmission(
        id=sub.id,
        credential_id=sub.credential_id,
        applicant_email=sub.applicant.email,
        organisation=sub.applicant.organisation,
        needed=1,
        waiting_since=sub.created_at,
        excluded=frozenset(avoid),
    )
    until = review_due(services, sub.credential_id, now).date()
    return choose_lead(candidates(session), waiting, AssignmentPolicy(today=now.date(), now=now, review_until=until))


def _assign_lead(
    session: Session,
    services: Services,
    sub: Submission,
    credential: Credential,
    *,
    role: str,
    criteria: list[str],
    now: datetime,
) -> str | None:
    avoid = {a.reviewer_id for a in session.scalars(select(Assignment).where(Assignment.submission_id == sub.id))}
    lead = _pick_lead(session, services, sub, avoid, now)
    if lead is None:
        record_event(
            session,
            submission_id=sub.id,
            kind=f"{role}_shortfall",
            actor="aggregator",
            detail={"explanation": "no lead reviewer is certified, calibrated, available and free of conflicts"},
            at=now,
        )
        return None
    assignment = Assignment(
        submission_id=sub.id,
        reviewer_id=lead,
        role=role,
        state=AssignmentState.ACTIVE,
        criteria=criteria,
        assigned_at=now,
        due_at=review_due(services, sub.credential_id, now),
    )
    session.add(assignment)
    session.flush()
    record_event(
        session,
        submission_id=sub.id,
        kind=f"{role}_assigned",
        actor="aggregator",
        detail={"assignment": assignment.id, "criteria": criteria},
        at=now,
    )
    return assignment.id


def aggregate(
    services: Services, submission_id: str, *, now: datetime | None = None, backread_share: float = 0.10
) -> AggregationOutcome:
    """Move a reviewed submission on: wait, send split criteria to a lead, or record the decision.

    Safe to call any number of times: it acts only on what the records show.
    """
    now = now or utcnow()
    lead_missing = False
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        state = State(sub.state)
        credential = services.catalog.get(sub.credential_id)
        existing = session.scalar(select(Decision).where(Decision.submission_id == sub.id))
        if existing is not None or state not in (State.IN_REVIEW, State.ADJUDICATING):
            return AggregationOutcome(state, decision_id=existing.id if existing else None)
        assignments = session.scalars(
            select(Assignment)
            .where(Assignment.submission_id == sub.id)
            .order_by(Assignment.completed_at, Assignment.id)
        ).all()
        reviews = [a for a in assignments if a.role == "review" and a.state == AssignmentState.SUBMITTED]
        missing = credential.reviewers_per_submission - len(reviews)
        if missing > 0:
            return AggregationOutcome(state, waiting_for=missing)
        reviews = reviews[: credential.reviewers_per_submission]
        adjudication = next(
            (a for a in assignments if a.role == "adjudication" and a.state == AssignmentState.SUBMITTED), None
        )
        split = split_criteria(credential, reviews)
        if split and adjudication is None:
            if any(a.role == "adjudication" and a.state == AssignmentState.ACTIVE for a in assignments):
                return AggregationOutcome(state, waiting_for=1)
            new = _assign_lead(session, services, sub, credential, role="adjudication", criteria=split, now=now)
            if new is None:
                lead_missing = True
            else:
                if state is State.IN_REVIEW:
                    transition(session, sub, State.ADJUDICATING, actor="aggregator", detail={"split": split}, now=now)
                return AggregationOutcome(State.ADJUDICATING, waiting_for=1, new_assignment=new)
        else:
            criteria = decide(credential, reviews, adjudication)
            outcome = outcome_of(criteria)
            backread = is_backread(sub.id, backread_share)
            decision = Decision(
                submission_id=sub.id, outcome=outcome.value, criteria=criteria, backread=backread, decided_at=now
            )
            session.add(decision)
            session.flush()
            transition(
                session,
                sub,
                outcome,
                actor="aggregator",
                detail={"decision": decision.id, "adjudicated": adjudication is not None, "backread": backread},
                now=now,
            )
            new = (
                _assign_lead(session, services, sub, credential, role="backread", criteria=[], now=now)
                if backread
                else None
            )
            return AggregationOutcome(outcome, new_assignment=new, decision_id=decision.id)
    if lead_missing:
        alert_operator(
            services,
            summary="no lead reviewer can adjudicate a split review",
            submission_id=submission_id,
            detail="Add or free a lead reviewer certified for this micro-credential; the sweep retries.",
        )
    return AggregationOutcome(state, waiting_for=1)
