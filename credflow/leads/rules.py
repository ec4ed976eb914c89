"""The lead reviewers' pure rules: the back-read report, its filters, and time left on a lead's assignment.

A *back-read* is a lead reviewer's independent second look at a sample of decided submissions
(``Decision.backread``): they score every criterion again, blind to the decision. The report
compares, per criterion, the decision's final verdict with the back-read's verdict:

- overall: decision vs back-read over every (decision, criterion) unit, percent and Cohen's kappa,
  and how many decisions' outcome (earned / not yet) the back-read would have changed;
- per criterion: the same, one criterion at a time (a criterion read differently by the
  back-reader hints at unclear rubric wording);
- per original reviewer: each reviewer's own verdicts (and an adjudicator's on the criteria they
  settled) against the back-read's;
- drift flags: a reviewer or criterion agreeing with the back-read on less than
  ``drift_threshold`` of at least ``min_units`` units.

No database, no services: :mod:`credflow.leads.stage` loads the cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from credflow.reviewers.explain import MIN_SAMPLE
from credflow.reviewers.rules import cohen_kappa

__all__ = [
    "BackreadCase",
    "BackreadFilter",
    "BackreadReport",
    "CriterionAgreement",
    "Disagreement",
    "ReviewerDrift",
    "Tally",
    "backread_report",
    "time_left",
]

#: Agreement with the back-read below this share (over enough units) flags drift.
DRIFT_THRESHOLD = 0.8


@dataclass(frozen=True)
class BackreadCase:
    """One decided submission with its completed back-read.

    Attributes:
        submission_id: The submission.
        credential_id: Its micro-credential.
        decided_on: The day of the decision.
        decision: Criterion -> the decision's final verdict (``met`` / ``not_yet``).
        backread: Criterion -> the back-read's verdict.
        originals: Reviewer id -> criterion -> verdict, for the reviews the decision rests on and
            the adjudicator's verdicts on the criteria they settled.
        backreader: Who back-read it.
    """

    submission_id: str
    credential_id: str
    decided_on: date
    decision: Mapping[str, str]
    backread: Mapping[str, str]
    originals: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    backreader: str = ""


@dataclass(frozen=True)
class BackreadFilter:
    """Which back-read decisions a report covers: one micro-credential, decided within a period (inclusive)."""

    credential: str | None = None
    start: date | None = None
    end: date | None = None

    def admits(self, case: BackreadCase) -> bool:
        """Whether ``case`` falls within the filter."""
        if self.credential is not None and case.credential_id != self.credential:
            return False
        if self.start is not None and case.decided_on < self.start:
            return False
        return self.end is None or case.decided_on <= self.end


@dataclass(frozen=True)
class Tally:
    """Agreement of two sets of verdicts over the same units.

    Attributes:
        units: Units compared.
        agreed: Units with the same verdict.
        share: ``agreed / units``, or ``None`` with no unit.
        kappa: Cohen's kappa, or ``None`` when undefined (no unit, or one and the same verdict throughout).
    """

    units: int
    agreed: int
    share: float | None
    kappa: float | None

    @classmethod
    def of(cls, pairs: Sequence[tuple[bool, bool]]) -> Tally:
        """The tally of ``(first met, second met)`` pairs, with the agreement report's kappa (scikit-learn's)."""
        n = len(pairs)
        if n == 0:
            return cls(0, 0, None, None)
        agreed = sum(a == b for a, b in pairs)
        kappa = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
        return cls(n, agreed, agreed / n, kappa)


@dataclass(frozen=True)
class CriterionAgreement:
    """The decision against the back-read on one criterion of one micro-credential."""

    credential_id: str
    criterion: str
    tally: Tally
    drifting: bool


@dataclass(frozen=True)
class ReviewerDrift:
    """One original reviewer's verdicts against the back-read's.

    Attributes:
        reviewer_id: The reviewer.
        decisions: Back-read decisions they reviewed or adjudicated.
        tally: Their verdicts vs the back-read, every criterion they scored pooled.
        drifting: Agreement below the threshold over at least the minimum units.
    """

    reviewer_id: str
    decisions: int
    tally: Tally
    drifting: bool


@dataclass(frozen=True)
class Disagreement:
    """A back-read decision with criteria the back-reader saw differently."""

    submission_id: str
    credential_id: str
    decided_on: date
    criteria: tuple[str, ...]
    outcome_changes: bool
    backreader: str


@dataclass(frozen=True)
class BackreadReport:
    """The back-read report over the cases a filter admits.

    Attributes:
        decisions: Back-read decisions covered.
        overall: Decision vs back-read over every (decision, criterion) unit.
        outcomes_agreed: Decisions whose outcome (all Met or not) the back-read confirms.
        criteria: Per (micro-credential, criterion), sorted.
        reviewers: Per original reviewer, sorted by reviewer id.
        disagreements: Decisions with at least one criterion seen differently, newest first.
        drift_threshold: The share below which drift is flagged.
        min_units: The units needed before drift is flagged.
    """

    decisions: int
    overall: Tally
    outcomes_agreed: int
    criteria: list[CriterionAgreement]
    reviewers: list[ReviewerDrift]
    disagreements: list[Disagreement]
    drift_threshold: float
    min_units: int

    @property
    def drifting_reviewers(self) -> list[str]:
        """The reviewers flagged as drifting."""
        return [r.reviewer_id for r in self.reviewers if r.drifting]


def _drifts(tally: Tally, threshold: float, min_units: int) -> bool:
    return tally.share is not None and tally.units >= min_units and tally.share < threshold


def _met(verdict: str) -> bool:
    return verdict == "met"


def backread_report(
    cases: Iterable[BackreadCase],
    *,
    where: BackreadFilter | None = None,
    drift_threshold: float = DRIFT_THRESHOLD,
    min_units: int = MIN_SAMPLE,
) -> BackreadReport:
    """Compare each decision with its back-read, overall, per criterion and per original reviewer.

    A criterion the back-read did not score (or scored blank) is not compared. A reviewer's unit
    is one criterion they scored on a back-read decision.

    Args:
        cases: The decided submissions with a completed back-read.
        where: The filter (credential, period); default: every case.
        drift_threshold: Share in [0, 1] below which a reviewer or criterion drifts.
        min_units: Units (at least 1) needed before drift is flagged.

    Returns:
        The report; no case gives an empty report with undefined tallies.

    Raises:
        ValueError: ``drift_threshold`` outside [0, 1] or ``min_units`` below 1.
    """
    if not 0.0 <= drift_threshold <= 1.0:
        raise ValueError(f"drift_threshold must be within [0, 1], got {drift_threshold}")
    if min_units < 1:
        raise ValueError(f"min_units must be at least 1, got {min_units}")
    where = where or BackreadFilter()
    chosen = [case for case in cases if where.admits(case)]
    overall: list[tuple[bool, bool]] = []
    by_criterion: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    by_reviewer: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    reviewer_decisions: dict[str, set[str]] = defaultdict(set)
    outcomes_agreed = 0
    disagreements = []
    for case in chosen:
        compared = [c for c, v in case.decision.items() if case.backread.get(c) in ("met", "not_yet") and v]
        differ = []
        for criterion in compared:
            pair = (_met(case.decision[criterion]), _met(case.backread[criterion]))
            overall.append(pair)
            by_criterion[(case.credential_id, criterion)].append(pair)
            if pair[0] != pair[1]:
                differ.append(criterion)
        for reviewer, verdicts in case.originals.items():
            for criterion, verdict in verdicts.items():
                if criterion in compared and verdict in ("met", "not_yet"):
                    by_reviewer[reviewer].append((_met(verdict), _met(case.backread[criterion])))
                    reviewer_decisions[reviewer].add(case.submission_id)
        decided_earned = all(_met(v) for v in case.decision.values())
        backread_earned = all(_met(case.backread.get(c, v)) for c, v in case.decision.items())
        outcomes_agreed += decided_earned == backread_earned
        if differ:
            disagreements.append(
                Disagreement(
                    submission_id=case.submission_id,
                    credential_id=case.credential_id,
                    decided_on=case.decided_on,
                    criteria=tuple(differ),
                    outcome_changes=decided_earned != backread_earned,
                    backreader=case.backreader,
                )
            )
    criteria = []
    for (credential, criterion), pairs in sorted(by_criterion.items()):
        tally = Tally.of(pairs)
        criteria.append(CriterionAgreement(credential, criterion, tally, _drifts(tally, drift_threshold, min_units)))
    reviewers = []
    for reviewer in sorted(by_reviewer):
        tally = Tally.of(by_reviewer[reviewer])
        reviewers.append(
            ReviewerDrift(
                reviewer, len(reviewer_decisions[reviewer]), tally, _drifts(tally, drift_threshold, min_units)
            )
        )
    disagreements.sort(key=lambda d: (d.decided_on, d.submission_id), reverse=True)
    return BackreadReport(
        decisions=len(chosen),
        overall=Tally.of(overall),
        outcomes_agreed=outcomes_agreed,
        criteria=criteria,
        reviewers=reviewers,
        disagreements=disagreements,
        drift_threshold=drift_threshold,
        min_units=min_units,
    )


def time_left(due: datetime, now: datetime) -> str:
    """How long until ``due`` as a lead reads it: "2 days 4 hours left", "5 hours left", "overdue by 1 day"."""
    delta = due - now
    late = delta < timedelta(0)
    delta = abs(delta)
    days, hours = delta.days, delta.seconds // 3600
    if days:
        text = f"{days} day{'s' if days != 1 else ''}" + (f" {hours} hour{'s' if hours != 1 else ''}" if hours else "")
    elif hours:
        text = f"{hours} hour{'s' if hours != 1 else ''}"
    else:
        minutes = max(1, delta.seconds // 60)
        text = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"overdue by {text}" if late else f"{text} left"
