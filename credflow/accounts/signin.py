"""Sign-in by emailed link and the sessions it opens (the stage: database and mail).

A link carries a signed ``(link id, nonce)``; the database keeps the nonce's sha256, and
using the link sets ``used_at`` by compare-and-set, so a link signs in once however often it
is posted. A session's secret lives only in the browser's cookie; the database keeps its sha256
with the person, the times and ``revoked_at``. Every address may ask for a link (anyone may
apply), so the answer never tells whether an address is known.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.accounts.grants import grant_of
from credflow.accounts.rules import Identity, SessionTimes, digest, link_problem, roles_of, safe_next
from credflow.db.models import ApiToken, Applicant, Person, PersonSession, Reviewer, SignInLink
from credflow.keyring import Purpose
from credflow.mail.base import Message
from credflow.mail.render import render_message
from credflow.services import Services


class LinkRefused(Exception):
    """A sign-in link that cannot be used; the message is for the person holding it."""


@dataclass(frozen=True)
class SentLink:
    """A sign-in link made for an address: the message to send and the link's id."""

    link_id: str
    url: str
    message: Message


@dataclass(frozen=True)
class OpenedLink:
    """A valid, unused sign-in link: whose it is and where it leads."""

    link_id: str
    email: str
    next_path: str


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the cookie's secret (shown once, stored hashed) and who signed in."""

    secret: str
    person_id: str
    next_path: str


def session_times(services: Services) -> SessionTimes:
    """The settings' session lifetimes."""
    settings = services.settings
    return SessionTimes(
        idle=timedelta(minutes=settings.session_idle_minutes), absolute=timedelta(hours=settings.session_max_hours)
    )


def make_link(services: Services, *, email: str, next_path: str | None, now: datetime) -> SentLink:
    """Record a new sign-in link for ``email`` (already normalised) and render its message.

    Args:
        services: The composition root's services.
        email: The address the link goes to.
        next_path: Where the link leads after sign-in (a path on this site; anything else leads home).
        now: The moment the link is made (it expires ``sign_in_link_minutes`` later).

    Returns:
        The link's id, URL and message (the caller sends it).
    """
    minutes = services.settings.sign_in_link_minutes
    nonce = secrets.token_urlsafe(24)
    link = SignInLink(
        email=email,
        nonce_hash=digest(nonce),
        next_path=safe_next(next_path),
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    with services.db.session() as session:
        session.add(link)
        session.flush()
        link_id = link.id
    token = services.settings.keyring.serializer(Purpose.SIGN_IN_LINK).dumps({"l": link_id, "n": nonce})
    url = f"{services.settings.public_url}/sign-in/{token}"
    message = render_message(
        "sign_in",
        idempotency_key=f"sign_in:{link_id}",
        to_email=email,
        to_name=email,
        context={"url": url, "minutes": minutes, "expires": f"{now + timedelta(minutes=minutes):%H:%M} UTC"},
    )
    return SentLink(link_id=link_id, url=url, message=message)


def _parse(services: Services, token: str) -> tuple[str, str] | None:
    if len(token) > 400:
        return None
    try:
        data = services.settings.keyring.serializer(Purpose.SIGN_IN_LINK).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("l"), str) or not isinstance(data.get("n"), str):
        return None
    return data["l"], data["n"]


def open_link(services: Services, token: str, *, now: datetime) -> OpenedLink:
    """Check a sign-in link without using it (the confirmation page; mail scanners may fetch it).

    Raises:
        LinkRefused: forged, unknown, used or expired, saying which.
    """
    parsed = _parse(services, token)
    with services.db.session() as session:
        link = session.get(SignInLink, parsed[0]) if parsed else None
        found = link is not None and parsed is not None and secrets.compare_digest(link.nonce_hash, digest(parsed[1]))
        problem = link_problem(
            found=found,
            used_at=link.used_at if link else None,
            expires_at=link.expires_at if link else None,
            now=now,
        )
        if problem is not None or link is None:
            raise LinkRefused(problem)
        return OpenedLink(link_id=link.id, email=link.email, next_path=link.next_path)


