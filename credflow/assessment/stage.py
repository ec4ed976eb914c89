"""The formal test on stored records: start a try, submit its answers, and record a pass as an earned decision.

A pass becomes what a portfolio's earned decision is: a ``Submission`` (state ``earned``, its
idempotency key ``test:<try>``) with a ``Decision`` whose one entry, :data:`TEST_CRITERION`,
records the score. Issuance, in-service hours, pathways, reports and the applicant's export
then work on it unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.assessment.rules import (
    GRACE,
    PastTry,
    Standing,
    TestScore,
    TestStanding,
    answer_problems,
    deadline,
    missing_prerequisites,
    score,
    standing,
)
from credflow.catalog.models import Credential, FormalTest
from credflow.db.models import Applicant, Decision, Enrolment, FormalTestAttempt, IssuedBadge, Submission
from credflow.errors import IntakeRefused, NotFoundError, PermanentError
from credflow.intake.rules import check_access_window
from credflow.issuance.stage import IssueReport, issue_for_decision, record_hours
from credflow.lifecycle import ACTIVE, State
from credflow.notifications.rules import BadgeNotice
from credflow.notifications.stage import send_badge_notice
from credflow.services import Services
from credflow.submissions import record_event

log = logging.getLogger(__name__)

#: The decision entry of a passed test (a portfolio's decision has one entry per rubric criterion).
TEST_CRITERION = "formal_test"


class TestRefused(PermanentError):
    """A try cannot start (prerequisite, wait, no tries left, already earned); the message says why in words."""

    __test__ = False  # not a pytest test class


class AnswersIncomplete(PermanentError):
    """Answers with problems, by item key; nothing is stored."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class TestOverview:
    """What the test page shows a signed-in person: their standing and why they may not start, if so."""

    __test__ = False

    credential: Credential
    test: FormalTest
    standing: TestStanding
    missing: tuple[str, ...]  # prerequisite ids not earned
    refusal: str | None  # why no try may start now, in words (None: it may)
    name: str | None  # the applicant's name on record (None: never applied; the start form asks)
    earned: bool  # the credential is earned (by the test or a portfolio)


@dataclass(frozen=True)
class TryView:
    """One try as its page shows it."""

    id: str
    number: int
    started_at: datetime
    due_at: datetime | None
    submitted_at: datetime | None
    answers: dict[str, str]
    result: TestScore | None
    submission_id: str | None


def the_test(credential: Credential) -> FormalTest:
    """The credential's test, or NotFoundError when it offers none."""
    if credential.test is None or not credential.offers_test:
        raise NotFoundError(f"{credential.id} has no formal test")
    return credential.test


def _applicant(session: Session, email: str) -> Applicant | None:
    return session.scalar(select(Applicant).where(Applicant.email == email.strip().lower()))


def earned_ids(session: Session, applicant_id: str) -> frozenset[str]:
    """The credential ids an applicant has earned (by a portfolio or a test)."""
    return frozenset(
        session.scalars(
            select(Submission.credential_id)
            .join(Decision, Decision.submission_id == Submission.id)
            .where(Submission.applicant_id == applicant_id, Decision.outcome == "earned")
        )
    )


def earned_credentials(services: Services, email: str) -> frozenset[str]:
    """The credential ids the applicant with this (verified) address has earned; none for a new address."""
    with services.db.session() as session:
        applicant = _applicant(session, email)
        return frozenset() if applicant is None else earned_ids(session, applicant.id)


def _rows(session: Session, applicant_id: str, credential_id: str) -> list[FormalTestAttempt]:
    return list(
        session.scalars(
            select(FormalTestAttempt)
            .where(FormalTestAttempt.applicant_id == applicant_id, FormalTestAttempt.credential_id == credential_id)
            .order_by(FormalTestAttempt.number)
        )
    )


