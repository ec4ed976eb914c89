"""A small world for the program admin workspace: two organisations' educators, hours, pathway badges and admins.

Rows are written directly (the review cycle is tested elsewhere), at fixed dates around NOW (Monday 23 November
2026): Westfield High's Ana and Ben, Hillcrest's Cara; each earned micro-credential has its hours record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from credflow.accounts.grants import add_grant
from credflow.db.models import Applicant, Decision, Enrolment, InServiceHours, IssuedBadge, Submission, new_id
from credflow.issuance.hours import confirmation_code
from credflow.services import Services

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
WESTFIELD = "Westfield High"
HILLCREST = "Hillcrest"
ANCHORING = "openscied-anchoring-phenomenon"
COHERENCE = "openscied-supporting-coherence"
UDL = "udl-level-1"
#: Admin addresses: one per organisation, one for both, one for the OpenSciEd program only.
WESTFIELD_ADMIN = "pd@westfield.org"
HILLCREST_ADMIN = "pd@hillcrest.org"
BOTH_ADMIN = "district@example.org"
PROGRAM_LEAD = "lead@openscied.org"


@dataclass(frozen=True)
class World:
    """The ids of the world's educators."""

    ana: str
    ben: str
    cara: str


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def _applicant(services: Services, name: str, email: str, organisation: str) -> str:
    with services.db.session() as session:
        row = Applicant(name=name, email=email, organisation=organisation)
        session.add(row)
        session.flush()
        return row.id


def _submission(services: Services, applicant_id: str, credential_id: str, *, state: str, received: datetime) -> str:
    with services.db.session() as session:
        session.add(Enrolment(applicant_id=applicant_id, credential_id=credential_id, enrolled_on=received.date()))
        row = Submission(
            applicant_id=applicant_id,
            credential_id=credential_id,
            attempt=1,
            state=state,
            idempotency_key=new_id(),
            created_at=received,
            state_since=received,
        )
        session.add(row)
        session.flush()
        return row.id


def earned(services: Services, applicant_id: str, credential_id: str, on: date) -> None:
    """An attempt received a week before ``on`` and earned on ``on``, with its decision and hours."""
    submission_id = _submission(
        services, applicant_id, credential_id, state="earned", received=_at(on) - timedelta(days=7)
    )
    with services.db.session() as session:
        decision = Decision(submission_id=submission_id, outcome="earned", decided_at=_at(on))
        session.add(decision)
        session.flush()
        session.add(
            InServiceHours(
                decision_id=decision.id,
                applicant_id=applicant_id,
                credential_id=credential_id,
                hours=services.catalog.get(credential_id).in_service_hours,
                earned_on=on,
                confirmation=confirmation_code(decision.id),
            )
        )


def pathway_badge(services: Services, applicant_id: str, badge_key: str, *, since: date, until: date | None) -> None:
    """A pathway badge issued on ``since``, valid until ``until`` (None: never expires)."""
    with services.db.session() as session:
        count = session.query(IssuedBadge).count()
        session.add(
            IssuedBadge(
                idempotency_key=new_id(),
                applicant_id=applicant_id,
                kind="pathway",
                badge_key=badge_key,
                issuer_id="openscied",
                status_index=1000 + count,
                valid_from=_at(since),
                valid_until=_at(until) if until else None,
            )
        )


def build_world(services: Services) -> World:
    """The educators, their work, hours and pathway badges, and the four admins' grants."""
    ana = _applicant(services, "Ana Alvarez", "ana@westfield.org", WESTFIELD)
    ben = _applicant(services, "Ben Okoro", "ben@westfield.org", WESTFIELD)
    cara = _applicant(services, "Cara Diaz", "cara@hillcrest.org", HILLCREST)
    earned(services, ana, ANCHORING, date(2026, 9, 15))
    earned(services, ana, UDL, date(2026, 10, 5))
    earned(services, ana, COHERENCE, date(2026, 11, 2))
    earned(services, ben, ANCHORING, date(2025, 12, 10))
    # Received ten business days ago, still in review: past its five-day target.
    _submission(services, ben, COHERENCE, state="in_review", received=datetime(2026, 11, 6, 15, 0, tzinfo=UTC))
    earned(services, cara, ANCHORING, date(2026, 10, 20))
    pathway_badge(services, ana, "openscied-certified-facilitator", since=date(2026, 11, 2), until=date(2027, 11, 2))
    pathway_badge(services, ben, "openscied-certified-facilitator", since=date(2025, 12, 10), until=date(2026, 12, 10))
    pathway_badge(services, cara, "openscied-expert-facilitator", since=date(2026, 10, 20), until=None)
    add_grant(services, WESTFIELD_ADMIN, organisations=(WESTFIELD,))
    add_grant(services, HILLCREST_ADMIN, organisations=(HILLCREST,))
    add_grant(services, BOTH_ADMIN, organisations=(WESTFIELD, HILLCREST))
    add_grant(services, PROGRAM_LEAD, programs=("openscied-facilitator",))
    return World(ana=ana, ben=ben, cara=cara)