def use_link(services: Services, token: str, *, now: datetime) -> NewSession:
    """Use a sign-in link once: mark it used (compare-and-set), make the person if new, open a session.

    Raises:
        LinkRefused: the link cannot be used (a second use included).
    """
    opened = open_link(services, token, now=now)
    secret = secrets.token_urlsafe(32)
    times = session_times(services)
    with services.db.session() as session:
        claimed = session.execute(
            update(SignInLink)
            .where(SignInLink.id == opened.link_id, SignInLink.used_at.is_(None), SignInLink.expires_at > now)
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkRefused("This sign-in link was already used: each link signs in once. Ask for a new one below.")
        person = _person(session, opened.email, now)
        session.add(
            PersonSession(
                id_hash=digest(secret),
                person_id=person.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + times.absolute,
            )
        )
        return NewSession(secret=secret, person_id=person.id, next_path=opened.next_path)


def _person(session: Session, email: str, now: datetime) -> Person:
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        try:
            with session.begin_nested():
                person = Person(email=email, created_at=now, last_signed_in_at=now)
                session.add(person)
        except IntegrityError:  # the same address signed in twice at once
            person = session.scalar(select(Person).where(Person.email == email))
            assert person is not None
    person.last_signed_in_at = now
    session.flush()
    return person


def identity_of(services: Services, person_id: str) -> Identity | None:
    """Who a person is now: address, roles (from the pool and the grants at this moment) and applicant record."""
    with services.db.session() as session:
        person = session.get(Person, person_id)
        if person is None:
            return None
        applicant_id = session.scalar(select(Applicant.id).where(Applicant.email == person.email))
        reviewer = session.scalar(select(Reviewer).where(Reviewer.email == person.email, Reviewer.in_pool.is_(True)))
        grant = grant_of(session, person.email)
        return Identity(
            person_id=person.id,
            email=person.email,
            roles=roles_of(
                applicant=applicant_id is not None,
                reviewer=reviewer is not None,
                lead=bool(reviewer and reviewer.is_lead),
                grant=grant,
            ),
            applicant_id=applicant_id,
            reviewer_name=reviewer.name if reviewer else None,
            grant=grant,
        )


def resume(services: Services, secret: str, *, now: datetime) -> Identity | None:
    """The person of a session cookie's secret, if the session holds (not revoked, idle or past its end).

    A resumed session's ``last_seen_at`` moves to ``now`` (at most once a minute), which keeps it from idling out.
    """
    if not secret or len(secret) > 200:
        return None
    times = session_times(services)
    with services.db.session() as session:
        row = session.get(PersonSession, digest(secret))
        if row is None or row.revoked_at is not None:
            return None
        if not times.open_at(last_seen_at=row.last_seen_at, expires_at=row.expires_at, now=now):
            return None
        if now - row.last_seen_at >= timedelta(minutes=1):
            row.last_seen_at = now
        person_id = row.person_id
    return identity_of(services, person_id)


def session_key(secret: str) -> str:
    """What binds a form to a session (its stored hash: the secret itself never leaves the cookie)."""
    return digest(secret)


def sign_out(services: Services, secret: str, *, now: datetime) -> None:
    """Revoke one session (idempotent)."""
    with services.db.session() as session:
        session.execute(
            update(PersonSession)
            .where(PersonSession.id_hash == digest(secret), PersonSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def sign_out_everywhere(services: Services, person_id: str, *, now: datetime) -> int:
    """Revoke every session and every API token of a person; returns how many sessions were open."""
    with services.db.session() as session:
        ended = session.execute(
            update(PersonSession)
            .where(PersonSession.person_id == person_id, PersonSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.execute(
            update(ApiToken)
            .where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(ended.rowcount)  # type: ignore[attr-defined]


def forget_address(session: Session, email: str) -> int:
    """Delete what accounts hold about an address (for erasure): its person, sessions, API tokens and links.

    Admin grants are kept: they are the operator's records of who may see what, not the person's data.

    Args:
        session: The caller's session (erasure's transaction).
        email: The address, as stored (lower-cased).

    Returns:
        How many rows were deleted.
    """
    deleted = 0
    person_id = session.scalar(select(Person.id).where(Person.email == email))
    if person_id is not None:
        for model in (PersonSession, ApiToken):
            deleted += int(session.execute(delete(model).where(model.person_id == person_id)).rowcount)  # type: ignore[attr-defined]
        deleted += int(session.execute(delete(Person).where(Person.id == person_id)).rowcount)  # type: ignore[attr-defined]
    deleted += int(session.execute(delete(SignInLink).where(SignInLink.email == email)).rowcount)  # type: ignore[attr-defined]
    return deleted
