"""Who may review what: per-pair exclusions with reasons, and the fast vectorised eligible-pair builder."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from credflow.assignment.models import (
    AVAILABILITY,
    CALIBRATION,
    CAPACITY,
    CAPACITY_TAKEN,
    CERTIFICATION,
    CONFLICT_ORGANISATION,
    CONFLICT_RELATION,
    CONFLICT_SELF,
    EXCLUDED,
    AssignmentPolicy,
    CandidateReasons,
    Exclusion,
    Reviewer,
    WaitingSubmission,
)
from credflow.reviewers.rules import calibration_lapses_on

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

TAKEN = Exclusion(CAPACITY_TAKEN, "eligible, but their free capacity went to other submissions this round")


def normalise_email(email: str) -> str:
    """Compare emails case-insensitively and without surrounding blanks."""
    return email.strip().casefold()


def normalise_organisation(organisation: str) -> str:
    """Compare organisations case-insensitively with runs of whitespace collapsed."""
    return " ".join(organisation.split()).casefold()


def standing_exclusions(reviewer: Reviewer, policy: AssignmentPolicy) -> list[Exclusion]:
    """The reasons a reviewer can take no submission at all today, whatever the credential.

    Args:
        reviewer: The reviewer.
        policy: The round's policy (today, calibration validity, the review window to the due date).

    Returns:
        ``calibration``, ``capacity`` and ``availability`` exclusions, in that order; empty when none.
    """
    found: list[Exclusion] = []
    if reviewer.calibrated_on is None:
        found.append(Exclusion(CALIBRATION, "never calibrated"))
    else:
        lapses = calibration_lapses_on(reviewer.calibrated_on, years=policy.calibration_valid_years)
        if policy.today >= lapses:
            found.append(Exclusion(CALIBRATION, f"calibration from {reviewer.calibrated_on} lapsed on {lapses}"))
    if reviewer.free <= 0:
        found.append(
            Exclusion(CAPACITY, f"no free capacity: {reviewer.active} of {reviewer.capacity} assignments active")
        )
    window_end = max(policy.today, policy.review_until or policy.today)
    for first, last in reviewer.unavailable:
        if first <= window_end and last >= policy.today:
            until = "" if window_end == policy.today else f", within the review window to {window_end}"
            found.append(Exclusion(AVAILABILITY, f"unavailable {first} to {last}{until}"))
            break  # one period is enough to rule them out; listing all would only add noise
    return found


def certification_exclusions(reviewer: Reviewer, credential_id: str) -> list[Exclusion]:
    """A ``certification`` exclusion when the reviewer is not certified for the credential."""
    if credential_id in reviewer.certified:
        return []
    return [Exclusion(CERTIFICATION, f"not certified for {credential_id}")]


def pair_exclusions(reviewer: Reviewer, submission: WaitingSubmission) -> list[Exclusion]:
    """The conflicts of interest and explicit exclusions between one reviewer and one submission.

    Args:
        reviewer: The reviewer.
        submission: The waiting submission.

    Returns:
        ``conflict_self``, ``conflict_organisation``, ``conflict_relation`` and ``excluded``
        exclusions, in that order; empty when none.
    """
    return _conflicts(_ReviewerKeys.of(reviewer), _SubmissionKeys.of(submission))


@dataclass(frozen=True, slots=True)
class _ReviewerKeys:
    id: str
    email: str
    organisation: str
    relations: frozenset[str]

    @classmethod
    def of(cls, reviewer: Reviewer) -> _ReviewerKeys:
        return cls(
            reviewer.id,
            normalise_email(reviewer.email),
            normalise_organisation(reviewer.organisation),
            frozenset(normalise_email(e) for e in reviewer.relations),
        )


@dataclass(frozen=True, slots=True)
class _SubmissionKeys:
    applicant: str
    organisation: str
    excluded: frozenset[str]
    # Built once per submission: the explainer checks ten or so same-organisation reviewers each.
    same_organisation: Exclusion

    @classmethod
    def of(cls, submission: WaitingSubmission) -> _SubmissionKeys:
        shown = " ".join(submission.organisation.split())
        return cls(
            normalise_email(submission.applicant_email),
            normalise_organisation(submission.organisation),
            submission.excluded,
            Exclusion(CONFLICT_ORGANISATION, f"same organisation: {shown}"),
        )


_SELF = Exclusion(CONFLICT_SELF, "the reviewer is the applicant")
_RELATION = Exclusion(CONFLICT_RELATION, "declared relation with the applicant")
_EXCLUDED = Exclusion(EXCLUDED, "already assigned, declined, or reviewed an earlier attempt")


def _conflicts(reviewer: _ReviewerKeys, submission: _SubmissionKeys) -> list[Exclusion]:
    # The one definition of the pair rules, on pre-normalised keys so the explainer can reuse them cheaply.
    found: list[Exclusion] = []
    applicant = submission.applicant
    if applicant and reviewer.email == applicant:
        found.append(_SELF)
    # A blank organisation on both sides is not evidence of a shared employer.
    if submission.organisation and reviewer.organisation == submission.organisation:
        found.append(submission.same_organisation)
    if applicant and applicant in reviewer.relations:
        found.append(_RELATION)
    if reviewer.id in submission.excluded:
        found.append(_EXCLUDED)
    return found


def exclusions(reviewer: Reviewer, submission: WaitingSubmission, policy: AssignmentPolicy) -> list[Exclusion]:
    """Every reason the reviewer may not review the submission; an empty list means eligible.

    This is the reference definition of eligibility; :func:`eligible_pairs` computes the same
    relation in bulk and the tests hold the two equal.

    Args:
        reviewer: The reviewer.
        submission: The waiting submission.
        policy: The round's policy.

    Returns:
        Exclusions in the order certification, calibration, capacity, availability,
        conflict_self, conflict_organisation, conflict_relation, excluded.
    """
    return (
        certification_exclusions(reviewer, submission.credential_id)
        + standing_exclusions(reviewer, policy)
        + pair_exclusions(reviewer, submission)
    )


def _codes(values: Iterable[str], table: dict[str, int], missing: int) -> IntArray:
    return np.fromiter((table.get(v, missing) if v else missing for v in values), dtype=np.int64)


class CandidatePairs(NamedTuple):
    """Eligible (submission, reviewer) pairs as parallel index arrays.

    Attributes:
        submission: Submission index of each pair (int32).
        reviewer: Reviewer index of each pair (int32).
        preferred: Whether the submission prefers that reviewer (the 'same' resubmission policy).
    """

    submission: Int32Array
    reviewer: Int32Array
    preferred: npt.NDArray[np.bool_]


def eligible_pairs(
    submissions: Sequence[WaitingSubmission],
    reviewers: Sequence[Reviewer],
    policy: AssignmentPolicy,
) -> CandidatePairs:
    """All (submission, reviewer) index pairs with no exclusion, computed in bulk.

    Submissions with nothing needed get no pairs. Reviewer-wide rules are checked once per
    reviewer, certification by credential blocks, organisation and self conflicts by comparing
    integer codes over each block, and the sparse rules (relations, explicit exclusions) by
    computing the pair's position in its block, so 10^7 candidate pairs take well under a second.

    Args:
        submissions: Waiting submissions; the returned submission indices refer to this order.
        reviewers: Reviewers; the returned reviewer indices refer to this order.
        policy: The round's policy.

    Returns:
        The pairs, grouped by credential in sorted credential order, then by submission index,
        then by reviewer index, with each pair's preferred flag.
    """
    n_reviewers = len(reviewers)
    empty = CandidatePairs(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.bool_))
    if not submissions or not reviewers:
        return empty
    standing = [not standing_exclusions(r, policy) for r in reviewers]

    reviewer_keys = [_ReviewerKeys.of(r) for r in reviewers]
    organisations = {o: i for i, o in enumerate(sorted({k.organisation for k in reviewer_keys}))}
    emails = {e: i for i, e in enumerate(sorted({k.email for k in reviewer_keys}))}
    # Blank or unknown values get codes no reviewer has (-1 reviewers, -2 submissions): they never match.
    reviewer_org = _codes((k.organisation for k in reviewer_keys), organisations, -1)
    reviewer_email = _codes((k.email for k in reviewer_keys), emails, -1)
    submission_org = _codes((normalise_organisation(s.organisation) for s in submissions), organisations, -2)
    submission_email = _codes((normalise_email(s.applicant_email) for s in submissions), emails, -2)

    position = {r.id: j for j, r in enumerate(reviewers)}
    bans = _sparse_bans(submissions, reviewer_keys, position)
    preferences = {
        i: [position[rid] for rid in s.preferred if rid in position] for i, s in enumerate(submissions) if s.preferred
    }

    by_credential: dict[str, list[int]] = defaultdict(list)
    for index, submission in enumerate(submissions):
        if submission.needed > 0:
            by_credential[submission.credential_id].append(index)
    parts: list[CandidatePairs] = []
    for credential in sorted(by_credential):
        subs = np.asarray(by_credential[credential], dtype=np.int32)
        revs = np.asarray(
            [j for j, r in enumerate(reviewers) if standing[j] and credential in r.certified], dtype=np.int32
        )
        if revs.size == 0:
            continue
        tail = np.repeat(subs, revs.size)
        head = np.tile(revs, subs.size)
        keep = (reviewer_org[head] != submission_org[tail]) & (reviewer_email[head] != submission_email[tail])
        preferred = np.zeros(tail.size, dtype=np.bool_)
        # The block is laid out submission-major, so a sparse pair's position is computed, not searched for.
        column = np.full(n_reviewers, -1, dtype=np.int64)
        column[revs] = np.arange(revs.size)
        for row, i in enumerate(by_credential[credential]):
            for j in bans.get(i, ()):
                if column[j] >= 0:
                    keep[row * revs.size + column[j]] = False
            for j in preferences.get(i, ()):
                if column[j] >= 0:
                    preferred[row * revs.size + column[j]] = True
        parts.append(CandidatePairs(tail[keep], head[keep], preferred[keep]))
    if not parts:
        return empty
    return CandidatePairs(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def _sparse_bans(
    submissions: Sequence[WaitingSubmission], reviewers: Sequence[_ReviewerKeys], position: dict[str, int]
) -> dict[int, list[int]]:
    """Reviewer indices per submission index ruled out by declared relations or explicit exclusions."""
    bans: dict[int, list[int]] = defaultdict(list)
    by_applicant: dict[str, list[int]] = defaultdict(list)
    for index, submission in enumerate(submissions):
        applicant = normalise_email(submission.applicant_email)
        if applicant:
            by_applicant[applicant].append(index)
        bans[index].extend(position[rid] for rid in submission.excluded if rid in position)
    for j, reviewer in enumerate(reviewers):
        for email in reviewer.relations:
            for index in by_applicant.get(email, ()):
                bans[index].append(j)
    return bans


class Explainer:
    """Builds the per-reviewer reasons of a shortfall without calling :func:`exclusions` for every pair.

    Reviewer-wide reasons are computed once per reviewer and credential and shared; only the few
    reviewers with a possible conflict with a given submission (same organisation or email,
    a declared relation, an explicit exclusion) go through the pair rules. The result equals
    calling :func:`exclusions` for every pair, with ``capacity_taken`` for the eligible.
    """

    def __init__(self, reviewers: Sequence[Reviewer], policy: AssignmentPolicy) -> None:
        """Index the reviewers.

        Args:
            reviewers: Every reviewer of the round.
            policy: The round's policy.
        """
        self._reviewers = {r.id: r for r in reviewers}
        self._keys = {r.id: _ReviewerKeys.of(r) for r in reviewers}
        self._order = sorted(self._reviewers)
        self._standing = {r.id: tuple(standing_exclusions(r, policy)) for r in reviewers}
        self._suspects: dict[str, set[str]] = defaultdict(set)
        for keys in self._keys.values():
            self._suspects["org:" + keys.organisation].add(keys.id)
            self._suspects["email:" + keys.email].add(keys.id)
            for email in keys.relations:
                self._suspects["email:" + email].add(keys.id)
        self._reasons: dict[str, dict[str, tuple[Exclusion, ...]]] = {}
        self._base: dict[str, dict[str, tuple[Exclusion, ...]]] = {}

    def _base_for(self, credential_id: str) -> dict[str, tuple[Exclusion, ...]]:
        base = self._base.get(credential_id)
        if base is None:
            reasons = {
                rid: tuple(certification_exclusions(self._reviewers[rid], credential_id)) + self._standing[rid]
                for rid in self._order
            }
            base = {rid: found or (TAKEN,) for rid, found in reasons.items()}
            self._reasons[credential_id] = reasons
            self._base[credential_id] = base
        return base

    def candidates(self, submission: WaitingSubmission, chosen: Iterable[str]) -> CandidateReasons:
        """The reasons each reviewer outside ``chosen`` is not reviewing the submission.

        Args:
            submission: A submission that got fewer reviewers than it needed.
            chosen: Reviewer ids assigned to it this round.

        Returns:
            Reviewer id to reasons, for every reviewer not chosen, in reviewer id order.
        """
        keys = _SubmissionKeys.of(submission)
        suspects = set(submission.excluded)
        if keys.organisation:
            suspects |= self._suspects.get("org:" + keys.organisation, set())
        if keys.applicant:
            suspects |= self._suspects.get("email:" + keys.applicant, set())
        base = self._base_for(submission.credential_id)
        reasons = self._reasons[submission.credential_id]
        overrides: dict[str, tuple[Exclusion, ...]] = {}
        for reviewer_id in suspects:
            reviewer = self._keys.get(reviewer_id)
            if reviewer is None:
                continue
            conflicts = _conflicts(reviewer, keys)
            if conflicts:
                overrides[reviewer_id] = reasons[reviewer_id] + tuple(conflicts)
        return CandidateReasons(base, overrides, frozenset(chosen))
