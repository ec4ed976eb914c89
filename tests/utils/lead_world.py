"""A lead reviewers' world: back-read decisions (one reviewer drifting), an adjudication and a back-read waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from credflow.db.models import Assignment, Reviewer, Submission
from credflow.decision.stage import aggregate
from credflow.lifecycle import State
from credflow.review.stage import submit_review
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_pool
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.submissions import transition
from tests.utils.builders import applicant
from tests.utils.review_cycle import CRED, NOW, ready_submission, review_scores

#: Kim's two criteria where she keeps saying Not Yet and everyone else Met.
KIM_SPLITS = {"purpose_explained": "not_yet", "plan_models_routine": "not_yet"}


def lead_pool(today: date) -> str:
    """Four reviewers and two leads of the anchoring credential, calibrated weeks before ``today``."""
    ago = (today - timedelta(days=40)).isoformat()
    people = [
        ("Rosa Diaz", "rosa", "Lakeside ISD", False),
        ("Sam Iyer", "sam", "Northgate PD", False),
        ("Lee Park", "lee", "Eastside", False),
        ("Kim Wu", "kim", "Pine Valley", False),
        ("Ola Berg", "ola", "Hillcrest", True),
        ("Noor Haddad", "noor", "Brookfield", True),
    ]
    lines = ["reviewers:"]
    for name, handle, org, lead in people:
        lines.append(
            f"  - {{name: {name}, email: {handle}@review.org, organisation: {org}, certified_for: [{CRED}], "
            f"calibrated_on: {ago}, max_active: 6, lead: {'true' if lead else 'false'}}}"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LeadWorld:
    """What the world holds: the waiting adjudication and back-read and whose they are."""

    adjudication_id: str
    adjudication_lead: str
    backread_id: str
    backread_lead: str
    decided: tuple[str, ...]


def _reviewer_id(services: Services, handle: str) -> str:
    with services.db.session() as session:
        found = session.scalar(select(Reviewer.id).where(Reviewer.email == f"{handle}@review.org"))
        assert found is not None, handle
        return found


def _active(services: Services, sid: str, role: str) -> Assignment | None:
    with services.db.session() as session:
        row = session.scalar(
            select(Assignment).where(
                Assignment.submission_id == sid, Assignment.role == role, Assignment.state == AssignmentState.ACTIVE
            )
        )
        if row is not None:
            session.expunge(row)
        return row


def reviewed(
    services: Services,
    folder: Path,
    n: int,
    *,
    reviewers: dict[str, dict[str, str]],
    now: datetime,
    adjudicate: bool = True,
    backread: dict[str, str] | None = None,
) -> str:
    """Applicant ``n``'s submission reviewed at ``now`` by ``reviewers`` (handle -> Not Yet criteria), then decided.

    A split is adjudicated Met by the lead picked (unless ``adjudicate`` is off, leaving it waiting);
    the decision is always back-read, and the back-read submitted with ``backread``'s Not Yet criteria
    (unless ``backread`` is None, leaving it waiting).
    """
    sub_folder = folder / f"a{n}"
    sub_folder.mkdir(parents=True, exist_ok=True)
    sid = ready_submission(services, sub_folder, applicant(f"Teacher Number{n}", "Riverside Unified"), now=now)
    ids = []
    with services.db.session() as session:
        sub = session.get_one(Submission, sid)
        transition(session, sub, State.IN_REVIEW, actor="test", now=now)
        for handle in reviewers:
            assignment = Assignment(
                submission_id=sid,
                reviewer_id=_reviewer_id(services, handle),
                role="review",
                state=AssignmentState.ACTIVE,
                assigned_at=now,
                due_at=now + timedelta(days=7),
            )
            session.add(assignment)
            session.flush()
            ids.append(assignment.id)
    for assignment_id, not_yet in zip(ids, reviewers.values(), strict=True):
        submit_review(services, assignment_id, review_scores(services, not_yet), now=now)
    aggregate(services, sid, now=now, backread_share=1.0)
    adjudication = _active(services, sid, "adjudication")
    if adjudication is not None:
        if not adjudicate:
            return sid
        scores = {key: {"verdict": "met", "comment": "The evidence shows it."} for key in adjudication.criteria}
        submit_review(services, adjudication.id, scores, now=now)
        aggregate(services, sid, now=now, backread_share=1.0)
    check = _active(services, sid, "backread")
    assert check is not None, "the decision was not back-read"
    if backread is not None:
        submit_review(services, check.id, review_scores(services, backread), now=now + timedelta(hours=3))
    return sid


def lead_world(services: Services, folder: Path) -> LeadWorld:
    """Seven submissions: five back-read decisions (Kim drifting over 12 criteria), a split and a back-read waiting."""
    with services.db.session() as session:
        import_pool(session, parse_pool(lead_pool(NOW.date()), catalog=services.catalog))
    decided = []
    for n in range(3):  # Kim splits from Rosa on two criteria; the lead settles them Met, the back-read agrees
        decided.append(
            reviewed(
                services,
                folder,
                n,
                reviewers={"rosa": {}, "kim": KIM_SPLITS},
                backread={},
                now=NOW - timedelta(days=20 - 3 * n),
            )
        )
    decided.append(
        reviewed(services, folder, 3, reviewers={"sam": {}, "lee": {}}, backread={}, now=NOW - timedelta(days=8))
    )
    decided.append(
        reviewed(
            services,
            folder,
            4,
            reviewers={"sam": {}, "lee": {}},
            backread={"facilitator_moves": "not_yet"},  # the back-read would have made it Not Yet
            now=NOW - timedelta(days=6),
        )
    )
    waiting_split = reviewed(
        services, folder, 5, reviewers={"sam": {}, "rosa": {"facilitator_moves": "not_yet"}}, adjudicate=False, now=NOW
    )
    waiting_backread = reviewed(services, folder, 6, reviewers={"lee": {}, "rosa": {}}, now=NOW)
    adjudication = _active(services, waiting_split, "adjudication")
    backread = _active(services, waiting_backread, "backread")
    assert adjudication is not None and backread is not None
    with services.db.session() as session:
        return LeadWorld(
            adjudication_id=adjudication.id,
            adjudication_lead=session.get_one(Reviewer, adjudication.reviewer_id).email,
            backread_id=backread.id,
            backread_lead=session.get_one(Reviewer, backread.reviewer_id).email,
            decided=tuple(decided),
        )
