"""The formal test on stored records: tries, refusals, and a pass that issues the badge and hours like a portfolio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from credflow.assessment.stage import (
    TEST_CRITERION,
    AnswersIncomplete,
    TestRefused,
    earned_credentials,
    formal_test_overview,
    open_try,
    start_try,
    submit_try,
)
from credflow.db.models import Decision, Event, FormalTestAttempt, InServiceHours, IssuedBadge, Submission
from credflow.errors import NotFoundError
from credflow.lifecycle import State

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
UDL1 = "udl-level-1"
ANA = "ana@school.org"


def right_answers(services, *, wrong: int = 0) -> dict[str, str]:
    test = services.catalog.get(UDL1).test
    chosen = {}
    for n, item in enumerate(test.items):
        other = next(o.key for o in item.options if o.key != item.answer)
        chosen[item.key] = other if n < wrong else item.answer
    return chosen


def take(services, *, wrong: int, now: datetime, email: str = ANA) -> str:
    attempt = start_try(services, email=email, credential_id=UDL1, now=now, name="Ana Lima", organisation="Riverside")
    submit_try(
        services,
        email=email,
        credential_id=UDL1,
        attempt_id=attempt,
        answers=right_answers(services, wrong=wrong),
        now=now,
    )
    return attempt


def test_a_pass_is_an_earned_decision_that_issues_the_badge_hours_and_email(services):
    attempt = take(services, wrong=2, now=NOW)  # 8 of 10: exactly the pass mark
    view = open_try(services, email=ANA, credential_id=UDL1, attempt_id=attempt, now=NOW)
    assert view.result is not None and view.result.passed and view.result.correct == 8
    with services.db.session() as session:
        sub = session.get_one(Submission, view.submission_id)
        assert (sub.state, sub.credential_id, sub.idempotency_key) == (State.EARNED, UDL1, f"test:{attempt}")
        decision = session.scalar(select(Decision).where(Decision.submission_id == sub.id))
        assert decision is not None and decision.outcome == "earned"
        assert decision.criteria[TEST_CRITERION]["score"] == 8
        badge = session.scalar(select(IssuedBadge).where(IssuedBadge.submission_id == sub.id))
        assert badge is not None and badge.kind == "micro" and badge.badge_key == UDL1
        assert badge.ob3["credentialSubject"]["achievement"]["name"].startswith("UDL Level 1")
        assert "Passed the formal test: 8 of 10" in badge.ob3["evidence"][0]["narrative"]
        hours = session.scalar(select(InServiceHours).where(InServiceHours.decision_id == decision.id))
        assert hours is not None and hours.hours == 3 and hours.earned_on == NOW.date()
        assert session.scalar(select(Event).where(Event.kind == "test_passed", Event.submission_id == sub.id))
    sent = list(services.settings.resolved_outbox_dir.glob("badge_issued*.eml"))
    assert len(sent) == 1
    assert earned_credentials(services, ANA) == {UDL1}


def test_a_failed_try_waits_a_week_and_scores_once(services):
    attempt = take(services, wrong=3, now=NOW)
    # A second send of the same try (a double click) changes nothing.
    again = submit_try(
        services, email=ANA, credential_id=UDL1, attempt_id=attempt, answers=right_answers(services), now=NOW
    )
    assert again.result is not None and again.result.correct == 7 and not again.result.passed
    overview = formal_test_overview(services, email=ANA, credential_id=UDL1, now=NOW + timedelta(days=6))
    assert overview.refusal is not None and "Your next try may start on Monday 30 November 2026" in overview.refusal
    with pytest.raises(TestRefused, match="next try may start"):
        start_try(services, email=ANA, credential_id=UDL1, now=NOW + timedelta(days=6))
    second = start_try(services, email=ANA, credential_id=UDL1, now=NOW + timedelta(days=7))
    assert second != attempt
    with services.db.session() as session:
        assert session.scalars(select(Decision)).all() == []
        assert session.get_one(FormalTestAttempt, second).number == 2


def test_every_try_used_is_refused_with_the_way_forward(services):
    for day in (0, 7, 14):
        take(services, wrong=5, now=NOW + timedelta(days=day))
    with pytest.raises(TestRefused, match="All 3 tries at this test are used"):
        start_try(services, email=ANA, credential_id=UDL1, now=NOW + timedelta(days=60))


def test_starting_again_returns_the_open_try(services):
    first = start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="Ana Lima")
    assert start_try(services, email=ANA, credential_id=UDL1, now=NOW + timedelta(minutes=5)) == first


def test_a_try_left_open_past_its_time_limit_fails_and_frees_the_next(services):
    first = start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="Ana Lima")
    later = NOW + timedelta(days=8)
    overview = formal_test_overview(services, email=ANA, credential_id=UDL1, now=later)
    assert overview.standing.open_try is None and overview.standing.used == 1 and overview.refusal is None
    view = open_try(services, email=ANA, credential_id=UDL1, attempt_id=first, now=later)
    assert view.result is not None and not view.result.passed


def test_a_name_is_needed_when_there_is_no_applicant_record(services):
    with pytest.raises(TestRefused, match="Give your name"):
        start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="  ")


def test_incomplete_answers_are_refused_and_nothing_is_stored(services):
    attempt = start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="Ana Lima")
    answers = right_answers(services)
    answers.pop("variability")
    with pytest.raises(AnswersIncomplete) as refused:
        submit_try(services, email=ANA, credential_id=UDL1, attempt_id=attempt, answers=answers, now=NOW)
    assert refused.value.problems == {"variability": "Question 3 has no answer: choose one option."}
    with services.db.session() as session:
        assert session.get_one(FormalTestAttempt, attempt).submitted_at is None


def test_someone_elses_try_is_not_found(services):
    attempt = start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="Ana Lima")
    start_try(services, email="ben@school.org", credential_id=UDL1, now=NOW, name="Ben Ode")
    with pytest.raises(NotFoundError):
        open_try(services, email="ben@school.org", credential_id=UDL1, attempt_id=attempt, now=NOW)
    with pytest.raises(NotFoundError):
        submit_try(services, email="ben@school.org", credential_id=UDL1, attempt_id=attempt, answers={}, now=NOW)


def test_a_missing_prerequisite_refuses_the_test(services, monkeypatch):
    # Level 2 has no test; give the check a credential that does, with Level 2 as its prerequisite.
    level1 = services.catalog.get(UDL1)
    needy = level1.model_copy(update={"prerequisites": ("udl-level-2",)})
    monkeypatch.setitem(services.catalog.credentials, UDL1, needy)
    with pytest.raises(TestRefused, match="needs UDL Level 2: Applying UDL Across a Unit first"):
        start_try(services, email=ANA, credential_id=UDL1, now=NOW, name="Ana Lima")


def test_a_credential_without_a_test_has_none(services):
    with pytest.raises(NotFoundError):
        formal_test_overview(services, email=ANA, credential_id="udl-level-2", now=NOW)
