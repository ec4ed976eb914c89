"""The decision's pure rules without a database: split criteria, provenance, the conjunctive outcome, the lead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from credflow.assignment.models import AssignmentPolicy, Reviewer, WaitingSubmission
from credflow.catalog import load_catalog
from credflow.decision.rules import choose_lead, decide, is_backread, outcome_of, split_criteria
from credflow.lifecycle import State
from tests.conftest import ROOT

CRED = "udl-level-1"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def credential():
    return load_catalog(ROOT / "rubrics").get(CRED)


def review(rid: str, verdicts: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(id=rid, scores={key: {"verdict": v, "comment": ""} for key, v in verdicts.items()})


def all_of(credential, verdict: str) -> dict[str, str]:
    return {c.key: verdict for c in credential.criteria}


def test_agreeing_reviews_decide_alone_and_all_met_earns(credential):
    reviews = [review("a", all_of(credential, "met")), review("b", all_of(credential, "met"))]
    assert split_criteria(credential, reviews) == []
    criteria = decide(credential, reviews, None)
    assert {entry["source"] for entry in criteria.values()} == {"reviews"}
    assert all(entry["reviews"] == ["a", "b"] for entry in criteria.values())
    assert outcome_of(criteria) is State.EARNED


def test_a_split_criterion_takes_the_adjudicators_verdict_and_one_not_yet_is_not_yet(credential):
    first = credential.criteria[0].key
    other = {**all_of(credential, "met"), first: "not_yet"}
    reviews = [review("a", all_of(credential, "met")), review("b", other)]
    assert split_criteria(credential, reviews) == [first]
    criteria = decide(credential, reviews, review("lead", {first: "not_yet"}))
    adjudicated = {"verdict": "not_yet", "source": "adjudication", "adjudication": "lead"}
    assert criteria[first] == {"reviews": ["a", "b"], **adjudicated}
    assert outcome_of(criteria) is State.NOT_YET


def test_the_back_read_sample_is_stable_and_near_its_share():
    sample = [is_backread(f"{i:032x}", 0.25) for i in range(2000)]
    assert sample == [is_backread(f"{i:032x}", 0.25) for i in range(2000)]
    assert 0.2 < sum(sample) / len(sample) < 0.3
    assert not any(is_backread(f"{i:032x}", 0.0) for i in range(200))


def test_the_least_busy_eligible_lead_is_chosen():
    def lead(rid: str, **changes) -> Reviewer:
        values: dict[str, Any] = {
            "id": rid,
            "name": rid,
            "email": f"{rid}@reviewers.org",
            "organisation": f"Org of {rid}",
            "certified": frozenset({CRED}),
            "calibrated_on": date(2026, 10, 1),
            "capacity": 10,
            "active": 1,
            "is_lead": True,
        } | changes
        return Reviewer(**values)

    waiting = WaitingSubmission(
        id="s1",
        credential_id=CRED,
        applicant_email="ana@example.org",
        organisation="Riverside Unified",
        needed=1,
        waiting_since=NOW - timedelta(days=1),
        excluded=frozenset({"excluded"}),
    )
    policy = AssignmentPolicy(today=NOW.date(), now=NOW)
    # Fewest active first, ties by id; never a non-lead, nor a reviewer the submission excludes.
    pool = [lead("b", active=3), lead("a", active=3), lead("plain", active=0, is_lead=False)]
    pool.append(lead("excluded", active=0))
    assert choose_lead(pool, waiting, policy) == "a"
    assert choose_lead([lead("x", certified=frozenset())], waiting, policy) is None
