"""Assign reviewers to waiting submissions as a min-cost maximum flow (OR-Tools), explaining every shortfall."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
from ortools.graph.python import min_cost_flow  # type: ignore[import-untyped]

from credflow.assignment.models import (
    AssignmentError,
    AssignmentPolicy,
    AssignmentResult,
    Reviewer,
    Shortfall,
    WaitingSubmission,
)
from credflow.assignment.rules import Explainer, Int32Array, IntArray, eligible_pairs

_DAY = timedelta(days=1)


def wait_bonus(submission: WaitingSubmission, policy: AssignmentPolicy) -> int:
    """The cost taken off a submission's pairs for the whole days it has waited, capped.

    Args:
        submission: The waiting submission.
        policy: The round's policy (``now``, bonus per day, cap).

    Returns:
        ``min(wait_bonus_per_day * days, max_wait_bonus)``; 0 for a submission dated in the future.
    """
    days = max(0, (policy.now - submission.waiting_since) // _DAY)
    return min(policy.wait_bonus_per_day * days, policy.max_wait_bonus)


def pair_cost(submission: WaitingSubmission, reviewer_id: str, policy: AssignmentPolicy) -> int:
    """The cost of one (submission, reviewer) arc, before the reviewer's load cost.

    Args:
        submission: The waiting submission.
        reviewer_id: The reviewer's id (only whether it is preferred matters).
        policy: The round's policy.

    Returns:
        ``base_cost`` minus the waiting bonus, minus ``preferred_bonus`` for a preferred reviewer.
    """
    bonus = policy.preferred_bonus if reviewer_id in submission.preferred else 0
    return policy.base_cost - wait_bonus(submission, policy) - bonus


def load_costs(reviewer: Reviewer, policy: AssignmentPolicy) -> list[int]:
    """The cost of each extra assignment the reviewer can take this round, in order.

    The k-th extra assignment (k from 1) costs ``load_step * (active + k)``: the reviewer's load
    after taking it. The costs rise, so the solver spreads work (HotCRP's convex load cost).

    Args:
        reviewer: The reviewer.
        policy: The round's policy.

    Returns:
        One cost per free slot; empty when the reviewer has no free capacity.
    """
    return [policy.load_step * (reviewer.active + k) for k in range(1, reviewer.free + 1)]


def _unique_by_id(items: Sequence[WaitingSubmission] | Sequence[Reviewer], kind: str) -> None:
    duplicates = sorted(item_id for item_id, count in Counter(item.id for item in items).items() if count > 1)
    if duplicates:
        raise AssignmentError(f"duplicate {kind} ids: {', '.join(duplicates[:10])}")


def solve(
    submissions: Sequence[WaitingSubmission],
    reviewers: Sequence[Reviewer],
    policy: AssignmentPolicy,
) -> AssignmentResult:
    """Choose reviewers for the waiting submissions: as many assignments as possible, at least cost.

    The network is source -> submission (capacity ``needed``) -> eligible reviewer (capacity 1,
    so a submission's reviewers are distinct; cost from :func:`pair_cost`) -> reviewer's slots
    -> sink, one unit arc per free slot costing :func:`load_costs`. OR-Tools first finds the
    maximum flow, then the cheapest among maximum flows, so an instance that cannot be fully
    served still assigns everything it can. Inputs are sorted by id before the network is built
    and nothing is random, so the same input (in any order) gives the same result.

    Args:
        submissions: Waiting submissions; those needing 0 are ignored.
        reviewers: Candidate reviewers.
        policy: Eligibility rules and cost weights.

    Returns:
        The pairs, the total cost and a :class:`Shortfall` for every submission that got fewer
        reviewers than it needed, with each other reviewer's reasons.

    Raises:
        AssignmentError: Duplicate submission or reviewer ids, or the solver refused the instance
            (for example costs out of range).
    """
    started = time.perf_counter()
    _unique_by_id(submissions, "submission")
    _unique_by_id(reviewers, "reviewer")
    subs = sorted(submissions, key=lambda s: s.id)
    revs = sorted(reviewers, key=lambda r: r.id)
    n_subs, n_revs = len(subs), len(revs)

    candidates = eligible_pairs(subs, revs, policy)
    sub_index, rev_index = candidates.submission, candidates.reviewer
    needed = np.fromiter((max(0, s.needed) for s in subs), dtype=np.int64, count=n_subs)
    total_needed = int(needed.sum())

    # Node numbers: 0 source, 1..S submissions, S+1..S+R reviewers, S+R+1 sink.
    source, sink = 0, n_subs + n_revs + 1
    sub_offset, rev_offset = 1, n_subs + 1

    bonus = np.fromiter((wait_bonus(s, policy) for s in subs), dtype=np.int64, count=n_subs)
    costs = policy.base_cost - bonus[sub_index]
    costs -= policy.preferred_bonus * candidates.preferred.astype(np.int64)

    # Only reviewers who appear in some pair need slots: others could never carry flow.
    used = np.zeros(n_revs, dtype=np.bool_)
    used[rev_index] = True
    free = np.fromiter((r.free for r in revs), dtype=np.int64, count=n_revs) * used
    active = np.fromiter((r.active for r in revs), dtype=np.int64, count=n_revs)
    slot_rev = np.repeat(np.arange(n_revs, dtype=np.int32), free)
    slot_k = np.arange(slot_rev.size, dtype=np.int64) - np.repeat(np.cumsum(free) - free, free) + 1
    slot_cost = policy.load_step * (active[slot_rev] + slot_k)

    source_subs = np.flatnonzero(needed > 0).astype(np.int32)
    n_source, n_pairs, n_slots = source_subs.size, sub_index.size, slot_rev.size
    tails = np.concatenate(
        [np.full(n_source, source, np.int32), sub_index + np.int32(sub_offset), slot_rev + np.int32(rev_offset)]
    )
    heads = np.concatenate(
        [source_subs + np.int32(sub_offset), rev_index + np.int32(rev_offset), np.full(n_slots, sink, np.int32)]
    )
    capacities = np.concatenate([needed[source_subs], np.ones(n_pairs + n_slots, np.int64)])
    unit_costs = np.concatenate([np.zeros(n_source, np.int64), costs, slot_cost])

    flow_of_pair = np.zeros(n_pairs, dtype=np.int64)
    cost = 0
    built = time.perf_counter()
    if total_needed and sub_index.size:
        # Cost scaling runs one phase per bit of the largest cost: dividing every cost by their common
        # divisor (10 with the default weights) saves phases and changes no choice.
        divisor = max(1, int(np.gcd.reduce(np.abs(unit_costs))))
        network = min_cost_flow.SimpleMinCostFlow()
        arcs = network.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, unit_costs // divisor)
        network.set_node_supply(source, total_needed)
        network.set_node_supply(sink, -total_needed)
        built = time.perf_counter()
        status = network.solve_max_flow_with_min_cost()
        if status != min_cost_flow.SimpleMinCostFlow.OPTIMAL:
            raise AssignmentError(f"the min-cost-flow solver answered {status.name} for {n_pairs} pairs")
        pair_arcs = np.asarray(arcs, dtype=np.int32)[n_source : n_source + n_pairs]
        flow_of_pair = np.asarray(network.flows(pair_arcs), dtype=np.int64)
        cost = int(network.optimal_cost()) * divisor
    solved = time.perf_counter()

    chosen = flow_of_pair > 0
    chosen_subs, chosen_revs = sub_index[chosen], rev_index[chosen]
    pairs = tuple(
        sorted((subs[i].id, revs[j].id) for i, j in zip(chosen_subs.tolist(), chosen_revs.tolist(), strict=True))
    )
    unassigned = _shortfalls(subs, revs, policy, needed, chosen_subs, chosen_revs)
    explained = time.perf_counter()

    stats = {
        "submissions": float(n_subs),
        "reviewers": float(n_revs),
        "eligible_pairs": float(n_pairs),
        "arcs": float(tails.size),
        "build_s": built - started,
        "solve_s": solved - built,
        "explain_s": explained - solved,
    }
    return AssignmentResult(pairs=pairs, cost=cost, unassigned=unassigned, stats=stats)


def _shortfalls(
    subs: Sequence[WaitingSubmission],
    revs: Sequence[Reviewer],
    policy: AssignmentPolicy,
    needed: IntArray,
    chosen_subs: Int32Array,
    chosen_revs: Int32Array,
) -> dict[str, Shortfall]:
    got = np.bincount(chosen_subs, minlength=len(subs)) if len(subs) else np.zeros(0, dtype=np.int64)
    short = np.flatnonzero(got < needed)
    if short.size == 0:
        return {}
    chosen_by_sub: dict[int, list[str]] = defaultdict(list)
    for i, j in zip(chosen_subs.tolist(), chosen_revs.tolist(), strict=True):
        chosen_by_sub[i].append(revs[j].id)
    explainer = Explainer(revs, policy)
    found: dict[str, Shortfall] = {}
    for i in short.tolist():
        submission = subs[i]
        chosen = tuple(sorted(chosen_by_sub.get(i, ())))
        found[submission.id] = Shortfall(
            submission_id=submission.id,
            needed=int(needed[i]),
            assigned=len(chosen),
            candidates=explainer.candidates(submission, chosen),
            chosen=chosen,
            credential_id=submission.credential_id,
        )
    return found
