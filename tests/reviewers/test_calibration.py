"""Calibration against gold standards, and the agreement report built from real reviews."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from credflow.db.models import CalibrationRecord, GoldStandard, Reviewer
from credflow.errors import ConfigurationError
from credflow.reviewers.rules import agreement_report, calibration_lapses_on, gold_agreement, parse_pool
from credflow.reviewers.stage import (
    calibrate_on_gold,
    calibration_records,
    import_gold,
    import_pool,
    pool_reviewer,
    ratings_from_reviews,
    record_calibration,
)

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


# --- gold standards with their evidence, scored one at a time in the browser ---------------------

UDL = "udl-level-1"
UDL_GOLD = f"""
gold:
  - name: udl-gold
    credential: {UDL}
    scores: {{variability_analysed: true, options_designed: false, reflection_on_barriers: true}}
    evidence_notes: "The lesson plan, in words."
    answers: {{learner_variability: "Barriers in the design.", reflection: "What learners chose."}}
    comments: {{options_designed: "No option for engagement."}}
"""


def test_a_gold_file_may_carry_answers_notes_and_comments(services):
    with services.db.session() as session:
        assert import_gold(session, UDL_GOLD, catalog=services.catalog) == 1
        gold = session.scalar(select(GoldStandard).where(GoldStandard.name == "udl-gold"))
        assert gold.answers == {"learner_variability": "Barriers in the design.", "reflection": "What learners chose."}
        assert gold.evidence_notes == "The lesson plan, in words."
        assert gold.comments == {"options_designed": "No option for engagement."}
        # Re-imported without them (the old format), they are cleared: the file is the truth.
        import_gold(
            session,
            f"gold: [{{name: udl-gold, credential: {UDL}, scores: {{variability_analysed: true, "
            "options_designed: false, reflection_on_barriers: true}}]",
            catalog=services.catalog,
        )
        session.flush()
        assert (gold.answers, gold.evidence_notes, gold.comments) == (None, None, None)


def test_comments_and_answers_must_name_the_credentials_criteria_and_questions(services):
    bad = UDL_GOLD.replace("comments: {options_designed", "comments: {options_desined").replace(
        "answers: {learner_variability", "answers: {learner_variety"
    )
    with pytest.raises(ConfigurationError) as raised, services.db.session() as session:
        import_gold(session, bad, catalog=services.catalog)
    assert "gold.0.comments: unknown criteria ['options_desined']" in str(raised.value)
    assert "gold.0.answers: unknown written answers ['learner_variety']" in str(raised.value)


def test_gold_agreement_lists_each_criterion_in_rubric_order_with_the_gold_comment():
    rows = gold_agreement(
        ["a", "b", "c"], {"c": True, "a": True, "b": False}, {"a": True, "b": True}, {"b": "Why not yet."}
    )
    assert [(r.criterion, r.given, r.gold, r.agreed, r.comment) for r in rows] == [
        ("a", True, True, True, ""),
        ("b", True, False, False, "Why not yet."),
        ("c", None, True, False, ""),  # not scored never agrees
    ]


@pytest.fixture
def udl_pool(services):
    with services.db.session() as session:
        import_pool(
            session,
            parse_pool(
                f"reviewers: [{{name: Ana, email: ana@review.org, organisation: X, certified_for: [{UDL}, {CRED}]}}]",
                catalog=services.catalog,
            ),
        )
        import_gold(session, GOLD, catalog=services.catalog)  # two more, of the other credential
        import_gold(session, UDL_GOLD, catalog=services.catalog)
    return services


def _on_gold(services, verdicts, day):
    with services.db.session() as session:
        reviewer = pool_reviewer(session, "ana@review.org")
        gold = session.scalar(select(GoldStandard).where(GoldStandard.name == "udl-gold"))
        assert reviewer is not None and gold is not None
        now = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        result, record = calibrate_on_gold(session, reviewer=reviewer, gold=gold, verdicts=verdicts, now=now)
        return result, record.practice, reviewer.calibrated_on


def test_one_gold_standard_scored_alone_can_calibrate_and_a_retake_is_practice(udl_pool):
    right = {"variability_analysed": True, "options_designed": False, "reflection_on_barriers": True}
    result, practice, calibrated_on = _on_gold(udl_pool, right, date(2026, 12, 7))
    # Only this gold counts: the other credential's two gold standards are not missing answers.
    assert result.calibrated and result.share == 1.0 and result.missing == []
    assert not practice and calibrated_on == date(2026, 12, 7)
    again, practice, calibrated_on = _on_gold(udl_pool, right, date(2026, 12, 9))
    assert again.calibrated and practice and calibrated_on == date(2026, 12, 7)  # unchanged
    with udl_pool.db.session() as session:
        ana = pool_reviewer(session, "ana@review.org")
        assert ana is not None
        assert [r.practice for r in calibration_records(session, ana)] == [False, True]


def test_a_first_scoring_below_the_threshold_does_not_calibrate(udl_pool):
    wrong = {"variability_analysed": True, "options_designed": True, "reflection_on_barriers": True}
    result, practice, calibrated_on = _on_gold(udl_pool, wrong, date(2026, 12, 7))
    assert not result.calibrated and result.agreed == 2 and not practice and calibrated_on is None
