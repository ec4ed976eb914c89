"""Builders for review-page tests: a real udl-level-1 submission with a transcoded video, and assignment links."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cli import demo_evidence as ev
from credflow.db.models import Assignment, EvidenceItem, Reviewer, new_id, utcnow
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.media import samples
from credflow.review.links import issue_token
from credflow.services import Services, build_services
from credflow.settings import load_settings
from credflow.submissions import get_submission
from credflow.transcoding.stage import finish_transcoding, transcode_video, video_jobs
from credflow.validation.stage import run_validation
from tests.conftest import ROOT

UDL = "udl-level-1"
#: Written into an answer to prove the page shows it as text.
SCRIPT = "<script>alert('owned')</script>"
PLAN_NAME = "plan é.pdf"


def make_services(folder: Path) -> Services:
    """Services on SQLite, a local store and an outbox under ``folder`` (for module-scoped fixtures)."""
    return build_services(load_settings(data_dir=folder / "data", catalog_dir=ROOT / "rubrics"))


def make_clip(folder: Path) -> Path:
    """A 61-second test-pattern clip at a tiny frame size: long enough for the requirement, quick to transcode."""
    return samples.make_video(folder / "classroom.mp4", seconds=61, width=96, height=54, fps=5)


@dataclass(frozen=True)
class Applied:
    """A submission made through intake, validation and transcoding, ready for review."""

    submission_id: str
    applicant: ApplicantInfo
    plan: bytes
    plan_id: str
    video_id: str | None


def udl_submission(
    services: Services, folder: Path, *, name: str, clip: Path | None = None, now: datetime | None = None
) -> Applied:
    """Submit a udl-level-1 application (an answer carrying ``SCRIPT``) at ``now`` and take it to awaiting_review."""
    who = ApplicantInfo(name=name, email=name.lower().replace(" ", ".") + "@example.org", organisation="Lakeside ISD")
    plan = ev.pdf(folder / f"{uuid.uuid4().hex}.pdf", f"UDL plan of {name}").read_bytes()
    uploads = [Upload("udl_lesson_plan", PLAN_NAME, io.BytesIO(plan))]
    if clip is not None:
        uploads.append(Upload("classroom_video", "classroom.mp4", io.BytesIO(clip.read_bytes())))
    request = IntakeRequest(
        applicant=who,
        credential_id=UDL,
        answers={"learner_variability": f"{ev.words(200)}\n{SCRIPT}", "reflection": ev.words(250, seed=3)},
        uploads=uploads,
    )
    sid = submit(services, request, now=now).submission_id
    outcome = run_validation(services, sid, now=now)
    assert not outcome.problems, outcome.problems
    for job in video_jobs(services, sid):
        assert transcode_video(services, job, owner="test").done
    if outcome.state == State.TRANSCODING:
        assert finish_transcoding(services, sid) == State.AWAITING_REVIEW
    with services.db.session() as session:
        items: list[EvidenceItem] = list(get_submission(session, sid).evidence)
        plan_id = next(i.id for i in items if i.requirement_key == "udl_lesson_plan")
        video_id = next((i.id for i in items if i.requirement_key == "classroom_video"), None)
    return Applied(sid, who, plan, plan_id, video_id)


@dataclass(frozen=True)
class Link:
    """One assignment and its private review link token."""

    assignment_id: str
    reviewer_name: str
    token: str
    due_at: datetime

    @property
    def path(self) -> str:
        return f"/review/{self.token}"


def assign(
    services: Services,
    submission_id: str,
    *,
    role: str = "review",
    state: str = "active",
    criteria: list[str] | None = None,
    scores: dict[str, Any] | None = None,
    completed_at: datetime | None = None,
    reviewer_name: str | None = None,
) -> Link:
    """Create a reviewer and an assignment row directly (no assignment stage), and sign its link."""
    suffix = uuid.uuid4().hex[:8]
    name = reviewer_name or f"Sam Example-{suffix}"
    due_at = utcnow().replace(microsecond=0) + timedelta(days=5)
    nonce = new_id()
    with services.db.session() as session:
        reviewer = Reviewer(email=f"reviewer-{suffix}@example.org", name=name, organisation="Hillside District")
        session.add(reviewer)
        session.flush()
        assignment = Assignment(
            submission_id=submission_id,
            reviewer_id=reviewer.id,
            role=role,
            state=state,
            token_nonce=nonce if state == "active" else None,
            criteria=criteria or [],
            scores=scores or {},
            due_at=due_at,
            completed_at=completed_at,
        )
        session.add(assignment)
        session.flush()
        assignment_id = assignment.id
    token = issue_token(services.settings.keyring, assignment_id=assignment_id, nonce=nonce, due_at=due_at)
    return Link(assignment_id, name, token, due_at)


def assignment_row(services: Services, assignment_id: str) -> Assignment:
    """The assignment as stored now."""
    with services.db.session() as session:
        row = session.get_one(Assignment, assignment_id)
        session.expunge(row)
        return row
