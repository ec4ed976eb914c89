"""The program admin workspace's stage: read the scoped rows, send and verify the director's confirmations.

Everything here takes the asker's :class:`~credflow.reports.rules.ReportScope`: nothing outside it is
read into a result (an admin of one organisation never gets another's educators, hours or badges).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from itsdangerous import BadSignature
from sqlalchemy import select

from credflow.db.models import Applicant, Enrolment, HoursConfirmation, InServiceHours, IssuedBadge, Submission
from credflow.errors import CredflowError
from credflow.formatting import long_date
from credflow.issuance.hours import HoursRecord
from credflow.keyring import Purpose
from credflow.lifecycle import State
from credflow.mail.render import render_message
from credflow.notifications.stage import deliver
from credflow.programs.rules import (
    BadgeStanding,
    ConfirmationContent,
    ConfirmationRequest,
    HeldBadge,
    HoursLine,
    badge_standing,
    confirmation_lines,
    content_digest,
    hours_text,
    narrowed,
    organisation_choices,
    overdue,
    program_titles,
)
from credflow.reports.rules import UNLISTED_PROGRAM, ProgramReport, ProgramSection, ReportScope
from credflow.reports.stage import program_report
from credflow.services import Services
from credflow.states import BadgeState

#: Lifecycle states of work waiting for a decision (the decision-time SLA's "overdue" counts these).
WAITING = frozenset(
    {
        State.RECEIVED,
        State.VALIDATING,
        State.TRANSCODING,
        State.AWAITING_REVIEW,
        State.FAILED,
        State.IN_REVIEW,
        State.ADJUDICATING,
    }
)
#: Longest verification token accepted (a real one is about 150 characters).
MAX_TOKEN = 400


class NothingToConfirm(CredflowError):
    """The educator earned no hours in the period: there is nothing for the director to confirm."""


@dataclass(frozen=True)
class ProgramView:
    """One program of the workspace: its report section, title, overdue work and the pathway badges held."""

    section: ProgramSection
    title: str
    overdue: int
    badges: tuple[HeldBadge, ...]


@dataclass(frozen=True)
class Workspace:
    """The admin's home: each program in scope, and the organisations they may filter by."""

    report: ProgramReport
    programs: tuple[ProgramView, ...]
    organisations: tuple[str, ...]
    organisation: str | None


def titles_of(services: Services) -> dict[str, str]:
    """Program id -> title (see :func:`credflow.programs.rules.program_titles`)."""
    titles = program_titles(services.catalog.credentials, services.pathways)
    titles.setdefault(UNLISTED_PROGRAM, UNLISTED_PROGRAM)
    return titles


def _program_of(services: Services, credential_id: str) -> str:
    credential = services.catalog.credentials.get(credential_id)
    return UNLISTED_PROGRAM if credential is None else credential.program


def scope_organisations(services: Services, scope: ReportScope) -> tuple[str, ...]:
    """The organisations the asker may filter by (their grant's, or those of the educators they see)."""
    with services.db.session() as session:
        pairs = {
            *session.execute(select(Applicant.organisation, Enrolment.credential_id).join(Enrolment)).tuples(),
            *session.execute(select(Applicant.organisation, Submission.credential_id).join(Submission)).tuples(),
        }
    seen = [org for org, cid in pairs if scope.allows(program=_program_of(services, cid), organisation=org)]
    return organisation_choices(scope, seen)


