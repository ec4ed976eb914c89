"""Cohorts and milestones from the records: who works on what, who agreed to connect, and the celebration emails.

What the cohort pages call. Who may see whom is :func:`credflow.cohorts.rules.peer_view`'s; which
milestones were reached is :func:`credflow.cohorts.rules.milestones`' over the first day of each
stored fact read here. A celebration email goes through the outbox once per milestone (its key), and
the celebration is recorded so the page shows it done.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.cohorts.rules import (
    Member,
    Milestone,
    PeerView,
    Reached,
    WorkFacts,
    celebration_key,
    celebration_note_key,
    celebration_words,
    milestones,
    peer_view,
    recent,
)
from credflow.db.models import (
    Applicant,
    CohortConsent,
    Decision,
    Draft,
    DraftFile,
    Enrolment,
    IssuedBadge,
    MilestoneCelebration,
    Submission,
)
from credflow.errors import NotFoundError, TransientError
from credflow.formatting import weekday_date
from credflow.letters import links
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.rules import Delivery
from credflow.notifications.stage import deliver
from credflow.reports.rules import STATUS_OF_STATE, ReportScope, ReportStatus
from credflow.services import Services

Pair = tuple[str, str]  # (applicant id, credential id)


@dataclass(frozen=True)
class CohortSection:
    """One micro-credential the signed-in educator works on, and what they may see of its cohort."""

    credential_id: str
    title: str
    view: PeerView


@dataclass(frozen=True)
class CohortRow:
    """One educator of a cohort as a program admin sees them."""

    applicant_id: str
    educator: str
    organisation: str
    status: ReportStatus
    consented: bool


@dataclass(frozen=True)
class AdminCohort:
    """Everyone in a program admin's scope working on one micro-credential."""

    credential_id: str
    title: str
    rows: tuple[CohortRow, ...]

    @property
    def connecting(self) -> int:
        """How many agreed to be connected."""
        return sum(1 for row in self.rows if row.consented)


@dataclass(frozen=True)
class MilestoneRow:
    """One recent milestone as the milestones page lists it, with its celebration if there was one."""

    reached: Reached
    educator: str
    organisation: str
    title: str
    celebrated_at: datetime | None = None
    celebrated_by: str | None = None


class Celebrated(StrEnum):
    """What a press of "Send celebration email" did."""

    SENT = "sent"
    ALREADY = "already"  # celebrated before (by anyone): nothing sent again
    FAILED = "failed"  # the mail service refused it for good; nothing recorded, the operator was told


@dataclass(frozen=True)
class Celebration:
    """The outcome of one celebration, and the educator it was for."""

    outcome: Celebrated
    educator: str
    milestone: Milestone
    title: str
    celebrated_at: datetime | None = None
    error: str | None = field(default=None)


# -- who works on what ------------------------------------------------------------------------


def _pairs(session: Session) -> set[Pair]:
    """Every (applicant, credential) with an enrolment or a submission: who works on what."""
    enrolled = session.execute(select(Enrolment.applicant_id, Enrolment.credential_id)).all()
    submitted = session.execute(select(Submission.applicant_id, Submission.credential_id)).all()
    return {(a, c) for a, c in enrolled} | {(a, c) for a, c in submitted}