def _close_lapsed(session: Session, test: FormalTest, rows: list[FormalTestAttempt], now: datetime) -> None:
    """A try left open past its time limit fails at its deadline (so the applicant is not stuck in it)."""
    for row in rows:
        due = deadline(test, row.started_at)
        if row.submitted_at is None and due is not None and now > due + GRACE:
            row.submitted_at, row.score, row.out_of, row.passed = due, 0, len(test.items), False
            record_event(
                session,
                submission_id=None,
                kind="test_lapsed",
                actor="assessment",
                detail={"attempt": row.id, "credential": row.credential_id},
                at=now,
            )


def _past(rows: list[FormalTestAttempt]) -> list[PastTry]:
    return [PastTry(r.id, r.number, r.started_at, r.submitted_at, r.passed) for r in rows]


def _refusal(
    credential: Credential, found: TestStanding, missing: tuple[str, ...], titles: Mapping[str, str], *, busy: bool
) -> str | None:
    if missing:
        names = ", ".join(titles.get(m, m) for m in missing)
        return f"{credential.title} needs {names} first. Earn it, then take this test."
    if found.standing is Standing.PASSED:
        return "You passed this test: the micro-credential is earned."
    if busy:
        return "Your portfolio for this micro-credential is being assessed. Wait for its result before taking the test."
    if found.standing is Standing.EXHAUSTED:
        return (
            f"All {found.used} tries at this test are used. Ask the program team about a coaching meeting, "
            "or earn the micro-credential with a portfolio."
        )
    if found.standing is Standing.WAITING and found.next_try_at is not None:
        return f"Your next try may start on {found.next_try_at:%A %-d %B %Y at %H:%M} UTC."
    return None


def formal_test_overview(services: Services, *, email: str, credential_id: str, now: datetime) -> TestOverview:
    """The signed-in person's standing with a credential's test (lapsed tries are closed first).

    Raises:
        NotFoundError: no such credential, or it offers no test.
    """
    credential = services.catalog.get(credential_id)
    test = the_test(credential)
    titles = {c.id: c.title for c in services.catalog}
    with services.db.session() as session:
        applicant = _applicant(session, email)
        if applicant is None:
            found = standing(test, [], now=now)
            missing = missing_prerequisites(credential, ())
            refusal = _refusal(credential, found, missing, titles, busy=False)
            return TestOverview(credential, test, found, missing, refusal, None, False)
        rows = _rows(session, applicant.id, credential.id)
        _close_lapsed(session, test, rows, now)
        found = standing(test, _past(rows), now=now)
        earned = earned_ids(session, applicant.id)
        missing = missing_prerequisites(credential, earned)
        latest = _latest_portfolio(session, applicant.id, credential.id)
        busy = latest is not None and State(latest.state) in ACTIVE
        refusal = _refusal(credential, found, missing, titles, busy=busy)
        if refusal is None and credential.id in earned:
            refusal = "You have earned this micro-credential already."
        return TestOverview(credential, test, found, missing, refusal, applicant.name, credential.id in earned)


def _latest_portfolio(session: Session, applicant_id: str, credential_id: str) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(
            Submission.applicant_id == applicant_id,
            Submission.credential_id == credential_id,
            Submission.idempotency_key.not_like("test:%"),
        )
        .order_by(Submission.created_at.desc(), Submission.attempt.desc())
        .limit(1)
    )


