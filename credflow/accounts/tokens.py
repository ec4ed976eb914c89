"""Applicants' API tokens: made by a signed-in person, signed, stored by id, expiring and revocable.

The token is ``serializer(APPLICANT_TOKEN).dumps({"t": token id})``; a request's token counts only
while its row exists, is not revoked and has not expired, and it speaks for the row's person's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature
from sqlalchemy import select, update

from credflow.db.models import ApiToken, Person
from credflow.keyring import Purpose
from credflow.services import Services


class TokenRefused(Exception):
    """An API token that does not count; the message says why and how to get one."""


HOW = "sign in at {url}/sign-in with your address and make an API token on your home page"


@dataclass(frozen=True)
class TokenRow:
    """One of a person's tokens as the home page lists it (never the token itself)."""

    token_id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Whether the token still counts at ``now``."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class NewToken:
    """A token just made: shown once."""

    token: str
    token_id: str
    expires_at: datetime


def how_to_get_one(services: Services) -> str:
    """The sentence every refusal ends with."""
    return HOW.format(url=services.settings.public_url)


def issue_token(services: Services, person_id: str, *, now: datetime) -> NewToken:
    """Make an API token for a signed-in person, valid for ``api_token_days``."""
    expires = now + timedelta(days=services.settings.api_token_days)
    with services.db.session() as session:
        row = ApiToken(person_id=person_id, created_at=now, expires_at=expires)
        session.add(row)
        session.flush()
        token_id = row.id
    token = str(services.settings.keyring.serializer(Purpose.APPLICANT_TOKEN).dumps({"t": token_id}))
    return NewToken(token=token, token_id=token_id, expires_at=expires)


def token_email(services: Services, token: str, *, now: datetime) -> str:
    """The verified address a token speaks for.

    Raises:
        TokenRefused: forged, unknown, revoked or expired.
    """
    try:
        data = services.settings.keyring.serializer(Purpose.APPLICANT_TOKEN).loads(token) if len(token) < 400 else None
    except BadSignature:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise TokenRefused(f"this applicant token is not valid: {how_to_get_one(services)}")
    with services.db.session() as session:
        row = session.get(ApiToken, data["t"])
        if row is None:
            raise TokenRefused(f"this applicant token is not valid: {how_to_get_one(services)}")
        if row.revoked_at is not None:
            raise TokenRefused(f"this applicant token was revoked: {how_to_get_one(services)}")
        if now >= row.expires_at:
            raise TokenRefused(f"this applicant token expired on {row.expires_at:%Y-%m-%d}: {how_to_get_one(services)}")
        if row.last_used_at is None or now - row.last_used_at >= timedelta(minutes=1):
            row.last_used_at = now
        email = session.scalar(select(Person.email).where(Person.id == row.person_id))
        if email is None:
            raise TokenRefused(f"this applicant token is not valid: {how_to_get_one(services)}")
        return email


def tokens_of(services: Services, person_id: str) -> list[TokenRow]:
    """A person's tokens, newest first."""
    with services.db.session() as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.person_id == person_id).order_by(ApiToken.created_at.desc())
        )
        return [TokenRow(r.id, r.created_at, r.expires_at, r.last_used_at, r.revoked_at) for r in rows]


def revoke_token(services: Services, person_id: str, token_id: str, *, now: datetime) -> bool:
    """Revoke one of a person's tokens (compare-and-set); False when it is not theirs or already revoked."""
    with services.db.session() as session:
        done = session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]
