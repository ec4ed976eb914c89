"""Builders of valid submissions for tests: answers of the right length and files that pass validation."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from cli import demo_evidence as ev
from credflow.intake import ApplicantInfo, IntakeRequest, Upload


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
