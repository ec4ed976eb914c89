"""The applicant's enrolments as the portal shows them, their plan's target dates, and the plan reminders.

What pages and the review sweep call: it reads the records into :mod:`credflow.plans.progress`'s facts,
stores target dates checked by :func:`credflow.plans.rules.check_plan`, and sends the reminders
:func:`credflow.plans.rules.due_reminders` finds, each once (its outbox key) and stamped as sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.db.models import (
    Applicant,
    Decision,
    Draft,
    Enrolment,
    Event,
    IssuedBadge,
    PlanTargetRow,
    Submission,
    utcnow,
)
from credflow.errors import NotFoundError
from credflow.formatting import weekday_date
from credflow.intake.rules import access_ends
from credflow.letters import links
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.rules import UNSENDABLE, Delivery, DeliveryOutcome
from credflow.notifications.stage import deliver
from credflow.plans.progress import AttemptFacts, BadgeFacts, EnrolmentFacts, Progress, summarise
from credflow.plans.rules import CheckedPlan, DueReminder, PlanRequirement, PlanTarget, check_plan, due_reminders
from credflow.services import Services
from credflow.states import BadgeState, DraftState


@dataclass(frozen=True)
class PlanRow:
    """One requirement of the plan form: its title, kind, and the target date set (if any)."""

    key: str
    title: str
    kind: str
    target: date | None
    reminded_on: date | None


@dataclass(frozen=True)
class PlanSweep:
    """What one sweep of the plans sent: the reminders' outbox keys, and those given up."""

    sent: tuple[str, ...]
    failed: tuple[str, ...]


def _draft_credentials(session: Session, applicant_id: str) -> set[str]:
    """The credentials the applicant has an open draft of."""
    query = select(Draft.credential_id).where(Draft.applicant_id == applicant_id, Draft.state == DraftState.OPEN.value)
    return set(session.scalars(query))


def _unlocks(session: Session, applicant_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Submission.credential_id, func.count())
        .join(Event, Event.submission_id == Submission.id)
        .where(Submission.applicant_id == applicant_id, Event.kind == "unlocked")
        .group_by(Submission.credential_id)
    ).all()
    return {credential_id: int(count) for credential_id, count in rows}


def _facts(session: Session, services: Services, applicant_id: str) -> list[EnrolmentFacts]:
    enrolments = session.scalars(
        select(Enrolment).where(Enrolment.applicant_id == applicant_id).order_by(Enrolment.enrolled_on, Enrolment.id)
    ).all()
    submissions = session.scalars(
        select(Submission)
        .where(Submission.applicant_id == applicant_id)
        .order_by(Submission.created_at, Submission.attempt, Submission.id)
    ).all()
    decisions = {
        d.submission_id: d
        for d in session.scalars(select(Decision).where(Decision.submission_id.in_([s.id for s in submissions])))
    }
    badges = session.scalars(
        select(IssuedBadge)
        .where(IssuedBadge.applicant_id == applicant_id, IssuedBadge.state != BadgeState.REVOKED)
        .order_by(IssuedBadge.valid_from, IssuedBadge.id)
    ).all()
    chains: dict[str, list[AttemptFacts]] = defaultdict(list)
    credential_of: dict[str, str] = {}
    for sub in submissions:
        decision = decisions.get(sub.id)
        credential_of[sub.id] = sub.credential_id
        chains[sub.credential_id].append(
            AttemptFacts(
                id=sub.id,
                attempt=sub.attempt,
                state=State(sub.state),
                submitted_at=sub.created_at,
                state_since=sub.state_since,
                decided_at=decision.decided_at if decision else None,
                outcome=decision.outcome if decision else None,
                problems=len(sub.problems or ()),
            )
        )
    earned: dict[str, list[BadgeFacts]] = defaultdict(list)
    for badge in badges:
        credential_id = credential_of.get(badge.submission_id or "")
        if credential_id is None:
            continue
        name = str(badge.ob3.get("credentialSubject", {}).get("achievement", {}).get("name") or badge.badge_key)
        # The micro-credential's own badge leads; a pathway badge the same attempt earned follows it.
        facts = BadgeFacts(id=badge.id, name=name, state=badge.state, valid_until=badge.valid_until)
        earned[credential_id].insert(0 if badge.kind == "micro" else len(earned[credential_id]), facts)
    drafts = _draft_credentials(session, applicant_id)
    unlocks = _unlocks(session, applicant_id)
    found = []
    for enrolment in enrolments:
        credential = services.catalog.credentials.get(enrolment.credential_id)
        if credential is None:  # taken out of the catalog: nothing to show or do
            continue
        found.append(
            EnrolmentFacts(
                credential_id=credential.id,
                title=credential.title,
                enrolled_on=enrolment.enrolled_on,
                access_ends=access_ends(enrolment.enrolled_on, credential.access_years),
                allowed_attempts=credential.max_attempts + unlocks.get(credential.id, 0),
                window_days=credential.resubmission_window_days,
                attempts=tuple(chains.get(credential.id, ())),
                badges=tuple(earned.get(credential.id, ())),
                has_draft=credential.id in drafts,
            )
        )
    return found