def _overdue(services: Services, scope: ReportScope, now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    with services.db.session() as session:
        waiting = session.execute(
            select(Submission.credential_id, Submission.created_at, Applicant.organisation)
            .join(Applicant)
            .where(Submission.state.in_([state.value for state in WAITING]))
        ).tuples()
        for credential_id, received, organisation in waiting:
            program = _program_of(services, credential_id)
            credential = services.catalog.credentials.get(credential_id)
            if credential is None or not scope.allows(program=program, organisation=organisation):
                continue
            days = services.calendar_for(credential_id).business_days_between(received, now)
            if overdue(business_days=days, target=credential.decision_target_business_days):
                counts[program] = counts.get(program, 0) + 1
    return counts


def held_badges(services: Services, scope: ReportScope, *, now: datetime) -> list[HeldBadge]:
    """The pathway badges educators in scope hold (the latest of each), expired ones marked; revoked ones left out.

    Returns:
        By program, organisation, educator and badge name.
    """
    known: dict[str, tuple[str, str]] = {}  # badge id -> (name, program)
    for pathway in services.pathways.values():
        steps = [services.catalog.credentials[s] for s in pathway.steps if s in services.catalog.credentials]
        program = steps[0].program if steps else pathway.id
        for offered in pathway.badges:
            known[offered.id] = (offered.name, program)
    latest: dict[tuple[str, str], tuple[IssuedBadge, Applicant]] = {}
    with services.db.session() as session:
        rows = session.execute(
            select(IssuedBadge, Applicant)
            .join(Applicant, Applicant.id == IssuedBadge.applicant_id)
            .where(
                IssuedBadge.kind == "pathway",
                IssuedBadge.state.in_([BadgeState.ACTIVE, BadgeState.EXPIRED, BadgeState.SUPERSEDED]),
            )
            .order_by(IssuedBadge.valid_from, IssuedBadge.created_at)
        ).tuples()
        for badge, applicant in rows:
            latest[(applicant.id, badge.badge_key)] = (badge, applicant)  # the newest wins
        found = []
        for (applicant_id, key), (badge, applicant) in latest.items():
            name, program = known.get(key, (key, UNLISTED_PROGRAM))
            if not scope.allows(program=program, organisation=applicant.organisation):
                continue
            found.append(
                HeldBadge(
                    applicant_id=applicant_id,
                    educator=applicant.name,
                    organisation=applicant.organisation,
                    program=program,
                    badge_id=badge.id,
                    name=name,
                    valid_from=badge.valid_from.date(),
                    valid_until=badge.valid_until.date() if badge.valid_until else None,
                    standing=badge_standing(badge.valid_until, now=now)
                    if badge.state != BadgeState.EXPIRED
                    else BadgeStanding.EXPIRED,
                )
            )
    return sorted(found, key=lambda b: (b.program, b.organisation.casefold(), b.educator.casefold(), b.name))


def workspace(services: Services, *, scope: ReportScope, now: datetime, organisation: str | None = None) -> Workspace:
    """The admin's home: every program of their scope (by title) with its educators, SLA and badges held.

    Args:
        services: The composition root's services.
        scope: The asker's scope.
        now: The moment the page is made.
        organisation: One organisation to keep (already checked to be in the scope), or None for all.

    Returns:
        The workspace.
    """
    kept = narrowed(scope, organisation)
    report = program_report(services, now=now, scope=kept)
    titles = titles_of(services)
    late = _overdue(services, kept, now)
    badges = held_badges(services, kept, now=now)
    programs = tuple(
        ProgramView(
            section=section,
            title=titles.get(section.program, section.program),
            overdue=late.get(section.program, 0),
            badges=tuple(b for b in badges if b.program == section.program),
        )
        for section in sorted(report.programs, key=lambda s: titles.get(s.program, s.program).casefold())
    )
    return Workspace(
        report=report,
        programs=programs,
        organisations=scope_organisations(services, scope),
        organisation=organisation,
    )


def hours_lines(services: Services, *, scope: ReportScope) -> list[HoursLine]:
    """Every in-service hours record in scope, oldest first (then by educator's email)."""
    lines = []
    with services.db.session() as session:
        rows = session.execute(
            select(InServiceHours, Applicant)
            .join(Applicant, Applicant.id == InServiceHours.applicant_id)
            .order_by(InServiceHours.earned_on, Applicant.email, InServiceHours.credential_id)
        ).tuples()
        for hours, applicant in rows:
            program = _program_of(services, hours.credential_id)
            if not scope.allows(program=program, organisation=applicant.organisation):
                continue
            credential = services.catalog.credentials.get(hours.credential_id)
            record = HoursRecord(
                applicant_name=applicant.name,
                applicant_email=applicant.email,
                organisation=applicant.organisation,
                credential_id=hours.credential_id,
                credential_title=hours.credential_id if credential is None else credential.title,
                hours=hours.hours,
                earned_on=hours.earned_on,
                decision_id=hours.decision_id,
                confirmation=hours.confirmation,
            )
            lines.append(HoursLine(applicant_id=applicant.id, program=program, record=record))
    return lines


def scoped_credentials(services: Services, scope: ReportScope) -> dict[str, str]:
    """The micro-credentials of the programs in scope (id -> title), by title."""
    found = {c.id: c.title for c in services.catalog if scope.shows_program(c.program)}
    return dict(sorted(found.items(), key=lambda item: item[1].casefold()))


# -- the director's confirmation -------------------------------------------------------------


@dataclass(frozen=True)
class SentConfirmation:
    """A confirmation as the hours page lists it: what it says, and its verification link."""

    id: str
    content: ConfirmationContent
    url: str


def verification_token(services: Services, confirmation_id: str, digest: str) -> str:
    """The signed token of a confirmation's verification link (names its id and content digest)."""
    serializer = services.settings.keyring.serializer(Purpose.HOURS_CONFIRMATION)
    return str(serializer.dumps({"id": confirmation_id, "digest": digest}))


def verification_url(services: Services, confirmation_id: str, digest: str) -> str:
    """The public page that shows a confirmation is genuine."""
    token = verification_token(services, confirmation_id, digest)
    return f"{services.settings.public_url}/hours/confirmations/{token}"


def send_confirmation(
    services: Services, request: ConfirmationRequest, *, scope: ReportScope, sent_by: str, now: datetime
) -> SentConfirmation:
    """Record and email the director's confirmation of one educator's hours in a period.

    Only the hours within the sender's scope are listed. The email goes through the outbox (once
    per confirmation), Reply-To the program's support address, with the verification link.

    Raises:
        NothingToConfirm: the educator earned no hours (in scope) in the period.
    """
    mine = [line for line in hours_lines(services, scope=scope) if line.applicant_id == request.applicant_id]
    lines = confirmation_lines(mine, start=request.start, end=request.end)
    if not lines:
        raise NothingToConfirm(
            f"No in-service hours were earned between {request.start:%Y-%m-%d} and {request.end:%Y-%m-%d}: "
            "there is nothing to confirm for that period."
        )
    record = mine[0].record
    content = ConfirmationContent(
        educator_name=record.applicant_name,
        educator_email=record.applicant_email,
        organisation=record.organisation,
        start=request.start,
        end=request.end,
        lines=lines,
        director_name=request.director_name,
        director_email=request.director_email,
        sent_by=sent_by,
        sent_at=now,
    )
    data = content.to_json()
    digest = content_digest(data)
    with services.db.session() as session:
        row = HoursConfirmation(
            applicant_id=request.applicant_id,
            period_start=request.start,
            period_end=request.end,
            director_name=request.director_name,
            director_email=request.director_email,
            sent_by=sent_by,
            sent_at=now,
            content=data,
            digest=digest,
            message_key="",
        )
        session.add(row)
        session.flush()
        row.message_key = f"hours_confirmation:{row.id}"
        confirmation_id, key = row.id, row.message_key
    url = verification_url(services, confirmation_id, digest)
    credential = services.catalog.get(lines[0].credential_id)
    message = render_message(
        "hours_confirmation",
        idempotency_key=key,
        to_email=request.director_email,
        to_name=request.director_name,
        reply_to=credential.reply_to,
        context={
            "director_name": request.director_name,
            "educator_name": content.educator_name,
            "organisation": content.organisation,
            "start": long_date(request.start),
            "end": long_date(request.end),
            "lines": [
                {
                    "title": line.credential_title,
                    "earned_on": long_date(line.earned_on),
                    "hours": hours_text(line.hours),
                    "code": line.code,
                }
                for line in lines
            ],
            "total": hours_text(content.total_hours),
            "url": url,
            "sent_by": sent_by,
            "issuer_name": credential.issuer.name,
        },
    )
    deliver(services, message, submission_id=None, now=now)
    return SentConfirmation(id=confirmation_id, content=content, url=url)


def sent_confirmations(services: Services, *, scope: ReportScope, limit: int = 50) -> list[SentConfirmation]:
    """The confirmations sent for educators in scope, newest first (at most ``limit``)."""
    found = []
    with services.db.session() as session:
        rows = session.execute(
            select(HoursConfirmation, Applicant)
            .join(Applicant, Applicant.id == HoursConfirmation.applicant_id)
            .order_by(HoursConfirmation.sent_at.desc(), HoursConfirmation.id)
        ).tuples()
        for row, applicant in rows:
            try:
                content = ConfirmationContent.from_json(row.content)
            except (KeyError, TypeError, ValueError):
                continue
            programs = {_program_of(services, line.credential_id) for line in content.lines}
            if not any(scope.allows(program=p, organisation=applicant.organisation) for p in programs):
                continue
            found.append(
                SentConfirmation(id=row.id, content=content, url=verification_url(services, row.id, row.digest))
            )
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class Verification:
    """What the public verification page says: genuine (with the content) or not valid (with why)."""

    valid: bool
    content: ConfirmationContent | None = None
    reason: str = ""


NOT_VALID = (
    "This link does not match a confirmation credflow sent: it may have been changed or typed wrongly. "
    "Ask the program admin who sent it for a new confirmation."
)


def verify_confirmation(services: Services, token: str) -> Verification:
    """Check a verification link's token: its signature, the stored confirmation, and that it is unchanged.

    Returns:
        Valid with the confirmation's content, or not valid with the reason in words.
    """
    if len(token) > MAX_TOKEN:
        return Verification(False, reason=NOT_VALID)
    try:
        claims = services.settings.keyring.serializer(Purpose.HOURS_CONFIRMATION).loads(token)
    except BadSignature:
        return Verification(False, reason=NOT_VALID)
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("id"), str)
        or not isinstance(claims.get("digest"), str)
    ):
        return Verification(False, reason=NOT_VALID)
    with services.db.session() as session:
        row = session.get(HoursConfirmation, claims["id"][:32])
        if row is None:
            return Verification(
                False,
                reason="This confirmation is no longer on record (it was withdrawn or the educator's data erased).",
            )
        data = dict(row.content)
        stored_digest = row.digest
    if content_digest(data) != claims["digest"] or stored_digest != claims["digest"]:
        return Verification(
            False, reason="The record of this confirmation was changed after it was sent: it is not valid."
        )
    try:
        return Verification(True, content=ConfirmationContent.from_json(data))
    except (KeyError, TypeError, ValueError):
        return Verification(False, reason=NOT_VALID)


def confirmation_period_default(today: date) -> tuple[date, date]:
    """The school year ``today`` falls in (1 July to 30 June), the confirmation form's default period."""
    start_year = today.year if today.month >= 7 else today.year - 1
    return date(start_year, 7, 1), date(start_year + 1, 6, 30)