def start_try(
    services: Services, *, email: str, credential_id: str, now: datetime, name: str = "", organisation: str = ""
) -> str:
    """Start a try (or return the open one), making the applicant record and enrolment when new.

    Args:
        services: The services.
        email: The signed-in person's verified address.
        credential_id: The credential whose test to take.
        now: The time of the request.
        name: The applicant's name as badges show it (needed only when there is no applicant record yet).
        organisation: Their school or district (optional).

    Returns:
        The try's id.

    Raises:
        NotFoundError: no such credential or no test.
        TestRefused: a prerequisite is missing, the wait is not over, no try is left, it is earned,
            the access window is closed, or a name is needed.
    """
    overview = formal_test_overview(services, email=email, credential_id=credential_id, now=now)
    if overview.standing.open_try is not None and not overview.missing:
        return overview.standing.open_try
    if overview.refusal is not None:
        raise TestRefused(overview.refusal)
    credential = overview.credential
    with services.db.session() as session:
        applicant = _applicant(session, email)
        if applicant is None:
            if not name.strip():
                raise TestRefused("Give your name as it should appear on your badge.")
            applicant = Applicant(
                email=email.strip().lower(),
                name=name.strip()[:200],
                organisation=organisation.strip()[:200],
                created_at=now,
                updated_at=now,
            )
            session.add(applicant)
            session.flush()
        enrolment = session.scalar(
            select(Enrolment).where(Enrolment.applicant_id == applicant.id, Enrolment.credential_id == credential.id)
        )
        if enrolment is None:
            enrolment = Enrolment(applicant_id=applicant.id, credential_id=credential.id, enrolled_on=now.date())
            session.add(enrolment)
        try:
            check_access_window(credential=credential, enrolled_on=enrolment.enrolled_on, today=now.date())
        except IntakeRefused as exc:
            raise TestRefused(str(exc)) from None
        number = len(_rows(session, applicant.id, credential.id)) + 1
        row = FormalTestAttempt(
            applicant_id=applicant.id, credential_id=credential.id, number=number, started_at=now, answers={}
        )
        try:
            with session.begin_nested():  # two starts at once: the unique try number lets one through
                session.add(row)
        except IntegrityError:
            raise TestRefused("Another try was started at the same moment: open the test page again.") from None
        record_event(
            session,
            submission_id=None,
            kind="test_started",
            actor="applicant",
            detail={"attempt": row.id, "credential": credential.id, "number": number},
            at=now,
        )
        return row.id


def _owned(session: Session, email: str, credential_id: str, attempt_id: str) -> FormalTestAttempt:
    applicant = _applicant(session, email)
    row = session.get(FormalTestAttempt, attempt_id[:64]) if applicant is not None else None
    if row is None or applicant is None or row.applicant_id != applicant.id or row.credential_id != credential_id:
        raise NotFoundError("no such test try")  # someone else's id looks exactly like an unknown one
    return row


def _view(test: FormalTest, row: FormalTestAttempt) -> TryView:
    answers = {str(k): str(v) for k, v in (row.answers or {}).items()}
    result = None
    if row.submitted_at is not None:
        result = score(test, answers, started_at=row.started_at, submitted_at=row.submitted_at)
        if row.passed is False and result.passed:  # a lapsed try: recorded as failed at its deadline
            result = TestScore(result.correct, result.out_of, result.needed, result.items, late=True)
    return TryView(
        id=row.id,
        number=row.number,
        started_at=row.started_at,
        due_at=deadline(test, row.started_at),
        submitted_at=row.submitted_at,
        answers=answers,
        result=result,
        submission_id=row.submission_id,
    )


def open_try(services: Services, *, email: str, credential_id: str, attempt_id: str, now: datetime) -> TryView:
    """One of the person's own tries (open or scored).

    Raises:
        NotFoundError: not their try, or no such try, credential or test.
    """
    test = the_test(services.catalog.get(credential_id))
    with services.db.session() as session:
        row = _owned(session, email, credential_id, attempt_id)
        _close_lapsed(session, test, [row], now)
        return _view(test, row)