def my_credentials(services: Services, applicant_id: str | None, *, now: datetime) -> list[Progress]:
    """Every enrolment of the applicant, where it stands at ``now`` (none for someone who never applied)."""
    if applicant_id is None:
        return []
    with services.db.session() as session:
        facts = _facts(session, services, applicant_id)
    return [summarise(f, now=now) for f in facts]


def my_credential(services: Services, applicant_id: str | None, credential_id: str, *, now: datetime) -> Progress:
    """One enrolment of the applicant at ``now``.

    Raises:
        NotFoundError: the applicant has no enrolment in that credential (or is nobody's applicant).
    """
    found = next((p for p in my_credentials(services, applicant_id, now=now) if p.credential_id == credential_id), None)
    if found is None:
        raise NotFoundError(f"no enrolment in {credential_id!r}")
    return found


def owns_submission(services: Services, applicant_id: str | None, submission_id: str) -> bool:
    """Whether ``submission_id`` is one of the applicant's own submissions (False for anyone else's, or none)."""
    if applicant_id is None:
        return False
    with services.db.session() as session:
        owner = session.scalar(select(Submission.applicant_id).where(Submission.id == submission_id))
    return owner is not None and owner == applicant_id


def _requirements(credential: Credential) -> list[PlanRequirement]:
    return [PlanRequirement(key=req.key, title=req.title) for req in credential.evidence]


def plan_rows(services: Services, applicant_id: str, credential_id: str) -> list[PlanRow]:
    """The plan of one enrolment: every requirement in catalog order with its target date, if set."""
    credential = services.catalog.get(credential_id)
    with services.db.session() as session:
        stored = {
            row.requirement_key: row
            for row in session.scalars(
                select(PlanTargetRow).where(
                    PlanTargetRow.applicant_id == applicant_id, PlanTargetRow.credential_id == credential_id
                )
            )
        }
    rows = []
    for req in credential.evidence:
        row = stored.get(req.key)
        rows.append(
            PlanRow(
                key=req.key,
                title=req.title,
                kind=req.kind.value,
                target=row.target_date if row else None,
                reminded_on=row.reminded_at.date() if row and row.reminded_at else None,
            )
        )
    return rows


def check_plan_form(
    services: Services, applicant_id: str, credential_id: str, form: dict[str, str], *, today: date
) -> CheckedPlan:
    """Check a posted plan against the credential's requirements and the applicant's access window.

    Raises:
        NotFoundError: the applicant is not enrolled in the credential.
    """
    credential = services.catalog.get(credential_id)
    with services.db.session() as session:
        enrolment = session.scalar(
            select(Enrolment).where(Enrolment.applicant_id == applicant_id, Enrolment.credential_id == credential_id)
        )
        if enrolment is None:
            raise NotFoundError(f"no enrolment in {credential_id!r}")
        ends = access_ends(enrolment.enrolled_on, credential.access_years)
    return check_plan(form, _requirements(credential), today=today, access_ends=ends)


def save_plan(
    services: Services, applicant_id: str, credential_id: str, dates: dict[str, date | None], *, now: datetime
) -> int:
    """Store checked target dates (None removes one); a changed date is reminded afresh. Returns the rows changed."""
    changed = 0
    with services.db.session() as session:
        stored = {
            row.requirement_key: row
            for row in session.scalars(
                select(PlanTargetRow).where(
                    PlanTargetRow.applicant_id == applicant_id, PlanTargetRow.credential_id == credential_id
                )
            )
        }
        for key, value in dates.items():
            row = stored.get(key)
            if value is None:
                if row is not None:
                    session.delete(row)
                    changed += 1
            elif row is None:
                session.add(
                    PlanTargetRow(
                        applicant_id=applicant_id,
                        credential_id=credential_id,
                        requirement_key=key,
                        target_date=value,
                        created_at=now,
                        updated_at=now,
                    )
                )
                changed += 1
            elif row.target_date != value:
                row.target_date, row.reminded_at, row.updated_at = value, None, now
                changed += 1
    return changed