def _live_applicants(session: Session, ids: Iterable[str]) -> dict[str, Applicant]:
    """The applicants among ``ids`` who were not erased (an erased educator is in no cohort)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Applicant).where(Applicant.id.in_(wanted), Applicant.erased_at.is_(None)))
    return {a.id: a for a in rows}


def _consents(session: Session) -> set[Pair]:
    return {(a, c) for a, c in session.execute(select(CohortConsent.applicant_id, CohortConsent.credential_id))}


def my_cohorts(services: Services, applicant_id: str | None) -> list[CohortSection]:
    """The cohorts of each micro-credential the applicant works on, as they may see them (none for a non-applicant)."""
    if applicant_id is None:
        return []
    catalog = services.catalog.credentials
    with services.db.session() as session:
        pairs = _pairs(session)
        mine = sorted({c for a, c in pairs if a == applicant_id and c in catalog}, key=lambda c: catalog[c].title)
        others = [(a, c) for a, c in pairs if c in mine]
        people = _live_applicants(session, (a for a, _ in others))
        consents = _consents(session)
    sections = []
    for credential_id in mine:
        members = [
            Member(
                applicant_id=a,
                name=people[a].name,
                organisation=people[a].organisation,
                email=people[a].email,
                consented=(a, credential_id) in consents,
            )
            for a, c in others
            if c == credential_id and a in people
        ]
        view = peer_view(applicant_id, members)
        sections.append(CohortSection(credential_id=credential_id, title=catalog[credential_id].title, view=view))
    return sections


def set_consent(
    services: Services, applicant_id: str | None, credential_id: str, *, shown: bool, now: datetime
) -> bool:
    """Opt the applicant in (``shown``) or out of being shown to the others on one micro-credential.

    Withdrawal deletes the consent: the next page anyone opens no longer shows them.

    Returns:
        Whether they are now shown.

    Raises:
        NotFoundError: the applicant does not work on that micro-credential (or is nobody's applicant).
    """
    with services.db.session() as session:
        if applicant_id is None or (applicant_id, credential_id) not in _pairs(session):
            raise NotFoundError(f"no work on {credential_id!r} to connect")
        if not shown:
            session.execute(
                delete(CohortConsent).where(
                    CohortConsent.applicant_id == applicant_id, CohortConsent.credential_id == credential_id
                )
            )
            return False
        existing = session.scalar(
            select(CohortConsent.id).where(
                CohortConsent.applicant_id == applicant_id, CohortConsent.credential_id == credential_id
            )
        )
        if existing is not None:
            return True
    try:
        with services.db.session() as session:
            session.add(CohortConsent(applicant_id=applicant_id, credential_id=credential_id, consented_at=now))
    except IntegrityError:  # a second tab opted in meanwhile: they are shown either way
        pass
    return True


def _latest_states(session: Session) -> dict[Pair, str]:
    """The lifecycle state of each pair's latest attempt (a resubmitted one always has a later attempt)."""
    latest: dict[Pair, str] = {}
    rows = session.execute(
        select(Submission.applicant_id, Submission.credential_id, Submission.state).order_by(
            Submission.created_at, Submission.attempt, Submission.id
        )
    ).all()
    for applicant_id, credential_id, state in rows:
        pair = (applicant_id, credential_id)
        if state != State.RESUBMITTED.value or pair not in latest:
            latest[pair] = state
    return latest


def _in_scope(scope: ReportScope, credential: Credential, applicant: Applicant) -> bool:
    return scope.allows(program=credential.program, organisation=applicant.organisation)


def admin_cohorts(services: Services, scope: ReportScope) -> list[AdminCohort]:
    """Per micro-credential (by title), everyone in ``scope`` working on it, their status and their consent."""
    catalog = services.catalog.credentials
    with services.db.session() as session:
        pairs = {(a, c) for a, c in _pairs(session) if c in catalog}
        people = _live_applicants(session, (a for a, _ in pairs))
        consents = _consents(session)
        states = _latest_states(session)
    rows: dict[str, list[CohortRow]] = defaultdict(list)
    for applicant_id, credential_id in pairs:
        person = people.get(applicant_id)
        if person is None or not _in_scope(scope, catalog[credential_id], person):
            continue
        state = states.get((applicant_id, credential_id))
        rows[credential_id].append(
            CohortRow(
                applicant_id=applicant_id,
                educator=person.name,
                organisation=person.organisation,
                status=ReportStatus.NOT_STARTED if state is None else STATUS_OF_STATE[State(state)],
                consented=(applicant_id, credential_id) in consents,
            )
        )
    cohorts = [
        AdminCohort(
            credential_id=credential_id,
            title=catalog[credential_id].title,
            rows=tuple(sorted(found, key=lambda r: (r.educator.casefold(), r.organisation.casefold(), r.applicant_id))),
        )
        for credential_id, found in rows.items()
    ]
    return sorted(cohorts, key=lambda c: (c.title.casefold(), c.credential_id))


# -- milestones -------------------------------------------------------------------------------


def _first(days: dict[Pair, date], pair: Pair, moment: datetime | date) -> None:
    day = moment.date() if isinstance(moment, datetime) else moment
    if pair not in days or day < days[pair]:
        days[pair] = day


def _work_facts(session: Session, pairs: set[Pair]) -> list[WorkFacts]:
    """The first day of each stored fact of each pair (dates in UTC)."""
    enrolled: dict[Pair, date] = {}
    for a, c, on in session.execute(select(Enrolment.applicant_id, Enrolment.credential_id, Enrolment.enrolled_on)):
        _first(enrolled, (a, c), on)
    drafted: dict[Pair, date] = {}
    for a, c, at in session.execute(select(Draft.applicant_id, Draft.credential_id, Draft.created_at)):
        _first(drafted, (a, c), at)
    filed: dict[Pair, date] = {}
    for a, c, at in session.execute(
        select(Draft.applicant_id, Draft.credential_id, DraftFile.added_at).join(Draft, Draft.id == DraftFile.draft_id)
    ):
        _first(filed, (a, c), at)
    submitted: dict[Pair, date] = {}
    for a, c, at in session.execute(select(Submission.applicant_id, Submission.credential_id, Submission.created_at)):
        _first(submitted, (a, c), at)
    earned: dict[Pair, date] = {}
    for a, c, at in session.execute(
        select(Submission.applicant_id, Submission.credential_id, Decision.decided_at)
        .join(Submission, Submission.id == Decision.submission_id)
        .where(Decision.outcome == "earned")
    ):
        _first(earned, (a, c), at)
    badged: dict[Pair, date] = {}
    for a, c, at in session.execute(
        select(IssuedBadge.applicant_id, IssuedBadge.badge_key, IssuedBadge.valid_from).where(
            IssuedBadge.kind == "micro"
        )
    ):
        _first(badged, (a, c), at)
    return [
        WorkFacts(
            applicant_id=a,
            credential_id=c,
            enrolled_on=enrolled.get((a, c)),
            first_draft_on=drafted.get((a, c)),
            first_file_on=filed.get((a, c)),
            first_submitted_on=submitted.get((a, c)),
            earned_on=earned.get((a, c)),
            badge_on=badged.get((a, c)),
        )
        for a, c in sorted(pairs)
    ]


def recent_milestones(services: Services, scope: ReportScope, *, today: date, days: int) -> list[MilestoneRow]:
    """The milestones in ``scope`` of the last ``days`` days up to ``today``, newest first, with celebrations."""
    catalog = services.catalog.credentials
    with services.db.session() as session:
        pairs = {(a, c) for a, c in _pairs(session) if c in catalog}
        people = _live_applicants(session, (a for a, _ in pairs))
        kept = {(a, c) for a, c in pairs if a in people and _in_scope(scope, catalog[c], people[a])}
        facts = _work_facts(session, kept)
        celebrated = {
            (row.applicant_id, row.credential_id, row.milestone): (row.celebrated_at, row.celebrated_by)
            for row in session.scalars(select(MilestoneCelebration))
        }
    reached = recent((r for f in facts for r in milestones(f)), today=today, days=days)
    rows = []
    for r in reached:
        at, by = celebrated.get((r.applicant_id, r.credential_id, r.milestone.value), (None, None))
        person = people[r.applicant_id]
        rows.append(
            MilestoneRow(
                reached=r,
                educator=person.name,
                organisation=person.organisation,
                title=catalog[r.credential_id].title,
                celebrated_at=at,
                celebrated_by=by,
            )
        )
    return rows


def _next_link(public_url: str, credential_id: str, milestone: Milestone) -> tuple[str, str]:
    if milestone is Milestone.STARTED:
        return "Set your target dates", links.plan_url(public_url, credential_id)
    if milestone is Milestone.EVIDENCE:
        return "Open your draft", links.draft_url(public_url, credential_id)
    return "See your micro-credential and badge", links.credential_url(public_url, credential_id)


def celebrate(
    services: Services,
    *,
    applicant_id: str,
    credential_id: str,
    milestone: Milestone,
    admin_email: str,
    scope: ReportScope,
    now: datetime,
) -> Celebration:
    """Email the educator a celebration of one milestone (the admin gets a copy), once; record it.

    The educator's email answers to the admin (Reply-To); the admin's copy says what was sent. A
    milestone celebrated before, by this admin or another, sends nothing again.

    Raises:
        NotFoundError: no such educator or micro-credential in ``scope``, or the milestone is not reached.
        TransientError: the mail service failed for now, or another admin is sending it this moment:
            nothing is recorded, pressing again tries again.
    """
    catalog = services.catalog.credentials
    credential = catalog.get(credential_id)
    with services.db.session() as session:
        person = _live_applicants(session, [applicant_id]).get(applicant_id)
        pair = (applicant_id, credential_id)
        if credential is None or person is None or not _in_scope(scope, credential, person):
            raise NotFoundError("no such educator and micro-credential in your programs")
        if pair not in _pairs(session):
            raise NotFoundError("no such educator and micro-credential in your programs")
        reached = next(
            (r for f in _work_facts(session, {pair}) for r in milestones(f) if r.milestone is milestone), None
        )
        if reached is None:
            raise NotFoundError(f"{person.name} has not reached “{milestone.label}” on {credential.title}")
        done = session.scalar(
            select(MilestoneCelebration).where(
                MilestoneCelebration.applicant_id == applicant_id,
                MilestoneCelebration.credential_id == credential_id,
                MilestoneCelebration.milestone == milestone.value,
            )
        )
        educator, email, organisation = person.name, person.email, person.organisation
        if done is not None:
            return Celebration(Celebrated.ALREADY, educator, milestone, credential.title, done.celebrated_at)
    public = services.settings.public_url
    did, next_step = celebration_words(milestone)
    link_text, link = _next_link(public, credential_id, milestone)
    context = {
        "educator_name": educator,
        "organisation": organisation,
        "credential_title": credential.title,
        "milestone": milestone.value,
        "milestone_label": milestone.label,
        "did": did,
        "reached_on": weekday_date(reached.on),
        "next_step": next_step,
        "link_text": link_text,
        "link": link,
        "cohorts_url": f"{public.rstrip('/')}/me/cohorts",
        "milestones_url": f"{public.rstrip('/')}/admin/milestones",
        "admin_email": admin_email,
        "issuer_name": credential.issuer.name,
        "portal_url": links.credentials_url(public),
    }
    message = render_message(
        "celebration",
        idempotency_key=celebration_key(applicant_id, credential_id, milestone),
        to_email=email,
        to_name=educator,
        context=context,
        reply_to=admin_email,  # a thank-you reaches the admin who sent it
    )
    outcome = deliver(services, message, submission_id=None, now=now)
    if outcome.delivery is Delivery.FAILED:
        return Celebration(Celebrated.FAILED, educator, milestone, credential.title, error=outcome.error)
    try:
        with services.db.session() as session:
            session.add(
                MilestoneCelebration(
                    applicant_id=applicant_id,
                    credential_id=credential_id,
                    milestone=milestone.value,
                    reached_on=reached.on,
                    celebrated_at=now,
                    celebrated_by=admin_email,
                )
            )
    except IntegrityError:  # another admin's press recorded it meanwhile; the email went once
        pass
    note = render_message(
        "celebration_note",
        idempotency_key=celebration_note_key(applicant_id, credential_id, milestone),
        to_email=admin_email,
        to_name=admin_email,
        context={k: v for k, v in {**context, "educator_email": email}.items() if k != "portal_url"},
        reply_to=None,
    )
    with contextlib.suppress(TransientError):  # the admin's copy only: the celebration went out and is recorded
        deliver(services, note, submission_id=None, now=now)
    return Celebration(Celebrated.SENT, educator, milestone, credential.title, now)