def submit_try(
    services: Services, *, email: str, credential_id: str, attempt_id: str, answers: Mapping[str, str], now: datetime
) -> TryView:
    """Score a try's answers once; a pass is recorded as an earned decision and issues the badge and hours.

    Submitting a try that is already scored changes nothing and returns it as it is.

    Raises:
        NotFoundError: not their try, or no such try, credential or test.
        AnswersIncomplete: a question has no answer, or not one of its options (nothing is stored).
    """
    credential = services.catalog.get(credential_id)
    test = the_test(credential)
    with services.db.session() as session:
        row = _owned(session, email, credential_id, attempt_id)
        _close_lapsed(session, test, [row], now)
        if row.submitted_at is not None:
            return _view(test, row)
        problems = answer_problems(test, answers)
        if problems:
            raise AnswersIncomplete(problems)
        chosen = {item.key: answers[item.key] for item in test.items}
        result = score(test, chosen, started_at=row.started_at, submitted_at=now)
        # Compare-and-set: only a try still open takes these answers (a double click scores once).
        taken = session.execute(
            update(FormalTestAttempt)
            .where(FormalTestAttempt.id == row.id, FormalTestAttempt.submitted_at.is_(None))
            .values(submitted_at=now, answers=chosen, score=result.correct, out_of=result.out_of, passed=result.passed)
            .execution_options(synchronize_session=False)
        )
        session.refresh(row)
        if getattr(taken, "rowcount", 0) != 1:
            return _view(test, row)
        record_event(
            session,
            submission_id=None,
            kind="test_submitted",
            actor="applicant",
            detail={"attempt": row.id, "credential": credential.id, "score": result.correct, "passed": result.passed},
            at=now,
        )
        if result.passed:
            row.submission_id = _record_pass(session, credential, row, result, now=now)
        view = _view(test, row)
    if view.submission_id is not None:
        complete_pass(services, view.submission_id, now=now)
    return view


def _record_pass(
    session: Session, credential: Credential, row: FormalTestAttempt, result: TestScore, *, now: datetime
) -> str:
    """The earned submission and decision of a passed try, as the aggregator records a portfolio's."""
    sub = Submission(
        applicant_id=row.applicant_id,
        credential_id=credential.id,
        attempt=row.number,
        previous_id=None,
        state=State.EARNED.value,
        idempotency_key=f"test:{row.id}",
        answers={},
        problems=[],
        created_at=now,
        updated_at=now,
        state_since=now,
    )
    session.add(sub)
    session.flush()
    decision = Decision(
        submission_id=sub.id,
        outcome="earned",
        criteria={
            TEST_CRITERION: {
                "verdict": "met",
                "source": "test",
                "attempt": row.id,
                "score": result.correct,
                "out_of": result.out_of,
                "needed": result.needed,
            }
        },
        backread=False,
        decided_at=now,
    )
    session.add(decision)
    session.flush()
    record_event(
        session,
        submission_id=sub.id,
        kind="test_passed",
        actor="assessment",
        to_state=State.EARNED.value,
        detail={"attempt": row.id, "decision": decision.id, "score": result.correct, "out_of": result.out_of},
        at=now,
    )
    return sub.id


def complete_pass(services: Services, submission_id: str, *, now: datetime) -> IssueReport | None:
    """Issue a passed test's badge (and pathway badges), record its hours and email the badges (each once).

    Idempotent: the result page calls it again when an earlier run stopped before the badge.
    A failure is logged and left for that retry; the pass itself is already recorded.
    """
    try:
        report = issue_for_decision(services, submission_id, today=now.date())
        record_hours(services, submission_id)
        if report.micro is not None:
            send_badge_notice(services, report.micro, BadgeNotice.ISSUED)
        for badge_id in report.issued:
            send_badge_notice(services, badge_id, BadgeNotice.ISSUED)
        for badge_id in report.renewed:
            send_badge_notice(services, badge_id, BadgeNotice.RENEWED)
    except Exception:
        log.exception("issuing the badge of the passed test %s failed; the result page retries", submission_id)
        return None
    return report


def badge_of(services: Services, submission_id: str) -> str | None:
    """The micro-credential badge issued for a submission, if any."""
    with services.db.session() as session:
        return session.scalar(
            select(IssuedBadge.id).where(IssuedBadge.submission_id == submission_id, IssuedBadge.kind == "micro")
        )
