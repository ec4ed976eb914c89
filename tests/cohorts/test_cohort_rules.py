"""Cohorts' pure rules: milestones derived from stored facts, recent milestones, the look-back, and who sees whom."""

from __future__ import annotations

from datetime import date

import pytest

from credflow.cohorts.rules import (
    DaysError,
    Member,
    Milestone,
    Reached,
    WorkFacts,
    celebration_key,
    celebration_words,
    milestones,
    parse_days,
    peer_view,
    recent,
)

D = date(2026, 11, 1)


def reached(facts: WorkFacts) -> dict[Milestone, date]:
    return {r.milestone: r.on for r in milestones(facts)}


def test_no_facts_no_milestones():
    assert milestones(WorkFacts("a", "c")) == ()


def test_an_enrolment_alone_is_getting_started():
    assert reached(WorkFacts("a", "c", enrolled_on=D)) == {Milestone.STARTED: D}


def test_a_draft_before_the_enrolment_day_starts_earlier():
    assert reached(WorkFacts("a", "c", enrolled_on=date(2026, 11, 5), first_draft_on=D)) == {Milestone.STARTED: D}


def test_evidence_is_the_first_file_or_the_first_submission_whichever_came_first():
    facts = WorkFacts("a", "c", enrolled_on=D, first_file_on=date(2026, 11, 9), first_submitted_on=date(2026, 11, 7))
    assert reached(facts) == {Milestone.STARTED: D, Milestone.EVIDENCE: date(2026, 11, 7)}
    facts = WorkFacts("a", "c", enrolled_on=D, first_file_on=date(2026, 11, 3), first_submitted_on=date(2026, 11, 7))
    assert reached(facts)[Milestone.EVIDENCE] == date(2026, 11, 3)


def test_earning_is_the_earned_decision_or_the_badge_and_implies_starting():
    facts = WorkFacts("a", "c", badge_on=date(2026, 11, 9), earned_on=date(2026, 11, 8))
    assert reached(facts) == {Milestone.STARTED: date(2026, 11, 8), Milestone.EARNED: date(2026, 11, 8)}
    assert reached(WorkFacts("a", "c", badge_on=date(2026, 11, 9)))[Milestone.EARNED] == date(2026, 11, 9)


def test_a_not_yet_decision_is_no_earning():
    facts = WorkFacts("a", "c", enrolled_on=D, first_submitted_on=D)
    assert Milestone.EARNED not in reached(facts)


def test_recent_keeps_the_window_newest_first_and_later_milestones_first_on_one_day():
    day = date(2026, 11, 10)
    rows = [
        Reached("a", "c", Milestone.STARTED, day),
        Reached("a", "c", Milestone.EVIDENCE, day),
        Reached("b", "c", Milestone.STARTED, date(2026, 11, 2)),
        Reached("b", "c", Milestone.EVIDENCE, date(2026, 9, 1)),  # older than 60 days
        Reached("b", "c", Milestone.EARNED, date(2026, 11, 11)),  # after today: not yet reached
    ]
    found = recent(rows, today=day, days=60)
    assert [(r.applicant_id, r.milestone) for r in found] == [
        ("a", Milestone.EVIDENCE),
        ("a", Milestone.STARTED),
        ("b", Milestone.STARTED),
    ]
    assert recent(rows, today=day, days=8) == found[:2]  # 2 November is 8 days back: outside


@pytest.mark.parametrize(("text", "days"), [(None, 60), ("", 60), (" 30 ", 30), ("1", 1), ("366", 366)])
def test_the_look_back_defaults_to_60_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["0", "367", "-5", "ten", "1e3", "3.5", "99999"])
def test_a_look_back_out_of_range_names_the_problem(text):
    with pytest.raises(DaysError, match="whole number from 1 to 366"):
        parse_days(text)


def member(applicant_id: str, *, consented: bool, name: str | None = None) -> Member:
    return Member(applicant_id, name or applicant_id.title(), "Org", f"{applicant_id}@example.org", consented)


def test_someone_who_did_not_consent_sees_nobody_but_learns_how_many_would_connect():
    view = peer_view("me", [member("me", consented=False), member("ben", consented=True), member("cy", consented=True)])
    assert not view.consented
    assert view.peers == ()
    assert view.waiting == 2


def test_someone_who_consented_sees_only_the_others_who_consented():
    members = [
        member("me", consented=True),
        member("ben", consented=True, name="Ben"),
        member("al", consented=True, name="al"),
        member("cy", consented=False),
    ]
    view = peer_view("me", members)
    assert view.consented
    assert [p.applicant_id for p in view.peers] == ["al", "ben"]  # by name, whatever its case; never "me"
    assert all(p.consented for p in view.peers)


def test_withdrawing_hides_at_once_both_ways():
    before = [member("me", consented=True), member("ben", consented=True)]
    after = [member("me", consented=True), member("ben", consented=False)]
    assert [p.applicant_id for p in peer_view("me", before).peers] == ["ben"]
    assert peer_view("me", after).peers == ()
    assert peer_view("ben", after).peers == () and peer_view("ben", after).waiting == 1


def test_celebration_keys_are_one_per_milestone_and_the_words_name_what_was_done():
    keys = {celebration_key("a", "c", m) for m in Milestone}
    assert len(keys) == 3
    assert celebration_key("a", "c", Milestone.EARNED) == "celebration:a:c:earned"
    assert celebration_words(Milestone.EVIDENCE)[0] == "you uploaded your first evidence for"
    assert Milestone.STARTED.label == "Getting started"
