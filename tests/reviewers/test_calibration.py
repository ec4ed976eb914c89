"""Calibration against gold standards, and the agreement report built from real reviews."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from credflow.db.models import CalibrationRecord, Reviewer
from credflow.errors import ConfigurationError
from credflow.reviewers.rules import agreement_report, calibration_lapses_on, parse_pool
from credflow.reviewers.stage import import_gold, import_pool, ratings_from_reviews, record_calibration

CRED = "openscied-anchoring-phenomenon"
KEYS = ["purpose_explained", "plan_models_routine", "facilitator_moves", "reflection_on_learners"]
GOLD = f"""
gold:
  - {{name: gold-a, credential: {CRED}, scores: {{purpose_explained: true, plan_models_routine: true,
      facilitator_moves: false, reflection_on_learners: true}}}}
  - {{name: gold-b, credential: {CRED}, scores: {{purpose_explained: false, plan_models_routine: true,
      facilitator_moves: true, reflection_on_learners: true}}}}
"""


@pytest.fixture
def pool(services):
    with services.db.session() as session:
        import_pool(
            session,
            parse_pool(
                f"reviewers: [{{name: New Reviewer, email: new@review.org, organisation: X, certified_for: [{CRED}]}}]",
                catalog=services.catalog,
            ),
        )
        import_gold(session, GOLD, catalog=services.catalog)
    return services


def _answers(wrong: int) -> dict:
    truth = {"gold-a": [True, True, False, True], "gold-b": [False, True, True, True]}
    answers: dict[str, dict[str, str]] = {}
    flipped = 0
    for name, values in truth.items():
        answers[name] = {}
        for key, value in zip(KEYS, values, strict=True):
            if flipped < wrong:
                value, flipped = not value, flipped + 1
            answers[name][key] = "met" if value else "not_yet"
    return answers


def test_eighty_percent_agreement_calibrates_the_reviewer(pool):
    with pool.db.session() as session:
        result = record_calibration(
            session, reviewer_email="new@review.org", scores=_answers(wrong=1), today=date(2026, 11, 23)
        )
    assert result.calibrated and result.share == 7 / 8
    with pool.db.session() as session:
        reviewer = session.scalar(select(Reviewer))
        assert reviewer.calibrated_on == date(2026, 11, 23)
        assert len(session.scalars(select(CalibrationRecord)).all()) == 2


def test_below_eighty_percent_does_not(pool):
    with pool.db.session() as session:
        result = record_calibration(
            session, reviewer_email="new@review.org", scores=_answers(wrong=2), today=date(2026, 11, 23)
        )
        assert not result.calibrated and result.share == 6 / 8
        assert session.scalar(select(Reviewer)).calibrated_on is None


def test_gold_files_must_score_every_criterion(services):
    with (
        pytest.raises(ConfigurationError, match=r"missing \['reflection_on_learners'\]"),
        services.db.session() as session,
    ):
        import_gold(session, f"gold: [{{name: g, credential: {CRED}, scores: {{purpose_explained: true, "
                    "plan_models_routine: true, facilitator_moves: true}}]", catalog=services.catalog)  # fmt: skip


def test_agreement_report_reads_submitted_reviews(services, tmp_path):
    from credflow.assignment.stage import assign_reviewers
    from credflow.review.stage import submit_review
    from tests.utils.review_cycle import NOW, assignments_of, load_pool, ready_submission, review_scores

    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    first, second = assignments_of(services, sid)
    submit_review(services, first.id, review_scores(services), now=NOW)
    submit_review(services, second.id, review_scores(services, {"facilitator_moves": "not_yet"}), now=NOW)
    with services.db.session() as session:
        ratings = ratings_from_reviews(session)
    assert len(ratings) == 8
    report = agreement_report(ratings)
    assert report.percent == 0.75
    assert "facilitator_moves" in report.render_text()


def test_a_calibration_lapses_on_its_anniversary():
    assert calibration_lapses_on(date(2027, 3, 11)) == date(2028, 3, 11)  # not 2028-03-10 (365 days)
    assert calibration_lapses_on(date(2028, 2, 29)) == date(2029, 3, 1)  # valid through 28 February 2029
    assert calibration_lapses_on(date(2026, 11, 23), years=2) == date(2028, 11, 23)
