"""Reviewer assignment: eligibility with reasons, and a min-cost-flow solver that explains shortfalls."""

from credflow.assignment.eligibility import (
    CandidatePairs,
    Explainer,
    eligible_pairs,
    exclusions,
    normalise_email,
    normalise_organisation,
    pair_exclusions,
    standing_exclusions,
)
from credflow.assignment.models import (
    CONSTRAINTS,
    AssignmentError,
    AssignmentPolicy,
    AssignmentResult,
    CandidateReasons,
    Exclusion,
    Reviewer,
    Shortfall,
    WaitingSubmission,
)
from credflow.assignment.solver import load_costs, pair_cost, solve, wait_bonus

__all__ = [
    "CONSTRAINTS",
    "AssignmentError",
    "AssignmentPolicy",
    "AssignmentResult",
    "CandidatePairs",
    "CandidateReasons",
    "Exclusion",
    "Explainer",
    "Reviewer",
    "Shortfall",
    "WaitingSubmission",
    "eligible_pairs",
    "exclusions",
    "load_costs",
    "normalise_email",
    "normalise_organisation",
    "pair_cost",
    "pair_exclusions",
    "solve",
    "standing_exclusions",
    "wait_bonus",
]
