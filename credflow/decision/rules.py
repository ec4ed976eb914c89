"""The decision's pure rules: split criteria, the conjunctive verdict with its provenance, back-reads, the lead."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from credflow.assignment.models import AssignmentPolicy, Reviewer, WaitingSubmission
from credflow.assignment.rules import exclusions
from credflow.catalog.models import Credential
from credflow.lifecycle import State


class Review(Protocol):
    """What the rules read of a submitted review or adjudication."""

    @property
    def id(self) -> str: ...

    @property
    def scores(self) -> dict[str, Any]: ...


def is_backread(submission_id: str, share: float) -> bool:
    """Deterministic sample: the same submission is always in or out for the same share."""
    digest = int(hashlib.sha256(f"backread:{submission_id}".encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < share


def split_criteria(credential: Credential, reviews: Sequence[Review]) -> list[str]:
    """Criteria on which the reviews disagree."""
    return [c.key for c in credential.criteria if len({r.scores.get(c.key, {}).get("verdict") for r in reviews}) > 1]


def decide(credential: Credential, reviews: Sequence[Review], adjudication: Review | None) -> dict[str, Any]:
    """Final verdict per criterion with its provenance; the rule is conjunctive (all Met to earn)."""
    criteria: dict[str, Any] = {}
    for criterion in credential.criteria:
        verdicts = {r.scores[criterion.key]["verdict"] for r in reviews}
        entry: dict[str, Any] = {"reviews": [r.id for r in reviews]}
        if len(verdicts) == 1:
            entry |= {"verdict": verdicts.pop(), "source": "reviews"}
        else:
            assert adjudication is not None, f"criterion {criterion.key} is split and not adjudicated"
            entry |= {
                "verdict": adjudication.scores[criterion.key]["verdict"],
                "source": "adjudication",
                "adjudication": adjudication.id,
            }
        criteria[criterion.key] = entry
    return criteria


def outcome_of(criteria: Mapping[str, Any]) -> State:
    """The conjunctive rule: earned when every criterion of :func:`decide`'s verdict is Met, else Not Yet."""
    return State.EARNED if all(v["verdict"] == "met" for v in criteria.values()) else State.NOT_YET


def choose_lead(candidates: Sequence[Reviewer], submission: WaitingSubmission, policy: AssignmentPolicy) -> str | None:
    """The least busy lead reviewer eligible for ``submission`` (ties by id), or None when there is none."""
    leads = [c for c in candidates if c.is_lead and not exclusions(c, submission, policy)]
    if not leads:
        return None
    return min(leads, key=lambda c: (c.active, c.id)).id
