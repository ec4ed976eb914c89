"""The lifecycle of one submission attempt, as a state machine that refuses illegal moves.

Every stage of the pipeline (intake to badge) moves a submission through these
states; later stages plug in by using the states already declared here.
"""

from __future__ import annotations

from enum import StrEnum

from credflow.errors import IllegalTransition


class State(StrEnum):
    RECEIVED = "received"  # stored, not yet checked
    VALIDATING = "validating"  # the pre-assessor completeness check is running
    RETURNED = "returned"  # incomplete or invalid: back to the applicant, costs no attempt
    TRANSCODING = "transcoding"  # videos are being made into the review format
    AWAITING_REVIEW = "awaiting_review"  # ready; waiting for reviewers to be assigned
    IN_REVIEW = "in_review"  # reviewers assigned, scoring
    ADJUDICATING = "adjudicating"  # reviewers split on a criterion; a lead decides
    EARNED = "earned"  # every criterion Met
    NOT_YET = "not_yet"  # some criterion Not Yet; the applicant may resubmit
    RESUBMITTED = "resubmitted"  # a later attempt continues this chain
    CLOSED = "closed"  # no more attempts (limit reached or window lapsed) until an operator unlocks
    FAILED = "failed"  # a permanent system failure an operator must look at
    WITHDRAWN = "withdrawn"  # the applicant or an operator withdrew it


TRANSITIONS: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.VALIDATING, State.WITHDRAWN, State.FAILED}),
    State.VALIDATING: frozenset({State.RETURNED, State.TRANSCODING, State.AWAITING_REVIEW, State.FAILED}),
    State.RETURNED: frozenset({State.RESUBMITTED, State.WITHDRAWN}),
    State.TRANSCODING: frozenset({State.AWAITING_REVIEW, State.RETURNED, State.FAILED}),
    State.AWAITING_REVIEW: frozenset({State.IN_REVIEW, State.WITHDRAWN, State.FAILED}),
    State.IN_REVIEW: frozenset(
        {State.AWAITING_REVIEW, State.ADJUDICATING, State.EARNED, State.NOT_YET, State.WITHDRAWN, State.FAILED}
    ),
    State.ADJUDICATING: frozenset({State.EARNED, State.NOT_YET, State.FAILED}),
    State.EARNED: frozenset(),
    State.NOT_YET: frozenset({State.RESUBMITTED, State.CLOSED}),
    State.RESUBMITTED: frozenset(),
    # An operator's unlock reopens a closed chain for one more attempt.
    State.CLOSED: frozenset({State.NOT_YET}),
    # An operator's retry puts a failed attempt back where its work can restart.
    State.FAILED: frozenset({State.RECEIVED, State.WITHDRAWN}),
    State.WITHDRAWN: frozenset(),
}

#: States in which the attempt is still moving through the pipeline.
ACTIVE: frozenset[State] = frozenset(
    {State.RECEIVED, State.VALIDATING, State.TRANSCODING, State.AWAITING_REVIEW, State.IN_REVIEW, State.ADJUDICATING}
)

#: States after which nothing more happens to this attempt.
FINAL: frozenset[State] = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)


def check_transition(current: State, target: State) -> None:
    """Refuse a move the lifecycle does not allow.

    Raises:
        IllegalTransition: naming both states and the moves that are allowed.
    """
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "none (final state)"
        raise IllegalTransition(f"cannot move a submission from {current} to {target}; allowed: {options}")
