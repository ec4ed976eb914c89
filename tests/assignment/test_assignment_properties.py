"""Properties of the assignment solver on random small rounds, checked against an independent networkx min-cost flow."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import networkx as nx  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credflow.assignment.models import AssignmentPolicy, AssignmentResult, Reviewer, WaitingSubmission
from credflow.assignment.rules import eligible_pairs, exclusions
from credflow.assignment.solver import solve

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
CREDENTIALS = ["c1", "c2", "c3"]
# Spellings that normalise to the same organisation must conflict; the blank one never does.
ORGANISATIONS = ["Org A", "  org   a ", "Org B", "ORG B", "Org C", "Org D", "Org E", ""]
APPLICANTS = [f"applicant{n}@example.org" for n in range(6)]
REVIEWER_IDS = [f"r{n}" for n in range(8)]

dates_near_today = st.integers(-40, 40).map(lambda d: TODAY + timedelta(days=d))


def sometimes(draw, rare, usual, *, percent: int):
    """Draw from ``rare`` about ``percent`` % of the time, else from ``usual``: keeps most pairs eligible."""
    return draw(rare) if draw(st.integers(0, 99)) < percent else draw(usual)


@st.composite
def periods(draw):
    first = draw(dates_near_today)
    return first, first + timedelta(days=draw(st.integers(0, 10)))


@st.composite
def reviewers(draw, index: int):
    rid = REVIEWER_IDS[index]
    capacity = sometimes(draw, st.just(0), st.integers(1, 4), percent=10)
    return Reviewer(
        id=rid,
        name=rid.upper(),
        # Sometimes the reviewer is also an applicant this round (any capitalisation).
        email=sometimes(
            draw, st.sampled_from([*APPLICANTS, APPLICANTS[0].upper()]), st.just(f"{rid}@r.org"), percent=15
        ),
        organisation=draw(st.sampled_from(ORGANISATIONS)),
        certified=draw(
            st.frozensets(st.sampled_from(CREDENTIALS), min_size=2, max_size=3)
            | st.frozensets(st.sampled_from(CREDENTIALS), max_size=1)
        ),
        calibrated_on=sometimes(
            draw,
            st.none() | st.integers(366, 500).map(lambda d: TODAY - timedelta(days=d)),
            st.integers(0, 364).map(lambda d: TODAY - timedelta(days=d)),
            percent=15,
        ),
        capacity=capacity,
        active=sometimes(
            draw, st.sampled_from([capacity, capacity + 1]), st.integers(0, max(0, capacity - 1)), percent=20
        ),
        unavailable=sometimes(draw, st.lists(periods(), min_size=1, max_size=2).map(tuple), st.just(()), percent=25),
        relations=sometimes(
            draw, st.frozensets(st.sampled_from(APPLICANTS), max_size=2), st.just(frozenset()), percent=25
        ),
        is_lead=draw(st.booleans()),
    )


@st.composite
def submissions(draw, index: int):
    some_reviewers = st.frozensets(st.sampled_from([*REVIEWER_IDS, "unknown-reviewer"]), max_size=3)
    return WaitingSubmission(
        id=f"s{index}",
        credential_id=draw(st.sampled_from(CREDENTIALS)),
        applicant_email=draw(st.sampled_from(APPLICANTS)),
        organisation=draw(st.sampled_from(ORGANISATIONS)),
        needed=draw(st.integers(0, 3)),
        waiting_since=NOW - timedelta(hours=draw(st.integers(-30, 24 * 70))),
        excluded=sometimes(draw, some_reviewers, st.just(frozenset()), percent=30),
        preferred=sometimes(draw, some_reviewers, st.just(frozenset()), percent=40),
    )


@st.composite
def rounds(draw):
    n_subs = sometimes(draw, st.just(0), st.integers(1, 8), percent=3)
    n_revs = sometimes(draw, st.just(0), st.integers(1, 8), percent=3)
    policy = AssignmentPolicy(
        today=TODAY,
        now=NOW,
        calibration_valid_years=sometimes(draw, st.just(2), st.just(1), percent=10),
        review_until=sometimes(draw, st.none(), st.integers(0, 9).map(lambda d: TODAY + timedelta(days=d)), percent=30),
        base_cost=draw(st.sampled_from([0, 7, 1000])),
        load_step=draw(st.sampled_from([0, 1, 100, 333])),
        wait_bonus_per_day=draw(st.sampled_from([0, 10, 13])),
        max_wait_bonus=draw(st.sampled_from([0, 100, 500])),
        preferred_bonus=draw(st.sampled_from([0, 800, 1500])),
    )
    subs = [draw(submissions(n)) for n in range(n_subs)]
    revs = [draw(reviewers(n)) for n in range(n_revs)]
    return subs, revs, policy


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- an independent formulation, from the rules as the brief states them ---------------------------


def days_waiting(sub: WaitingSubmission) -> int:
    return max(0, int((NOW - sub.waiting_since).total_seconds() // 86400))


def arc_cost(sub: WaitingSubmission, rev: Reviewer, policy: AssignmentPolicy) -> int:
    bonus = min(policy.wait_bonus_per_day * days_waiting(sub), policy.max_wait_bonus)
    return policy.base_cost - bonus - (policy.preferred_bonus if rev.id in sub.preferred else 0)


def extra_cost(rev: Reviewer, k: int, policy: AssignmentPolicy) -> int:
    return policy.load_step * (rev.active + k)


def reference(subs, revs, policy) -> tuple[int, int]:
    """Max flow value and its min cost, from networkx on a graph built here from `exclusions`."""
    graph = nx.DiGraph()
    graph.add_nodes_from(["source", "sink"])
    for sub in subs:
        if sub.needed <= 0:
            continue
        graph.add_edge("source", ("sub", sub.id), capacity=sub.needed, weight=0)
        for rev in revs:
            if not exclusions(rev, sub, policy):
                graph.add_edge(("sub", sub.id), ("rev", rev.id), capacity=1, weight=arc_cost(sub, rev, policy))
    for rev in revs:
        # DiGraph has no parallel arcs, so each free slot gets its own node on the way to the sink.
        for k in range(1, rev.capacity - rev.active + 1):
            graph.add_edge(("rev", rev.id), ("slot", rev.id, k), capacity=1, weight=extra_cost(rev, k, policy))
            graph.add_edge(("slot", rev.id, k), "sink", capacity=1, weight=0)
    flow = nx.max_flow_min_cost(graph, "source", "sink")
    return sum(flow["source"].values()), nx.cost_of_flow(graph, flow)


def cost_of(result: AssignmentResult, subs, revs, policy) -> int:
    """What the chosen pairs cost: arc costs plus, per reviewer, the rising cost of each extra assignment."""
    by_id_sub = {s.id: s for s in subs}
    by_id_rev = {r.id: r for r in revs}
    total = sum(arc_cost(by_id_sub[s], by_id_rev[r], policy) for s, r in result.pairs)
    for rid, count in Counter(r for _, r in result.pairs).items():
        total += sum(extra_cost(by_id_rev[rid], k, policy) for k in range(1, count + 1))
    return total


# --- properties --------------------------------------------------------------------------------------
# Generating a round costs more than solving it, so one test checks every property of each round; the
# checks stay separate functions to read and to fail by name.


def check_hard_constraints(result: AssignmentResult, subs, revs, policy) -> None:
    by_id_sub = {s.id: s for s in subs}
    by_id_rev = {r.id: r for r in revs}
    assert list(result.pairs) == sorted(set(result.pairs))  # sorted, and no reviewer twice on a submission
    for sid, rid in result.pairs:
        assert exclusions(by_id_rev[rid], by_id_sub[sid], policy) == []
    for sid, count in Counter(s for s, _ in result.pairs).items():
        assert count <= by_id_sub[sid].needed
    for rid, count in Counter(r for _, r in result.pairs).items():
        assert by_id_rev[rid].active + count <= by_id_rev[rid].capacity


def check_shortfalls(result: AssignmentResult, subs, revs, policy) -> None:
    per_sub = Counter(s for s, _ in result.pairs)
    per_rev = Counter(r for _, r in result.pairs)
    assert set(result.unassigned) == {s.id for s in subs if per_sub[s.id] < s.needed}
    for sub in subs:
        shortfall = result.unassigned.get(sub.id)
        if shortfall is None:
            continue
        chosen = {r for s, r in result.pairs if s == sub.id}
        assert (shortfall.needed, shortfall.assigned, set(shortfall.chosen)) == (sub.needed, len(chosen), chosen)
        assert set(shortfall.candidates) == {r.id for r in revs} - chosen
        text = shortfall.explain()
        for rev in revs:
            if rev.id in chosen:
                continue
            found = exclusions(rev, sub, policy)
            reasons = shortfall.candidates[rev.id]
            if found:
                assert list(reasons) == found
            else:
                # Eligible but not chosen: only possible when the reviewer's free capacity is used up.
                assert [e.constraint for e in reasons] == ["capacity_taken"]
                assert rev.active + per_rev[rev.id] == rev.capacity
            assert f"  {rev.id}: " in text


def check_bulk_eligibility(subs, revs, policy) -> None:
    subs = sorted(subs, key=lambda s: s.id)
    revs = sorted(revs, key=lambda r: r.id)
    pairs = eligible_pairs(subs, revs, policy)
    found = list(zip(pairs.submission.tolist(), pairs.reviewer.tolist(), strict=True))
    assert len(found) == len(set(found))
    expected = {
        (i, j) for i, s in enumerate(subs) for j, r in enumerate(revs) if s.needed > 0 and not exclusions(r, s, policy)
    }
    assert set(found) == expected
    assert [revs[j].id in subs[i].preferred for i, j in found] == pairs.preferred.tolist()


def check_optimality(result: AssignmentResult, subs, revs, policy) -> None:
    flow_value, flow_cost = reference(subs, revs, policy)
    assert len(result.pairs) == flow_value
    assert result.cost == flow_cost
    assert cost_of(result, subs, revs, policy) == result.cost


@PROPERTY_SETTINGS
@given(rounds(), st.randoms(use_true_random=False))
def test_assignments_are_valid_optimal_explained_and_independent_of_input_order(instance, rng):
    subs, revs, policy = instance
    result = solve(subs, revs, policy)
    check_hard_constraints(result, subs, revs, policy)
    check_optimality(result, subs, revs, policy)
    check_shortfalls(result, subs, revs, policy)
    check_bulk_eligibility(subs, revs, policy)
    shuffled_subs, shuffled_revs = list(subs), list(revs)
    rng.shuffle(shuffled_subs)
    rng.shuffle(shuffled_revs)
    again = solve(shuffled_subs, shuffled_revs, policy)
    assert (again.pairs, again.cost, again.unassigned) == (result.pairs, result.cost, result.unassigned)
