"""A submission through the review cycle at a fixed clock: the reviewer pool, assignment, scores, a decision."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.assignment.stage import assign_reviewers
from credflow.badges.verify import verify_credential
from credflow.db.models import Assignment
from credflow.decision.stage import aggregate
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.issuance.stage import issue_for_decision, record_hours, status_list_credential
from credflow.letters.stage import send_result
from credflow.lifecycle import State
from credflow.notifications.rules import Notice
from credflow.notifications.stage import send_notice
from credflow.review.stage import submit_review
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import ImportReport, import_pool
from credflow.services import Services
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers, anchoring_request, applicant, pdf_bytes

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
CRED = "openscied-anchoring-phenomenon"


def pool_yaml(today: date) -> str:
    """The test pool, calibrated 53 to 100 days before ``today`` (Max never; Ola is the lead)."""

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    return f"""
reviewers:
  - {{name: Rosa Diaz, email: rosa@review.org, organisation: Lakeside ISD, certified_for: [{CRED}],
      calibrated_on: {ago(83)}, max_active: 3}}
  - {{name: Sam Iyer, email: sam@review.org, organisation: Northgate PD, certified_for: [{CRED}],
      calibrated_on: {ago(53)}, max_active: 3}}
  - {{name: Lee Park, email: lee@review.org, organisation: Riverside Unified, certified_for: [{CRED}],
      calibrated_on: {ago(53)}, max_active: 3}}
  - {{name: Ola Berg, email: ola@review.org, organisation: Hillcrest, certified_for: [{CRED}],
      calibrated_on: {ago(53)}, max_active: 3, lead: true}}
  - {{name: Max Uncal, email: max@review.org, organisation: Eastside, certified_for: [{CRED}], max_active: 3}}
  - {{name: Kim Wu, email: kim@review.org, organisation: Pine Valley, certified_for: [{CRED}],
      calibrated_on: {ago(100)}, max_active: 3}}
"""


POOL = pool_yaml(NOW.date())


def load_pool(services: Services, text: str = POOL) -> ImportReport:
    """Import ``text`` (the pool calibrated relative to NOW unless given; see :func:`pool_yaml`)."""
    with services.db.session() as session:
        return import_pool(session, parse_pool(text, catalog=services.catalog))


def ready_submission(
    services: Services, tmp_path: Path, who: ApplicantInfo | None = None, *, now: datetime = NOW
) -> str:
    """Submit a valid anchoring-phenomenon attempt and validate it: it awaits review."""
    sid = submit(services, anchoring_request(tmp_path, who=who or applicant()), now=now).submission_id
    assert run_validation(services, sid, now=now).state is State.AWAITING_REVIEW
    return sid


def assignments_of(services: Services, sid: str, role: str = "review") -> list[Assignment]:
    """The submission's assignments in ``role``, oldest first."""
    with services.db.session() as session:
        return list(
            session.scalars(
                select(Assignment)
                .where(Assignment.submission_id == sid, Assignment.role == role)
                .order_by(Assignment.id)
            )
        )


def review_scores(services: Services, verdicts: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """A review of the test credential: every criterion "met" unless ``verdicts`` says otherwise."""
    credential = services.catalog.get(CRED)
    verdicts = verdicts or {}
    return {
        c.key: {
            "verdict": verdicts.get(c.key, "met"),
            "comment": "" if verdicts.get(c.key, "met") == "met" else "add timings",
        }
        for c in credential.criteria
    }


def decided_submission(services: Services, tmp_path: Path, not_yet: dict[str, str] | None = None) -> str:
    """A submission reviewed by two reviewers and aggregated at NOW (earned unless ``not_yet`` names criteria)."""
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    for assignment in assignments_of(services, sid):
        submit_review(services, assignment.id, review_scores(services, not_yet), now=NOW)
    aggregate(services, sid, now=NOW)
    return sid


def verify_issued(services: Services, credential: dict[str, Any], *, now: datetime | None = None) -> Any:
    """Verify an issued OB 3.0 credential against its issuer's current status list."""
    issuer, fingerprint, _ = credential["credentialStatus"]["statusListCredential"].split("/status/", 1)[1].split("/")
    now = now or NOW + timedelta(hours=1)  # the decisions are dated at the tests' fixed clock
    return verify_credential(
        credential,
        now=now,
        status_lists={
            credential["credentialStatus"]["statusListCredential"]: status_list_credential(
                services, issuer, fingerprint, now=now
            )
        },
    )


def evidence_request(tmp_path: Path, who: ApplicantInfo | None = None, *, title: str = "Plan") -> IntakeRequest:
    """A valid request whose reflection and photo name carry the applicant's name and email."""
    who = who or applicant()
    photo = ev.photo(tmp_path / "board.jpg").read_bytes()
    answers = anchoring_answers()
    answers["reflection"] = f"As {who.name} ({who.email}) I learned a lot. " + answers["reflection"]
    return IntakeRequest(
        applicant=who,
        credential_id=CRED,
        answers=answers,
        uploads=[
            Upload("facilitation_plan", "plan.pdf", io.BytesIO(pdf_bytes(tmp_path, title))),
            Upload("dqb_artifact", f"{who.name} board.jpg", io.BytesIO(photo)),
        ],
    )


def to_review(
    services: Services, tmp_path: Path, who: ApplicantInfo | None = None, *, title: str = "Plan", now: datetime = NOW
) -> str:
    """Submit :func:`evidence_request`, validate it, send its receipt and assign its reviewers."""
    sid = submit(services, evidence_request(tmp_path, who, title=title), now=now).submission_id
    assert run_validation(services, sid, now=now).state is State.AWAITING_REVIEW
    send_notice(services, sid, Notice.RECEIVED)
    assign_reviewers(services, now=now)
    return sid


def review_and_decide(
    services: Services,
    sid: str,
    *,
    not_yet: dict[str, str] | None = None,
    name: str = applicant().name,
    now: datetime = NOW,
) -> State:
    """Every assigned reviewer scores (a comment naming ``name``); aggregate, issue, record hours, send the letter."""
    for assignment in assignments_of(services, sid):
        scores = review_scores(services, not_yet)
        scores["purpose_explained"]["comment"] = f"{name} explains the purpose well."
        submit_review(services, assignment.id, scores, now=now)
    state = aggregate(services, sid, now=now, backread_share=0.0).state
    if state is State.EARNED:
        issue_for_decision(services, sid, today=now.date())
        record_hours(services, sid)
    send_result(services, sid)
    return state
