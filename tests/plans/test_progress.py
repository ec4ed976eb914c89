"""Where an enrolment stands, in words: state, attempts left, deadlines and the next thing to do, from plain facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from credflow.lifecycle import State
from credflow.plans.progress import AttemptFacts, BadgeFacts, EnrolmentFacts, summarise

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DECIDED = NOW - timedelta(days=2)


def attempt(number: int, state: State, *, outcome: str | None = None, sid: str | None = None) -> AttemptFacts:
    decided = DECIDED if outcome else None
    return AttemptFacts(
        id=sid or f"s{number}{state.value}",
        attempt=number,
        state=state,
        submitted_at=DECIDED - timedelta(days=10),
        state_since=DECIDED,
        decided_at=decided,
        outcome=outcome,
    )


def facts(*attempts: AttemptFacts, **overrides: object) -> EnrolmentFacts:
    values: dict[str, object] = {
        "credential_id": "cred",
        "title": "A credential",
        "enrolled_on": date(2026, 1, 5),
        "access_ends": date(2029, 1, 5),
        "allowed_attempts": 3,
        "window_days": 60,
        "attempts": attempts,
    }
    values.update(overrides)
    return EnrolmentFacts(**values)  # type: ignore[arg-type]


def test_not_started_and_draft_lead_to_the_draft():
    fresh = summarise(facts(), now=NOW)
    assert (fresh.state, fresh.attempt_text, fresh.attempts_left) == ("Not started", "No attempt yet (up to 3)", 3)
    assert fresh.next is not None
    assert (fresh.next.label, fresh.next.href) == ("Start your draft", "/me/credentials/cred/draft")
    drafted = summarise(facts(has_draft=True), now=NOW)
    assert drafted.state == "Draft" and drafted.next is not None and drafted.next.label == "Continue your draft"
    assert fresh.plan_open and drafted.plan_open


def test_not_yet_within_the_window_offers_resubmission_and_the_letter():
    progress = summarise(facts(attempt(1, State.NOT_YET, outcome="not_yet", sid="s1")), now=NOW)
    assert progress.state == "Not yet" and progress.attempt_text == "Attempt 1 of 3" and progress.attempts_left == 2
    assert progress.resubmit_by == (DECIDED + timedelta(days=60)).date()
    assert progress.next is not None and progress.next.label == "Revise and resubmit"
    assert [(link.label, link.href) for link in progress.also] == [("Read your letter", "/me/submissions/s1/letter")]
    assert [letter.href for letter in progress.letters] == ["/me/submissions/s1/letter"]
    assert progress.plan_open


def test_not_yet_after_the_window_or_the_last_attempt_leads_to_the_letter_only():
    lapsed = summarise(facts(attempt(1, State.NOT_YET, outcome="not_yet", sid="s1")), now=NOW + timedelta(days=61))
    assert lapsed.resubmit_by is None and "window ended" in lapsed.explanation
    assert lapsed.next is not None and lapsed.next.label == "Read your letter" and not lapsed.plan_open
    chain = (
        attempt(1, State.RESUBMITTED, outcome="not_yet"),
        attempt(2, State.RESUBMITTED, outcome="not_yet"),
        attempt(3, State.NOT_YET, outcome="not_yet", sid="s3"),
    )
    last = summarise(facts(*chain), now=NOW)
    assert last.attempts_left == 0 and last.resubmit_by is None and "coaching" in last.explanation
    assert last.next is not None and last.next.href == "/me/submissions/s3/letter"
    assert [row.state for row in last.history] == ["Not yet (resubmitted)", "Not yet (resubmitted)", "Not yet"]
    unlocked = summarise(facts(*chain, allowed_attempts=4), now=NOW)  # an operator's unlock: one more attempt
    assert unlocked.attempts_left == 1 and unlocked.next is not None and unlocked.next.label == "Revise and resubmit"


def test_a_returned_attempt_costs_nothing():
    progress = summarise(facts(attempt(1, State.RETURNED)), now=NOW)
    assert progress.state == "Returned to you" and progress.attempts_left == 3
    assert progress.next is not None and progress.next.label == "Fix your evidence"
    assert "cost no attempt" in progress.history[0].note


def test_in_pipeline_states_have_nothing_to_do():
    cases = ((State.VALIDATING, "Submitted"), (State.IN_REVIEW, "In review"), (State.ADJUDICATING, "In review"))
    for state, words in cases:
        progress = summarise(facts(attempt(1, state)), now=NOW)
        assert progress.state == words and progress.next is None and not progress.plan_open


def test_earned_leads_to_the_badge_then_the_letter():
    progress = summarise(
        facts(attempt(1, State.EARNED, outcome="earned", sid="s1"), badges=(BadgeFacts("b1", "Badge", "active"),)),
        now=NOW,
    )
    assert progress.state == "Earned" and progress.next is not None
    assert (progress.next.label, progress.next.href) == ("View your badge", "/badges/b1")
    assert [link.href for link in progress.also] == ["/me/submissions/s1/letter"]


def test_closed_failed_and_withdrawn_say_what_happens():
    closed = summarise(facts(attempt(1, State.CLOSED, outcome="not_yet", sid="s1")), now=NOW)
    assert closed.state == "Closed" and closed.next is not None and closed.next.label == "Read your letter"
    failed = summarise(facts(attempt(1, State.FAILED)), now=NOW)
    assert failed.state == "Held up" and failed.next is None
    withdrawn = summarise(facts(attempt(1, State.WITHDRAWN)), now=NOW)
    assert withdrawn.next is not None and withdrawn.next.label == "Start a new draft" and withdrawn.attempts_left == 3


def test_after_the_access_window_nothing_more_can_be_done():
    ended = date(2026, 11, 24)
    over = summarise(facts(attempt(1, State.NOT_YET, outcome="not_yet", sid="s1"), access_ends=ended), now=NOW)
    assert over.access_over and "Your access ended on 24 November 2026" in over.explanation
    assert over.resubmit_by is None and not over.plan_open
    assert over.next is not None and over.next.label == "Read your letter"
    never = summarise(facts(access_ends=date(2026, 11, 24)), now=NOW)
    assert never.next is None and not never.plan_open
