"""Test builders for verified identities: a person who signed in, and their applicant API token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from credflow.accounts.tokens import issue_token
from credflow.db.models import Person, utcnow
from credflow.services import Services


def verified_person(services: Services, email: str, *, now: datetime | None = None) -> str:
    """The person id of ``email`` as if it had signed in through its link (made when new)."""
    address = email.strip().lower()
    with services.db.session() as session:
        person_id = session.scalar(select(Person.id).where(Person.email == address))
        if person_id is None:
            person = Person(email=address, created_at=now or utcnow(), last_signed_in_at=now or utcnow())
            session.add(person)
            session.flush()
            person_id = person.id
        return person_id


def api_token(services: Services, email: str, *, now: datetime | None = None) -> str:
    """An applicant API token for ``email``, as its signed-in owner makes one on the home page."""
    moment = now or utcnow()
    return issue_token(services, verified_person(services, email, now=moment), now=moment).token


def bearer(services: Services, email: str, *, now: datetime | None = None) -> dict[str, str]:
    """The ``Authorization`` header of a fresh API token for ``email``."""
    return {"Authorization": f"Bearer {api_token(services, email, now=now)}"}
