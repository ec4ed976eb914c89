"""Reviewer assignment: each eligibility rule by name, load balance, waiting, preferences, determinism, shortfalls."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from credflow.assignment.models import (
    AssignmentError,
    AssignmentPolicy,
    Exclusion,
    Reviewer,
    Shortfall,
    WaitingSubmission,
)
from credflow.assignment.rules import eligible_pairs, exclusions
from credflow.assignment.solver import load_costs, pair_cost, solve

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = AssignmentPolicy(today=TODAY, now=NOW)
CRED = "openscied-facilitating-discussions"


def reviewer(rid: str = "r1", **changes) -> Reviewer:
    """An eligible reviewer for CRED unless ``changes`` say otherwise."""
    base = Reviewer(
        id=rid,
        name=f"Reviewer {rid}",
        email=f"{rid}@reviewers.org",
        organisation=f"Org of {rid}",
        certified=frozenset({CRED}),
        calibrated_on=TODAY - timedelta(days=30),
        capacity=10,
        active=0,
    )
    return replace(base, **changes)


def submission(sid: str = "s1", **changes) -> WaitingSubmission:
    """A submission of CRED needing one reviewer, waiting for a day, unless ``changes`` say otherwise."""
    base = WaitingSubmission(
        id=sid,
        credential_id=CRED,
        applicant_email="ana.alvarez@example.org",
        organisation="Riverside Unified",
        needed=1,
        waiting_since=NOW - timedelta(days=1),
    )
    return replace(base, **changes)


def names(found: list[Exclusion]) -> list[str]:
    return [e.constraint for e in found]


# --- eligibility, one rule at a time -------------------------------------------------------------

RULES = [
    pytest.param(
        reviewer(certified=frozenset({"other"})),
        submission(),
        POLICY,
        "certification",
        f"not certified for {CRED}",
        id="certification",
    ),
    pytest.param(
        reviewer(calibrated_on=None), submission(), POLICY, "calibration", "never calibrated", id="never-calibrated"
    ),
    pytest.param(
        reviewer(calibrated_on=date(2025, 1, 2)),
        submission(),
        replace(POLICY, today=date(2026, 1, 2)),
        "calibration",
        "calibration from 2025-01-02 lapsed on 2026-01-02",
        id="calibration-expired",
    ),
    pytest.param(
        reviewer(capacity=4, active=4),
        submission(),
        POLICY,
        "capacity",
        "no free capacity: 4 of 4 assignments active",
        id="capacity",
    ),
    pytest.param(
        reviewer(unavailable=((date(2026, 11, 20), date(2026, 12, 1)),)),
        submission(),
        POLICY,
        "availability",
        "unavailable 2026-11-20 to 2026-12-01",
        id="availability",
    ),
    pytest.param(
        reviewer(email=" Ana.Alvarez@EXAMPLE.org"),
        submission(),
        POLICY,
        "conflict_self",
        "the reviewer is the applicant",
        id="self",
    ),
    pytest.param(
        reviewer(organisation="  riverside\tUNIFIED "),
        submission(organisation="Riverside  Unified"),
        POLICY,
        "conflict_organisation",
        "same organisation: Riverside Unified",
        id="organisation",
    ),
    pytest.param(
        reviewer(relations=frozenset({"ana.alvarez@example.org"})),
        submission(applicant_email="Ana.Alvarez@example.org"),
        POLICY,
        "conflict_relation",
        "declared relation with the applicant",
        id="relation",
    ),
    pytest.param(
        reviewer(),
        submission(excluded=frozenset({"r1"})),
        POLICY,
        "excluded",
        "already assigned, declined, or reviewed an earlier attempt",
        id="excluded",
    ),
]


@pytest.mark.parametrize(("rev", "sub", "policy", "constraint", "detail"), RULES)
def test_each_rule_excludes_with_its_name_and_the_solver_honours_it(rev, sub, policy, constraint, detail):
    assert exclusions(rev, sub, policy) == [Exclusion(constraint, detail)]
    result = solve([sub], [rev], policy)
    assert result.pairs == ()
    assert result.unassigned[sub.id].candidates == {rev.id: (Exclusion(constraint, detail),)}
    # The same reviewer without the offending fact is eligible.
    assert exclusions(reviewer(), submission(), POLICY) == []


def test_calibration_is_valid_until_the_day_before_its_anniversary():
    rev = reviewer(calibrated_on=date(2025, 1, 2))
    assert exclusions(rev, submission(), replace(POLICY, today=date(2026, 1, 1))) == []
    assert names(exclusions(rev, submission(), replace(POLICY, today=date(2026, 1, 2)))) == ["calibration"]
    assert exclusions(rev, submission(), replace(POLICY, today=date(2026, 1, 2), calibration_valid_years=2)) == []


def test_a_calibration_lapses_on_its_anniversary_across_a_leap_year_not_after_365_days():
    rev = reviewer(calibrated_on=date(2027, 3, 11))
    # 365 days after 2027-03-11 is 2028-03-10 (2028 has a 29 February): still valid that day.
    assert exclusions(rev, submission(), replace(POLICY, today=date(2028, 3, 10))) == []
    found = exclusions(rev, submission(), replace(POLICY, today=date(2028, 3, 11)))
    assert found == [Exclusion("calibration", "calibration from 2027-03-11 lapsed on 2028-03-11")]


def test_a_leap_day_calibration_holds_through_28_february_and_lapses_on_1_march():
    rev = reviewer(calibrated_on=date(2028, 2, 29))
    assert exclusions(rev, submission(), replace(POLICY, today=date(2029, 2, 28))) == []
    assert names(exclusions(rev, submission(), replace(POLICY, today=date(2029, 3, 1)))) == ["calibration"]


def test_unavailable_periods_are_inclusive_and_the_review_window_looks_ahead():
    rev = reviewer(unavailable=((date(2026, 11, 26), date(2026, 12, 1)),))
    assert exclusions(rev, submission(), POLICY) == []  # leave starts tomorrow; without a window only today counts
    found = exclusions(rev, submission(), replace(POLICY, review_until=date(2026, 12, 2)))
    assert found == [
        Exclusion("availability", "unavailable 2026-11-26 to 2026-12-01, within the review window to 2026-12-02")
    ]
    # Leave that starts the day after the due date does not stand in the way.
    assert exclusions(rev, submission(), replace(POLICY, review_until=date(2026, 11, 25))) == []
    assert names(exclusions(rev, submission(), replace(POLICY, today=date(2026, 12, 1)))) == ["availability"]
    assert exclusions(rev, submission(), replace(POLICY, today=date(2026, 12, 2))) == []


def test_a_blank_organisation_is_not_a_shared_one():
    assert exclusions(reviewer(organisation=" "), submission(organisation=""), POLICY) == []


def test_every_reason_is_listed_in_a_stable_order():
    rev = reviewer(
        email="ana.alvarez@example.org",
        organisation="Riverside Unified",
        certified=frozenset(),
        calibrated_on=None,
        capacity=1,
        active=1,
        unavailable=((TODAY, TODAY),),
        relations=frozenset({"ana.alvarez@example.org"}),
    )
    found = exclusions(rev, submission(excluded=frozenset({"r1"})), POLICY)
    assert names(found) == [
        "certification",
        "calibration",
        "capacity",
        "availability",
        "conflict_self",
        "conflict_organisation",
        "conflict_relation",
        "excluded",
    ]


def test_the_bulk_eligibility_equals_the_per_pair_rules():
    rng = random.Random(7)
    subs, revs = _random_instance(rng, 40, 25)
    subs.sort(key=lambda s: s.id)
    revs.sort(key=lambda r: r.id)
    pairs = eligible_pairs(subs, revs, POLICY)
    bulk = set(zip(pairs.submission.tolist(), pairs.reviewer.tolist(), strict=True))
    assert len(bulk) == pairs.submission.size
    slow = {
        (i, j) for i, s in enumerate(subs) for j, r in enumerate(revs) if s.needed > 0 and not exclusions(r, s, POLICY)
    }
    assert bulk == slow
    assert any(pairs.preferred)
    for i, j, preferred in zip(pairs.submission, pairs.reviewer, pairs.preferred, strict=True):
        assert bool(preferred) == (revs[j].id in subs[i].preferred)


# --- the solver's choices ------------------------------------------------------------------------


def test_load_is_balanced_between_equal_reviewers():
    subs = [submission(f"s{n}") for n in range(4)]
    result = solve(subs, [reviewer("r1"), reviewer("r2")], POLICY)
    assert {rid: len(sids) for rid, sids in result.by_reviewer().items()} == {"r1": 2, "r2": 2}
    assert result.unassigned == {}
    # 4 pairs at base cost 1000 - 10 (one day waiting), plus loads 100 + 200 for each reviewer.
    assert result.cost == 4 * 990 + 2 * (100 + 200)


def test_the_cost_helpers_state_the_costs_the_solver_minimises():
    preferred = submission("s-pref", waiting_since=NOW - timedelta(days=3), preferred=frozenset({"r1"}))
    assert pair_cost(preferred, "r1", POLICY) == 1000 - 30 - 800
    assert pair_cost(preferred, "r2", POLICY) == 1000 - 30
    assert load_costs(reviewer(capacity=5, active=2), POLICY) == [300, 400, 500]
    assert load_costs(reviewer(capacity=2, active=3), POLICY) == []
    result = solve([preferred], [reviewer("r1", capacity=5, active=2)], POLICY)
    assert result.cost == pair_cost(preferred, "r1", POLICY) + 300


def test_assignments_already_held_count_toward_the_balance():
    subs = [submission(f"s{n}") for n in range(3)]
    result = solve(subs, [reviewer("busy", active=3), reviewer("idle")], POLICY)
    assert result.by_reviewer() == {"idle": ["s0", "s1", "s2"]}


def test_waiting_time_breaks_ties_toward_the_older_submission_when_capacity_is_short():
    older = submission("s-b", waiting_since=NOW - timedelta(days=9))
    newer = submission("s-a", waiting_since=NOW - timedelta(days=2))
    result = solve([newer, older], [reviewer(capacity=1)], POLICY)
    assert result.pairs == (("s-b", "r1"),)
    assert list(result.unassigned) == ["s-a"]
    assert result.unassigned["s-a"].candidates == {
        "r1": (Exclusion("capacity_taken", "eligible, but their free capacity went to other submissions this round"),)
    }


def test_the_waiting_bonus_is_capped():
    # Both have waited past the cap (50 days at 10 a day), so neither outranks the other by waiting.
    a = submission("s-a", waiting_since=NOW - timedelta(days=400))
    b = submission("s-b", waiting_since=NOW - timedelta(days=60))
    result = solve([a, b], [reviewer()], POLICY)
    assert result.cost == 2 * (1000 - 500) + 100 + 200


def test_the_same_policy_prefers_earlier_reviewers_even_when_they_are_busier():
    sub = submission(preferred=frozenset({"earlier"}))
    result = solve([sub], [reviewer("earlier", active=3), reviewer("fresh")], POLICY)
    assert result.pairs == (("s1", "earlier"),)


def test_a_preference_is_not_a_requirement():
    sub = submission(needed=2, preferred=frozenset({"earlier"}))
    result = solve([sub], [reviewer("earlier", calibrated_on=None), reviewer("fresh")], POLICY)
    assert result.pairs == (("s1", "fresh"),)
    assert result.unassigned["s1"].chosen == ("fresh",)


def test_a_submission_gets_distinct_reviewers():
    result = solve([submission(needed=2)], [reviewer(capacity=5)], POLICY)
    assert result.pairs == (("s1", "r1"),)
    shortfall = result.unassigned["s1"]
    assert (shortfall.needed, shortfall.assigned, shortfall.chosen) == (2, 1, ("r1",))
    assert shortfall.candidates == {}
    assert "1 of 2 reviewers found" in shortfall.explain()


def test_submissions_needing_nobody_are_ignored():
    result = solve([submission(needed=0)], [reviewer()], POLICY)
    assert (result.pairs, result.cost, result.unassigned) == ((), 0, {})


def test_an_empty_round_is_an_empty_result():
    assert solve([], [], POLICY).pairs == ()
    assert list(solve([submission()], [], POLICY).unassigned) == ["s1"]


def test_duplicate_ids_are_refused():
    with pytest.raises(AssignmentError, match="duplicate submission ids: s1"):
        solve([submission(), submission()], [reviewer()], POLICY)
    with pytest.raises(AssignmentError, match="duplicate reviewer ids: r1"):
        solve([submission()], [reviewer(), reviewer()], POLICY)


def test_what_can_be_assigned_is_assigned_when_another_submission_is_blocked():
    blocked = submission("s-blocked", credential_id="nobody-certified")
    fine = submission("s-fine", needed=2)
    result = solve([blocked, fine], [reviewer("r1"), reviewer("r2")], POLICY)
    assert result.pairs == (("s-fine", "r1"), ("s-fine", "r2"))
    assert list(result.unassigned) == ["s-blocked"]


# --- determinism ----------------------------------------------------------------------------------


def _random_instance(rng: random.Random, n_subs: int, n_revs: int):
    creds = ["c1", "c2", "c3"]
    orgs = ["North", "South", " north ", "East"]
    emails = [f"a{n}@example.org" for n in range(n_subs)]
    revs = [
        Reviewer(
            id=f"r{n:02d}",
            name=f"R{n}",
            email=f"r{n}@x.org" if rng.random() < 0.9 else rng.choice(emails),
            organisation=rng.choice(orgs),
            certified=frozenset(rng.sample(creds, rng.randint(1, 3))),
            calibrated_on=rng.choice([None, TODAY - timedelta(days=400), *[TODAY - timedelta(days=10)] * 4]),
            capacity=rng.randint(0, 5),
            active=rng.randint(0, 2),
            unavailable=((TODAY, TODAY),) if rng.random() < 0.1 else (),
            relations=frozenset(rng.sample(emails, 2)) if rng.random() < 0.3 else frozenset(),
        )
        for n in range(n_revs)
    ]
    subs = [
        WaitingSubmission(
            id=f"s{n:03d}",
            credential_id=rng.choice(creds),
            applicant_email=emails[n],
            organisation=rng.choice(orgs),
            needed=rng.randint(0, 2),
            waiting_since=NOW - timedelta(hours=rng.randint(0, 24 * 30)),
            excluded=frozenset({f"r{rng.randrange(n_revs):02d}"}) if rng.random() < 0.2 else frozenset(),
            preferred=frozenset({f"r{rng.randrange(n_revs):02d}"}) if rng.random() < 0.3 else frozenset(),
        )
        for n in range(n_subs)
    ]
    return subs, revs


def test_the_same_input_in_any_order_gives_the_same_result():
    subs, revs = _random_instance(random.Random(3), 60, 20)
    first = solve(subs, revs, POLICY)
    again = solve(subs, revs, POLICY)
    rng = random.Random(11)
    shuffled_subs, shuffled_revs = subs[:], revs[:]
    rng.shuffle(shuffled_subs)
    rng.shuffle(shuffled_revs)
    shuffled = solve(shuffled_subs, shuffled_revs, POLICY)
    assert first.pairs  # the instance is neither trivial ...
    assert first.unassigned  # ... nor fully served
    for other in (again, shuffled):
        assert other.pairs == first.pairs
        assert other.cost == first.cost
        assert other.unassigned == first.unassigned
        assert [s.explain() for s in other.unassigned.values()] == [s.explain() for s in first.unassigned.values()]


# --- explanations ----------------------------------------------------------------------------------


def test_an_infeasible_submission_is_explained_reviewer_by_reviewer():
    sub = submission(needed=2, organisation="Riverside Unified")
    revs = [
        reviewer("r-colleague", organisation="Riverside Unified"),
        reviewer("r-new", calibrated_on=None),
        reviewer("r-full", capacity=4, active=4),
        reviewer("r-other", certified=frozenset({"another-credential"})),
    ]
    result = solve([sub], revs, POLICY)
    assert result.pairs == ()
    shortfall = result.unassigned["s1"]
    assert (shortfall.needed, shortfall.assigned) == (2, 0)
    assert {rid: [e.constraint for e in reasons] for rid, reasons in shortfall.candidates.items()} == {
        "r-colleague": ["conflict_organisation"],
        "r-new": ["calibration"],
        "r-full": ["capacity"],
        "r-other": ["certification"],
    }
    assert shortfall.explain().splitlines() == [
        f"Submission s1 ({CRED}): 0 of 2 reviewers found.",
        "  r-colleague: conflict_organisation: same organisation: Riverside Unified",
        "  r-full: capacity: no free capacity: 4 of 4 assignments active",
        "  r-new: calibration: never calibrated",
        f"  r-other: certification: not certified for {CRED}",
    ]


def test_a_partly_served_submission_names_who_was_assigned():
    sub = submission(needed=2)
    result = solve([sub], [reviewer("r1"), reviewer("r2", calibrated_on=None)], POLICY)
    lines = result.unassigned["s1"].explain().splitlines()
    assert lines == [
        f"Submission s1 ({CRED}): 1 of 2 reviewers found.",
        "  assigned: r1",
        "  r2: calibration: never calibrated",
    ]


def test_many_reviewers_with_the_same_reasons_are_grouped():
    revs = [reviewer(f"r{n:03d}", certified=frozenset({"x"})) for n in range(412)]
    revs += [reviewer(f"f{n}", capacity=n + 1, active=n + 1) for n in range(3)]
    revs.append(reviewer("colleague", organisation="Riverside Unified"))
    result = solve([submission()], revs, POLICY)
    lines = result.unassigned["s1"].explain().splitlines()
    assert lines == [
        f"Submission s1 ({CRED}): 0 of 1 reviewers found.",
        f"  412 reviewers: certification: not certified for {CRED} [r000, r001, r002, r003, r004, …]",
        "  3 reviewers: capacity: no free capacity: 1 of 1 assignments active (and 2 other variants) [f0, f1, f2]",
        "  colleague: conflict_organisation: same organisation: Riverside Unified",
    ]


def test_a_shortfall_built_by_hand_explains_itself():
    shortfall = Shortfall("s9", 2, 0, {"r1": (Exclusion("excluded", "declined"),)})
    assert shortfall.explain() == "Submission s9: 0 of 2 reviewers found.\n  r1: excluded: declined"
    assert "no other reviewers exist" in Shortfall("s9", 1, 0, {}).explain()
