"""Builders of valid submissions for tests: answers of the right length and files that pass validation."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from cli import demo_evidence as ev
from credflow.badges import AchievementInfo
from credflow.intake.rules import ApplicantInfo, IntakeRequest, Upload


def applicant(name: str = "Ana Alvarez", org: str = "Riverside Unified") -> ApplicantInfo:
    return ApplicantInfo(name=name, email=name.lower().replace(" ", ".") + "@example.org", organisation=org)


def anchoring_answers(words: int = 200) -> dict[str, str]:
    return {"routine_purpose": ev.words(words), "reflection": ev.words(300, seed=2)}


def pdf_bytes(tmp: Path, title: str = "Plan") -> bytes:
    return ev.pdf(tmp / f"{abs(hash(title))}.pdf", title).read_bytes()


def anchoring_request(
    tmp: Path,
    *,
    who: ApplicantInfo | None = None,
    key: str | None = None,
    title: str = "Plan",
    answers: dict[str, str] | None = None,
    extra: list[Upload] | None = None,
    enrolled_on: date | None = None,
) -> IntakeRequest:
    """A complete, valid submission for the anchoring-phenomenon micro-credential."""
    return IntakeRequest(
        applicant=who or applicant(),
        credential_id="openscied-anchoring-phenomenon",
        answers=answers if answers is not None else anchoring_answers(),
        uploads=[Upload("facilitation_plan", "plan.pdf", io.BytesIO(pdf_bytes(tmp, title))), *(extra or [])],
        idempotency_key=key,
        enrolled_on=enrolled_on,
    )


def discussion_request(tmp: Path, video: bytes, *, who: ApplicantInfo | None = None) -> IntakeRequest:
    """A complete submission for the facilitating-discussions micro-credential, with ``video`` as its video.

    With :func:`credflow.media.fake.fake_mp4` bytes and a FakeMedia, it needs no ffmpeg.
    """
    return IntakeRequest(
        applicant=who or applicant(),
        credential_id="openscied-facilitating-discussions",
        answers={"discussion_context": ev.words(200), "reflection": ev.words(400, seed=2)},
        uploads=[
            Upload("discussion_video", "discussion.mp4", io.BytesIO(video)),
            Upload("discussion_plan", "plan.pdf", io.BytesIO(pdf_bytes(tmp))),
        ],
    )


#: A micro-credential achievement for badge tests (OB 3.0 credentials signed and verified directly).
ACHIEVEMENT = AchievementInfo(
    id="https://badges.example.org/achievements/openscied-facilitating-discussions",
    name="Facilitating OpenSciEd Discussions",
    description="The facilitator leads a whole-group discussion with adult participants.",
    criteria_narrative="A video of a whole-group discussion the facilitator led, scored against the rubric.",
    image_url="https://badges.example.org/images/openscied-facilitating-discussions.png",
    image_caption="Facilitating OpenSciEd Discussions badge",
    achievement_type="MicroCredential",
)
