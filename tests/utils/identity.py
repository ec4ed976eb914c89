"""Test builders for verified identities: a person who signed in, and their applicant API token."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from fastapi.testclient import TestClient
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


def emailed_sign_in_links(outbox: Path, email: str) -> list[str]:
    """The sign-in links (full URLs) the outbox holds for ``email``, oldest first."""
    found = []
    for eml in sorted(outbox.glob("sign_in*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        if email.lower() not in str(message["To"]).lower() or body is None:
            continue
        found.extend(re.findall(r"https?://\S+/sign-in/[A-Za-z0-9_.\-]+", body.get_content()))
    return found


def session_cookie(services: Services, email: str, *, now: datetime) -> tuple[str, str]:
    """A signed-in session's cookie (name, value) for ``email``, made through a sign-in link as the browser would."""
    from credflow.accounts.signin import make_link, use_link
    from credflow.keyring import Purpose

    sent = make_link(services, email=email.strip().lower(), next_path=None, now=now)
    opened = use_link(services, sent.url.rsplit("/", 1)[1], now=now)
    secure = services.settings.public_url.startswith("https://")
    name = "__Host-credflow_session" if secure else "credflow_session"
    return name, str(services.settings.keyring.serializer(Purpose.SESSION).dumps(opened.secret))


#: The hidden double-submit field of every signed-in form.
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page (the test fails when the page has none)."""
    match = CSRF_FIELD.search(html)
    assert match is not None, "no csrf field on the page"
    return match.group(1)


def signed_in_client(
    services: Services, email: str | None, *, now: Callable[[], datetime], follow_redirects: bool = True
) -> TestClient:
    """A browser on an app whose clock is ``now``, signed in as ``email`` (signed out with None)."""
    from web.app import create_app  # the web app only for the tests that ask for a client

    client = TestClient(create_app(services, now=now), follow_redirects=follow_redirects)
    if email is not None:
        name, value = session_cookie(services, email, now=now())
        client.cookies.set(name, value)
    return client
