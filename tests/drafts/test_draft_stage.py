"""Drafts' stage: applying twice is one submission, and an applied draft closes its coach links."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from cli import demo_evidence as ev
from credflow.db.models import Submission
from credflow.drafts.stage import (
    CoachLinkRefused,
    add_file,
    apply_draft,
    make_coach_link,
    open_coach_link,
    save_answers,
    start,
)
from tests.utils.review_cycle import NOW

CRED = "openscied-anchoring-phenomenon"


def test_applying_twice_is_one_submission_and_closes_the_coach_links(services, tmp_path):
    made = start(services, email="ana@example.org", credential_id=CRED, name="Ana", organisation="Riverside", now=NOW)
    who = {"draft_id": made.draft_id, "applicant_id": made.applicant_id}
    save_answers(services, **who, answers={"routine_purpose": ev.words(200), "reflection": ev.words(300)}, now=NOW)
    pdf = ev.pdf(tmp_path / "plan.pdf", "Plan").read_bytes()
    add_file(
        services,
        **who,
        requirement_key="facilitation_plan",
        filename="plan.pdf",
        content_type=None,
        stream=io.BytesIO(pdf),
        now=NOW,
    )
    link = make_coach_link(services, **who, days=7, coach_email=None, now=NOW)
    token = link.url.rsplit("/", 1)[1]
    assert open_coach_link(services, token, now=NOW).draft.id == made.draft_id

    first = apply_draft(services, **who, now=NOW)
    again = apply_draft(services, **who, now=NOW)
    assert first.created and not again.created and again.submission_id == first.submission_id
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
    with pytest.raises(CoachLinkRefused) as refused:
        open_coach_link(services, token, now=NOW)
    assert refused.value.problem.status == 410
