"""Reviewer assignment inputs and results: reviewers, waiting submissions, policy, shortfalls."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from credflow.errors import PermanentError

# Constraint names are stable: operators grep for them and other modules may match on them.
CERTIFICATION = "certification"
CALIBRATION = "calibration"
CAPACITY = "capacity"
AVAILABILITY = "availability"
CONFLICT_SELF = "conflict_self"
CONFLICT_ORGANISATION = "conflict_organisation"
CONFLICT_RELATION = "conflict_relation"
EXCLUDED = "excluded"
CAPACITY_TAKEN = "capacity_taken"

CONSTRAINTS = (
    CERTIFICATION,
    CALIBRATION,
    CAPACITY,
    AVAILABILITY,
    CONFLICT_SELF,
    CONFLICT_ORGANISATION,
    CONFLICT_RELATION,
    EXCLUDED,
    CAPACITY_TAKEN,
)


@dataclass(frozen=True, kw_only=True)
class Reviewer:
    """A trained assessor who can take submissions of the credentials they are certified for.

    Attributes:
        id: Stable reviewer id.
        name: Display name.
        email: Contact email; compared case-insensitively with applicants' emails.
        organisation: Employer (district, school, provider); same organisation is a conflict.
        certified: Credential ids the reviewer is certified to assess.
        calibrated_on: Date of the last passed calibration, or None if never calibrated.
        capacity: Most assignments the reviewer may hold at once.
        active: Assignments the reviewer holds now.
        unavailable: Inclusive (first, last) date periods the reviewer cannot review.
        relations: Lower-case emails of applicants the reviewer coaches, mentors or supervises.
        is_lead: Whether the reviewer is a lead reviewer (adjudicator); informational here.
    """

    id: str
    name: str
    email: str
    organisation: str
    certified: frozenset[str]
    calibrated_on: date | None
    capacity: int
    active: int
    unavailable: tuple[tuple[date, date], ...] = ()
    relations: frozenset[str] = frozenset()
    is_lead: bool = False

    @property
    def free(self) -> int:
        """Assignments the reviewer can still take (never negative)."""
        return max(0, self.capacity - self.active)


@dataclass(frozen=True, kw_only=True)
class WaitingSubmission:
    """A submission that still needs reviewers.

    Attributes:
        id: Submission id.
        credential_id: The micro-credential applied for.
        applicant_email: Applicant's email.
        organisation: Applicant's organisation.
        needed: Distinct reviewers still needed (2 by default for a fresh submission).
        waiting_since: When the submission started waiting (timezone-aware, UTC).
        excluded: Reviewer ids that must not be used: already assigned, declined, or reviewed an
            earlier attempt under the 'fresh' resubmission policy.
        preferred: Reviewers of an earlier attempt under the 'same' policy; preferred, not required.
    """

    id: str
    credential_id: str
    applicant_email: str
    organisation: str
    needed: int
    waiting_since: datetime
    excluded: frozenset[str] = frozenset()
    preferred: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class AssignmentPolicy:
    """The rules and cost weights of one assignment round.

    Costs are integers because the min-cost-flow solver works on integers. A pair costs
    ``base_cost`` minus the waiting bonus minus the preferred bonus; each assignment a reviewer
    takes adds ``load_step`` times their load after taking it, so the cost rises with load.

    Attributes:
        today: The date eligibility is judged on (calibration expiry, unavailability).
        now: The instant waiting time is measured to (timezone-aware, UTC).
        calibration_valid_years: Years a calibration stays valid; it lapses on its anniversary.
        review_until: The last day of the review window (the due date): a reviewer unavailable on any
            day from ``today`` to it is not assigned. None checks only ``today``.
        base_cost: Cost of any assignment.
        load_step: Cost per assignment already held, charged on each extra assignment.
        wait_bonus_per_day: Cost taken off per whole day a submission has waited.
        max_wait_bonus: Cap on the waiting bonus.
        preferred_bonus: Cost taken off for a preferred reviewer (the 'same' resubmission policy).
    """

    today: date
    now: datetime
    calibration_valid_years: int = 1
    review_until: date | None = None
    base_cost: int = 1000
    load_step: int = 100
    wait_bonus_per_day: int = 10
    max_wait_bonus: int = 500
    preferred_bonus: int = 800


@dataclass(frozen=True)
class Exclusion:
    """One reason a reviewer cannot take a submission.

    Attributes:
        constraint: Stable constraint name (see ``CONSTRAINTS``).
        detail: Human-readable detail, e.g. "same organisation: Riverside Unified".
    """

    constraint: str
    detail: str

    def __str__(self) -> str:
        return f"{self.constraint}: {self.detail}"


@dataclass(frozen=True)
class Shortfall:
    """Why a submission got fewer reviewers than it needs.

    Attributes:
        submission_id: The short submission.
        needed: Reviewers it needed this round.
        assigned: Reviewers it got this round.
        candidates: For every reviewer not assigned to it, the reasons they were not; a reviewer who
            was eligible but not chosen carries a single ``capacity_taken`` exclusion. A read-only
            mapping (the solver shares reviewer-wide reasons between shortfalls, see
            :class:`CandidateReasons`); any dict of tuples works too.
        chosen: Reviewer ids assigned to it this round.
        credential_id: The credential applied for (for the explanation's header).
    """

    submission_id: str
    needed: int
    assigned: int
    candidates: Mapping[str, tuple[Exclusion, ...]]
    chosen: tuple[str, ...] = ()
    credential_id: str = ""

    def explain(self, *, group_above: int = 10, show_ids: int = 5) -> str:
        """Render the shortfall as text an operator can act on.

        Args:
            group_above: With more candidates than this, reviewers with the same constraints are
                grouped into one line ("412 reviewers: certification: not certified for X").
            show_ids: How many reviewer ids a grouped line names.

        Returns:
            A multi-line text: the submission and how many reviewers were found of how many
            needed, then one line per candidate reviewer (or per group) with constraint names and
            details.
        """
        credential = f" ({self.credential_id})" if self.credential_id else ""
        lines = [f"Submission {self.submission_id}{credential}: {self.assigned} of {self.needed} reviewers found."]
        if self.chosen:
            lines.append(f"  assigned: {', '.join(self.chosen)}")
        if not self.candidates:
            lines.append("  no other reviewers exist")
            return "\n".join(lines)
        if len(self.candidates) <= group_above:
            for reviewer_id in sorted(self.candidates):
                lines.append(f"  {reviewer_id}: {_reasons(self.candidates[reviewer_id])}")
            return "\n".join(lines)
        # Group by constraint names, not by exact detail: details such as "3 of 3 assignments
        # active" vary per reviewer and would otherwise split one cause into many lines.
        groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for reviewer_id, reasons in self.candidates.items():
            groups[tuple(e.constraint for e in reasons)].append(reviewer_id)
        for names, ids in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
            ids.sort()
            if len(ids) == 1:
                lines.append(f"  {ids[0]}: {_reasons(self.candidates[ids[0]])}")
                continue
            parts = []
            for position, name in enumerate(names):
                details = sorted({self.candidates[i][position].detail for i in ids})
                more = f" (and {len(details) - 1} other variants)" if len(details) > 1 else ""
                parts.append(f"{name}: {details[0]}{more}")
            shown = ", ".join(ids[:show_ids]) + (", …" if len(ids) > show_ids else "")
            lines.append(f"  {len(ids)} reviewers: {'; '.join(parts)} [{shown}]")
        return "\n".join(lines)


class CandidateReasons(Mapping[str, tuple[Exclusion, ...]]):
    """Reviewer id to reasons: a shared base for a credential, a few overrides, some ids left out.

    Thousands of shortfalls in one round differ from their credential's base only in a handful of
    reviewers (conflicts, the chosen ones); sharing the base keeps memory and time per shortfall
    proportional to those few instead of to the number of reviewers.
    """

    __slots__ = ("_base", "_left_out", "_overrides")

    def __init__(
        self,
        base: Mapping[str, tuple[Exclusion, ...]],
        overrides: Mapping[str, tuple[Exclusion, ...]],
        left_out: frozenset[str],
    ) -> None:
        """Combine the parts; ``overrides`` and ``left_out`` must only name reviewers in ``base``.

        Args:
            base: Reasons per reviewer shared by every submission of one credential (not copied).
            overrides: Reasons replacing the base's for some reviewers.
            left_out: Reviewer ids to omit (those assigned to the submission).
        """
        self._base = base
        self._overrides = dict(overrides)
        self._left_out = left_out & base.keys()

    def __getitem__(self, reviewer_id: str) -> tuple[Exclusion, ...]:
        if reviewer_id in self._left_out:
            raise KeyError(reviewer_id)
        found = self._overrides.get(reviewer_id)
        return self._base[reviewer_id] if found is None else found

    def __iter__(self) -> Iterator[str]:
        return (reviewer_id for reviewer_id in self._base if reviewer_id not in self._left_out)

    def __len__(self) -> int:
        return len(self._base) - len(self._left_out)

    def __repr__(self) -> str:
        return f"CandidateReasons({dict(self)!r})"


def _reasons(reasons: tuple[Exclusion, ...]) -> str:
    return "; ".join(str(e) for e in reasons) if reasons else "no exclusion recorded"


@dataclass(frozen=True)
class AssignmentResult:
    """The outcome of one assignment round.

    Attributes:
        pairs: (submission id, reviewer id) pairs to assign, sorted.
        cost: Total cost of the assignment under the policy (min cost among maximum assignments).
        unassigned: Shortfall per submission that got fewer reviewers than it needed.
        stats: Sizes and timings of the round (pairs considered, arcs, seconds), for logs.
    """

    pairs: tuple[tuple[str, str], ...]
    cost: int
    unassigned: dict[str, Shortfall]
    stats: dict[str, float] = field(default_factory=dict)

    def by_submission(self) -> dict[str, list[str]]:
        """Map each submission id that got reviewers to its reviewer ids, sorted."""
        out: dict[str, list[str]] = defaultdict(list)
        for submission_id, reviewer_id in self.pairs:
            out[submission_id].append(reviewer_id)
        return dict(out)

    def by_reviewer(self) -> dict[str, list[str]]:
        """Map each reviewer id that got submissions to its submission ids, sorted."""
        out: dict[str, list[str]] = defaultdict(list)
        for submission_id, reviewer_id in self.pairs:
            out[reviewer_id].append(submission_id)
        return {k: sorted(v) for k, v in out.items()}


class AssignmentError(PermanentError):
    """The assignment input is inconsistent (duplicate ids) or the solver refused the instance."""
