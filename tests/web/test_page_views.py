"""The pages' view models, built by plain functions without a browser or a server: review, program report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from credflow.catalog import load_catalog
from credflow.reports.rules import DecisionTimes, EducatorStatus, ProgramReport, ProgramSection, ReportStatus
from credflow.review.stage import EvidenceFile, ReviewContext
from tests.conftest import ROOT
from web.pages.admin import programs_page
from web.pages.reviewer import review_page

DUE = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def credential():
    return load_catalog(ROOT / "rubrics").get("udl-level-1")


def _context(credential, **changes) -> ReviewContext:
    values = {
        "assignment_id": "a1",
        "role": "review",
        "state": "assigned",
        "reviewer_name": "Rosa Reviewer",
        "applicant": "Applicant 7F3A",
        "credential": credential,
        "attempt": 2,
        "due_at": DUE,
        "answers": (("why", "Why this lesson?", "Because."),),
        "files": (
            EvidenceFile(
                "e1",
                "video",
                "Classroom video",
                "lesson.mov",
                3_500_000,
                "video",
                "k1",
                "video/quicktime",
                video_key="t1",
                poster_key="p1",
            ),
            EvidenceFile("e2", "plan", "Lesson plan", "plan.pdf", 2048, "document", "k2", "application/pdf"),
            EvidenceFile("e3", "video", "Classroom video", "raw.mp4", 10, "video", "k3", "video/mp4"),
        ),
        "criteria": credential.criteria,
        "scores": {},
        "other_reviews": (),
    }
    return ReviewContext(**(values | changes))


def test_the_review_page_follows_the_rubric_and_splits_playable_videos_from_downloads(credential):
    key = credential.criteria[0].key
    page = review_page(
        _context(credential, scores={key: {"verdict": "met", "comment": "Clear."}}), base="/review/T", csrf="c"
    )
    assert [title for title, _ in page.sections] == [s.title for s in credential.rubric]
    first = page.sections[0][1][0]
    assert (first.key, first.verdict, first.comment, first.problem) == (key, "met", "Clear.", None)
    assert [(f.name, f.video_url, f.poster_url) for f in page.videos] == [
        ("lesson.mov", "/review/T/video/e1", "/review/T/poster/e1")
    ]
    assert [(f.name, f.download_url, f.video_url) for f in page.downloads] == [
        ("plan.pdf", "/review/T/files/e2", None),
        ("raw.mp4", "/review/T/files/e3", None),  # not transcoded: a download, never a player
    ]
    assert page.kind == "Review" and page.attempt == 2 and page.applicant == "Applicant 7F3A"
    assert page.due_text == "Friday 6 March 2026, 17:00 UTC" and page.due_iso == DUE.isoformat()
    assert page.answers == [{"title": "Why this lesson?", "text": "Because."}]
    assert page.context()["reviewer"] == "Rosa Reviewer" and page.context()["signed_in"] is None


def test_problems_are_summarised_by_criterion_title_and_posted_values_are_kept(credential):
    key = credential.criteria[1].key
    title = credential.criteria[1].title
    posted = {key: {"verdict": "not_yet", "comment": ""}}
    page = review_page(
        _context(credential),
        base="/review/T",
        csrf="c",
        values=posted,
        problems={key: "Say why it is not yet met.", "scores": "Score every criterion.", "reason": "Give a reason."},
        reason="Too busy",
    )
    row = next(r for _, rows in page.sections for r in rows if r.key == key)
    assert (row.verdict, row.problem) == ("not_yet", "Say why it is not yet met.")
    assert page.summary == [(key, title, "Say why it is not yet met.")]
    assert page.general == ["scores: Score every criterion."]
    assert (page.reason, page.reason_problem) == ("Too busy", "Give a reason.")


def test_an_adjudicator_sees_the_other_reviewers_by_label_only(credential):
    key = credential.criteria[0].key
    others = (
        {"label": "Reviewer 1", "scores": {key: {"verdict": "met", "comment": "Yes."}}},
        {"label": "Reviewer 2", "scores": {}},
    )
    page = review_page(
        _context(credential, role="adjudication", criteria=credential.criteria[:1], other_reviews=others),
        base="/review/T",
        csrf="c",
    )
    assert page.kind == "Adjudication"
    (row,) = [r for _, rows in page.sections for r in rows]
    assert [(o.label, o.verdict, o.comment) for o in row.others] == [
        ("Reviewer 1", "Met", "Yes."),
        ("Reviewer 2", "not scored", ""),
    ]


def _status(status: ReportStatus, email: str) -> EducatorStatus:
    return EducatorStatus(
        program="P",
        organisation="O",
        educator=email.split("@")[0],
        email=email,
        credential_id="udl-level-1",
        credential_title="UDL",
        status=status,
        state="earned",
        attempt=1,
        days_in_state=0,
        action="",
    )


def test_the_program_report_page_charts_each_program_and_words_its_decision_times():
    section = ProgramSection(
        program="P",
        credentials=("udl-level-1",),
        rows=(_status(ReportStatus.EARNED, "a@x.org"), _status(ReportStatus.EARNED, "b@x.org")),
        decision_times=DecisionTimes(decided=4, median_business_days=1, within_target=3, target_business_days="5"),
    )
    generated = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)
    page = programs_page(ProgramReport(generated_at=generated, programs=(section,)), titles={"udl-level-1": "UDL"})
    assert page["generated"] == "2026-03-06 09:30 UTC" and page["titles"] == {"udl-level-1": "UDL"}
    (view,) = page["sections"]
    assert (view.median, view.within_target) == ("1 business day", "75% (3 of 4)")
    earned = next(bar for bar in view.chart.bars if bar.status == ReportStatus.EARNED.value)
    assert earned.count == 2 and earned.width == max(bar.width for bar in view.chart.bars)
