"""The formal test's pure rules and catalog fields: scoring, pass marks, tries left, the retake wait, prerequisites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from credflow.assessment.rules import (
    PastTry,
    Standing,
    answer_problems,
    feedback_shown,
    missing_prerequisites,
    score,
    standing,
)
from credflow.catalog import load_catalog
from credflow.catalog.loader import check_catalog
from credflow.catalog.models import AssessmentMode, FormalTest

ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_test(**overrides: object) -> FormalTest:
    items = [
        {
            "key": f"q{n}",
            "question": f"Question {n}?",
            "options": [{"key": "a", "text": "A"}, {"key": "b", "text": "B"}],
            "answer": "a",
        }
        for n in range(1, 6)
    ]
    data: dict[str, object] = {"items": items, "pass_mark": 4, "attempts": 3, "retake_wait_days": 7}
    data.update(overrides)
    return FormalTest.model_validate(data)


def answers(right: int, total: int = 5) -> dict[str, str]:
    return {f"q{n}": "a" if n <= right else "b" for n in range(1, total + 1)}


def a_try(number: int, *, submitted: datetime | None, passed: bool | None) -> PastTry:
    return PastTry(f"t{number}", number, T0, submitted, passed)


def test_score_counts_correct_answers_against_the_pass_mark():
    test = make_test()
    four = score(test, answers(4), started_at=T0, submitted_at=T0)
    assert (four.correct, four.out_of, four.needed, four.passed) == (4, 5, 4, True)
    three = score(test, answers(3), started_at=T0, submitted_at=T0)
    assert (three.correct, three.passed) == (3, False)
    assert [item.correct for item in three.items] == [True, True, True, False, False]


@pytest.mark.parametrize(("mark", "needed"), [(0.8, 4), (0.7, 4), (0.6, 3), (1.0, 5), (2, 2)])
def test_a_fraction_pass_mark_rounds_up_and_a_count_is_exact(mark, needed):
    assert make_test(pass_mark=mark).correct_needed == needed


def test_a_pass_mark_above_the_item_count_or_zero_is_refused():
    with pytest.raises(ValidationError, match="more than the 5 items"):
        make_test(pass_mark=6)
    with pytest.raises(ValidationError):
        make_test(pass_mark=0)
    with pytest.raises(ValidationError):
        make_test(pass_mark=1.5)


def test_an_answer_key_must_be_one_of_the_options():
    bad = make_test().model_dump()
    bad["items"][0]["answer"] = "z"
    with pytest.raises(ValidationError, match="answer 'z' is not one of the options"):
        FormalTest.model_validate(bad)


def test_answers_sent_after_the_time_limit_do_not_pass():
    test = make_test(time_limit_minutes=30)
    on_time = score(test, answers(5), started_at=T0, submitted_at=T0 + timedelta(minutes=30, seconds=30))
    late = score(test, answers(5), started_at=T0, submitted_at=T0 + timedelta(minutes=32))
    assert on_time.passed and not late.passed and late.late


def test_missing_and_unknown_answers_are_named_per_question():
    problems = answer_problems(make_test(), {"q1": "a", "q2": "z", "q3": "b", "q4": "a"})
    assert problems == {
        "q2": "Question 2: the answer sent is not one of its options; choose one again.",
        "q5": "Question 5 has no answer: choose one option.",
    }
    assert answer_problems(make_test(), answers(2)) == {}


def test_standing_first_try_then_wait_then_retake():
    test = make_test()
    assert standing(test, [], now=T0).standing is Standing.MAY_START
    opened = standing(test, [a_try(1, submitted=None, passed=None)], now=T0)
    assert (opened.standing, opened.open_try, opened.left) == (Standing.IN_PROGRESS, "t1", 2)
    failed = [a_try(1, submitted=T0, passed=False)]
    waiting = standing(test, failed, now=T0 + timedelta(days=6, hours=23))
    assert waiting.standing is Standing.WAITING and waiting.next_try_at == T0 + timedelta(days=7)
    assert standing(test, failed, now=T0 + timedelta(days=7)).standing is Standing.MAY_START


def test_standing_exhausted_after_the_last_failed_try_and_passed_after_a_pass():
    test = make_test(attempts=2)
    two_failed = [a_try(1, submitted=T0, passed=False), a_try(2, submitted=T0, passed=False)]
    exhausted = standing(test, two_failed, now=T0 + timedelta(days=30))
    assert (exhausted.standing, exhausted.left) == (Standing.EXHAUSTED, 0)
    passed = standing(test, [a_try(1, submitted=T0, passed=False), a_try(2, submitted=T0, passed=True)], now=T0)
    assert (passed.standing, passed.passed_try) == (Standing.PASSED, "t2")


def test_correct_answers_are_revealed_only_after_a_pass_or_the_last_try():
    test = make_test(attempts=2)
    one_failed = standing(test, [a_try(1, submitted=T0, passed=False)], now=T0)
    assert not feedback_shown(one_failed)
    both_failed = standing(test, [a_try(1, submitted=T0, passed=False), a_try(2, submitted=T0, passed=False)], now=T0)
    assert feedback_shown(both_failed)
    assert feedback_shown(standing(test, [a_try(1, submitted=T0, passed=True)], now=T0))


def test_udl_level_1_offers_either_and_level_2_needs_level_1():
    catalog = load_catalog(RUBRICS)
    one, two = catalog.get("udl-level-1"), catalog.get("udl-level-2")
    assert one.assessment is AssessmentMode.EITHER and one.offers_test and one.offers_portfolio
    assert one.test is not None and len(one.test.items) == 10 and one.test.correct_needed == 8
    assert all(item.explanation for item in one.test.items)
    assert two.assessment is AssessmentMode.PORTFOLIO and not two.offers_test
    assert two.prerequisites == ("udl-level-1",)
    assert missing_prerequisites(two, set()) == ("udl-level-1",)
    assert missing_prerequisites(two, {"udl-level-1"}) == ()


def _copy(tmp: Path, name: str, change: dict[str, object]) -> None:
    data = yaml.safe_load((RUBRICS / name).read_text())
    data.update(change)
    (tmp / name).write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_prerequisite_must_exist_in_the_catalog_and_not_loop(tmp_path):
    _copy(tmp_path, "udl-level-2.yaml", {"prerequisites": ["udl-level-9"]})
    _copy(tmp_path, "udl-level-1.yaml", {})
    _, problems = check_catalog(tmp_path)
    assert [(p.file.name, p.field) for p in problems] == [("udl-level-2.yaml", "prerequisites[0]")]
    assert "'udl-level-9' is not a micro-credential of the catalog" in problems[0].message

    _copy(tmp_path, "udl-level-2.yaml", {})
    _copy(tmp_path, "udl-level-1.yaml", {"prerequisites": ["udl-level-2"]})
    _, problems = check_catalog(tmp_path)
    assert {(p.file.name, p.field) for p in problems} == {
        ("udl-level-1.yaml", "prerequisites"),
        ("udl-level-2.yaml", "prerequisites"),
    }


def test_assessment_and_test_must_agree(tmp_path):
    _copy(tmp_path, "udl-level-1.yaml", {"assessment": "portfolio"})
    _, problems = check_catalog(tmp_path)
    assert any("a test is declared but assessment is portfolio" in p.message for p in problems)
    _copy(tmp_path, "udl-level-1.yaml", {"test": None})
    _, problems = check_catalog(tmp_path)
    assert any("assessment either needs a test" in p.message for p in problems)
