"""Sign-in records end with the data: erasure and the daily retention flow delete them.

Erasure deletes the address's person, sessions and API tokens; the daily retention flow deletes links and
sessions that ended.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from credflow.accounts.signin import make_link, resume, use_link
from credflow.accounts.tokens import TokenRefused, token_email
from credflow.db.models import ApiToken, Person, PersonSession, SignInLink
from credflow.intake.rules import ApplicantInfo
from credflow.intake.stage import submit
from credflow.privacy.erase import erase_applicant
from credflow.retention.stage import sweep_sign_ins
from tests.utils.builders import anchoring_request
from tests.utils.identity import api_token

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANA = ApplicantInfo("Ana Alvarez", "ana@example.org", "Westfield High")


def _signed_in(services, email: str, now: datetime) -> str:
    """A session secret for ``email``, through a link used at ``now``."""
    link = make_link(services, email=email, next_path=None, now=now)
    return use_link(services, link.url.rsplit("/", 1)[1], now=now).secret


def _count(services, model) -> int:
    with services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_erasing_an_applicant_ends_their_sessions_and_tokens(services, tmp_path) -> None:
    submit(services, anchoring_request(tmp_path, who=ANA), now=NOW)
    secret = _signed_in(services, ANA.email, NOW)
    token = api_token(services, ANA.email, now=NOW)
    other = _signed_in(services, "ben@example.org", NOW)
    assert resume(services, secret, now=NOW) is not None and token_email(services, token, now=NOW) == ANA.email

    report = erase_applicant(services, ANA.email, reason="the applicant asked", withdraw=True, now=NOW)

    assert report.sign_in_records >= 3  # the person, the session, the token (and the used link)
    assert resume(services, secret, now=NOW) is None
    with pytest.raises(TokenRefused):
        token_email(services, token, now=NOW)
    with services.db.session() as session:
        assert session.scalar(select(Person).where(Person.email == ANA.email)) is None
        assert session.scalar(select(SignInLink).where(SignInLink.email == ANA.email)) is None
    assert resume(services, other, now=NOW) is not None  # someone else is untouched


def test_ended_links_and_sessions_are_swept_a_day_after_they_end(services) -> None:
    old = _signed_in(services, "old@example.org", NOW - timedelta(days=3))  # ended two days ago
    make_link(services, email="unused@example.org", next_path=None, now=NOW - timedelta(days=3))  # expired
    fresh = _signed_in(services, "fresh@example.org", NOW)
    assert _count(services, PersonSession) == 2 and _count(services, SignInLink) == 3

    assert sweep_sign_ins(services, now=NOW) == 3  # the old session, its used link and the expired one
    assert resume(services, fresh, now=NOW) is not None and resume(services, old, now=NOW) is None
    assert _count(services, PersonSession) == 1 and _count(services, SignInLink) == 1
    assert _count(services, ApiToken) == 0


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_daily_retention_flow_also_sweeps_sign_in_records(services) -> None:
    from credflow.db.models import utcnow
    from flows.retention import retention_sweep
    from tasks.runtime import use_services

    # The flow reads the wall clock, so this world is built on it too.
    _signed_in(services, "old@example.org", utcnow() - timedelta(days=3))
    with use_services(services):
        assert "sign_in_records" not in retention_sweep(dry_run=True)
        assert retention_sweep()["sign_in_records"] == 2
    assert _count(services, PersonSession) == 0