def _open_plans(services: Services, session: Session, now: datetime) -> dict[tuple[str, str], bool]:
    """Per (applicant, credential) with targets: whether the applicant is still collecting its evidence."""
    pairs = {
        (str(a), str(c))
        for a, c in session.execute(select(PlanTargetRow.applicant_id, PlanTargetRow.credential_id).distinct())
    }
    open_: dict[tuple[str, str], bool] = {}
    for applicant_id in {a for a, _ in pairs}:
        for facts in _facts(session, services, applicant_id):
            open_[(applicant_id, facts.credential_id)] = summarise(facts, now=now).plan_open
    return {pair: open_.get(pair, False) for pair in pairs}


def due_plan_reminders(services: Services, *, now: datetime) -> list[DueReminder]:
    """The plan reminders due on ``now``'s day (targets of plans still open, not reminded in the current window)."""
    with services.db.session() as session:
        open_ = _open_plans(services, session, now)
        targets = [
            PlanTarget(
                id=row.id,
                credential_id=row.credential_id,
                requirement_key=row.requirement_key,
                target_date=row.target_date,
                reminded_on=row.reminded_at.date() if row.reminded_at else None,
                open=open_.get((row.applicant_id, row.credential_id), False),
            )
            for row in session.scalars(select(PlanTargetRow))
        ]
    return due_reminders(targets, now.date())


def _day(value: date) -> str:
    return weekday_date(value)


def _when(days_left: int) -> str:
    return "today" if days_left == 0 else "tomorrow" if days_left == 1 else f"in {days_left} days"


def send_plan_reminder(services: Services, reminder: DueReminder, *, now: datetime) -> DeliveryOutcome | None:
    """Email one plan reminder (key ``plan_reminder:<target>:<date>:<days>``, once) and stamp the target reminded.

    Returns None, sending nothing, when the target was removed or its date changed since it was found due.
    """
    public = services.settings.public_url
    with services.db.session() as session:
        row = session.get(PlanTargetRow, reminder.target.id)
        if row is None or row.target_date != reminder.target.target_date:  # changed or removed meanwhile
            return None
        credential = services.catalog.get(row.credential_id)
        titles = {req.key: req.title for req in credential.evidence}
        applicant = session.get_one(Applicant, row.applicant_id)
        message = render_message(
            "plan_reminder",
            idempotency_key=reminder.key,
            to_email=applicant.email,
            to_name=applicant.name,
            reply_to=credential.reply_to,
            context={
                "applicant_name": applicant.name,
                "credential_title": credential.title,
                "issuer_name": credential.issuer.name,
                "requirement_title": titles.get(row.requirement_key, row.requirement_key),
                "target_date": _day(row.target_date),
                "when": _when(reminder.days_left),
                "draft_url": links.draft_url(public, credential.id),
                "plan_url": links.plan_url(public, credential.id),
                "portal_url": links.credentials_url(public),
            },
        )
    outcome = deliver(services, message, submission_id=None, now=now)
    with services.db.session() as session:
        row = session.get(PlanTargetRow, reminder.target.id)
        if row is not None and row.target_date == reminder.target.target_date:
            row.reminded_at = now
    return outcome


def send_plan_reminders(services: Services, *, now: datetime | None = None) -> PlanSweep:
    """Send every plan reminder due today, each once; what the review sweep calls."""
    now = now or utcnow()
    sent: list[str] = []
    failed: list[str] = []
    for reminder in due_plan_reminders(services, now=now):
        try:
            outcome = send_plan_reminder(services, reminder, now=now)
        except UNSENDABLE:
            failed.append(reminder.key)
            continue
        if outcome is not None:
            (failed if outcome.delivery is Delivery.FAILED else sent).append(reminder.key)
    return PlanSweep(tuple(sent), tuple(failed))


def plan_requirements(services: Services, credential_id: str) -> Sequence[PlanRequirement]:
    """The requirements a plan of ``credential_id`` has a date for, in catalog order."""
    return _requirements(services.catalog.get(credential_id))
