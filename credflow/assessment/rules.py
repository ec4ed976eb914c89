"""The formal test's pure rules: checking and scoring answers, the pass mark, attempts left and the retake wait.

No session, no services: a try is described by :class:`PastTry`, the test by the catalog's
:class:`~credflow.catalog.models.FormalTest`, and every function takes the time it judges by.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from credflow.catalog.models import Credential, FormalTest

#: Answers may arrive this long after the time limit (a slow network, a last click) and still count.
GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class ItemResult:
    """One question as scored: the option chosen, the correct one and whether they match."""

    key: str
    chosen: str
    answer: str
    correct: bool


@dataclass(frozen=True)
class TestScore:
    """A scored try: correct answers, out of how many, the pass mark and each question's result."""

    __test__ = False  # not a pytest test class

    correct: int
    out_of: int
    needed: int
    items: tuple[ItemResult, ...]
    late: bool = False

    @property
    def passed(self) -> bool:
        """At or above the pass mark, and in time."""
        return self.correct >= self.needed and not self.late


def answer_problems(test: FormalTest, answers: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a set of answers, by item key: every question needs one of its options.

    Args:
        test: The credential's test.
        answers: Item key to the chosen option's key (as the form sent them).

    Returns:
        A problem in words per item with no answer or an answer that is not one of its options.
    """
    problems = {}
    for number, item in enumerate(test.items, start=1):
        chosen = answers.get(item.key, "")
        if not chosen:
            problems[item.key] = f"Question {number} has no answer: choose one option."
        elif chosen not in {option.key for option in item.options}:
            problems[item.key] = f"Question {number}: the answer sent is not one of its options; choose one again."
    return problems


def deadline(test: FormalTest, started_at: datetime) -> datetime | None:
    """When a try started at ``started_at`` must be submitted by (None: the test has no time limit)."""
    if test.time_limit_minutes is None:
        return None
    return started_at + timedelta(minutes=test.time_limit_minutes)


def score(test: FormalTest, answers: Mapping[str, str], *, started_at: datetime, submitted_at: datetime) -> TestScore:
    """Score a complete set of answers against the test's key and pass mark.

    A try submitted after its time limit (plus :data:`GRACE`) is scored but does not pass.

    Args:
        test: The credential's test.
        answers: Item key to chosen option key; check them with :func:`answer_problems` first.
        started_at: When the try started.
        submitted_at: When the answers arrived.

    Returns:
        The score.
    """
    items = tuple(
        ItemResult(
            key=item.key,
            chosen=answers.get(item.key, ""),
            answer=item.answer,
            correct=answers.get(item.key) == item.answer,
        )
        for item in test.items
    )
    limit = deadline(test, started_at)
    return TestScore(
        correct=sum(result.correct for result in items),
        out_of=len(items),
        needed=test.correct_needed,
        items=items,
        late=limit is not None and submitted_at > limit + GRACE,
    )


@dataclass(frozen=True)
class PastTry:
    """What the rules read of a stored try."""

    id: str
    number: int
    started_at: datetime
    submitted_at: datetime | None
    passed: bool | None


class Standing(StrEnum):
    """Where an applicant stands with a credential's test."""

    MAY_START = "may_start"
    IN_PROGRESS = "in_progress"  # a try is open: continue it
    WAITING = "waiting"  # the retake wait after a failed try
    EXHAUSTED = "exhausted"  # every try used without a pass
    PASSED = "passed"


@dataclass(frozen=True)
class TestStanding:
    """An applicant's standing with one test: tries used and left, an open try, the next allowed start."""

    __test__ = False

    standing: Standing
    used: int
    left: int
    open_try: str | None = None
    next_try_at: datetime | None = None
    passed_try: str | None = None


def standing(test: FormalTest, tries: Sequence[PastTry], *, now: datetime) -> TestStanding:
    """The applicant's standing with a test, from their tries so far.

    Starting a try uses it (an abandoned try still counts); after a failed try the next may start
    ``retake_wait_days`` after it was submitted.

    Args:
        test: The credential's test.
        tries: The applicant's tries at it, in any order.
        now: The time to judge by.

    Returns:
        The standing.
    """
    ordered = sorted(tries, key=lambda t: t.number)
    used = len(ordered)
    left = max(test.attempts - used, 0)
    passed = next((t for t in ordered if t.passed), None)
    if passed is not None:
        return TestStanding(Standing.PASSED, used, left, passed_try=passed.id)
    open_try = next((t for t in ordered if t.submitted_at is None), None)
    if open_try is not None:
        return TestStanding(Standing.IN_PROGRESS, used, left, open_try=open_try.id)
    if left == 0:
        return TestStanding(Standing.EXHAUSTED, used, 0)
    if ordered:
        last = ordered[-1]
        assert last.submitted_at is not None
        ready = last.submitted_at + timedelta(days=test.retake_wait_days)
        if now < ready:
            return TestStanding(Standing.WAITING, used, left, next_try_at=ready)
    return TestStanding(Standing.MAY_START, used, left)


def missing_prerequisites(credential: Credential, earned: Collection[str]) -> tuple[str, ...]:
    """The prerequisites of ``credential`` not among the ``earned`` credential ids, in catalog order."""
    return tuple(needed for needed in credential.prerequisites if needed not in earned)


def feedback_shown(result: TestStanding) -> bool:
    """Whether a result may show the correct answers: after a pass or once no try is left.

    Before that, a result says which questions were wrong but not the right answers, so a retake
    still tests what the applicant knows.
    """
    return result.standing in (Standing.PASSED, Standing.EXHAUSTED)
