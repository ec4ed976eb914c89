"""The wallet, /me/badges: only the signed-in applicant's badges, each with its state, page, share link and files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from credflow.db.models import IssuedBadge
from credflow.states import BadgeState
from tests.utils.badge_world import ANA, BEN, REVOKE_REASON, SEEN_AT, BadgeWorld, Page, badge_world
from tests.utils.identity import session_cookie
from web.app import create_app
from web.pages.wallet import wallet_cards


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadgeWorld]:
    built = badge_world(tmp_path_factory.mktemp("wallet-world"))
    try:
        yield built
    finally:
        built.services.close()


def signed_in(world: BadgeWorld, email: str) -> TestClient:
    """A client on the app (its clock at SEEN_AT) signed in as ``email``."""
    client = TestClient(create_app(world.services, now=lambda: SEEN_AT))
    name, value = session_cookie(world.services, email, now=SEEN_AT)
    client.cookies.set(name, value)
    return client


def badge_links(page: Page) -> set[str]:
    """The ids of the badge pages a page links to."""
    return {m.group(1) for a in page.all("a") if (m := re.search(r"/badges/([0-9a-f]{32})$", a.get("href", "")))}


def test_signed_out_visitors_are_sent_to_sign_in_and_back(world: BadgeWorld) -> None:
    answer = TestClient(create_app(world.services, now=lambda: SEEN_AT)).get("/me/badges", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in?next=%2Fme%2Fbadges"


def test_the_wallet_shows_every_badge_of_the_signed_in_applicant_and_no_one_elses(world: BadgeWorld) -> None:
    answer = signed_in(world, ANA.email).get("/me/badges")
    page = Page(answer.text)
    assert answer.status_code == 200 and page.h1 == "My badges"
    assert badge_links(page) == {world.ana_micro, world.ana_certified}
    for other in (world.ben_micro, world.cy_micro):
        assert other not in answer.text
    assert page.all("a", href="/me/badges", **{"aria-current": "page"})  # the portal's "My badges" section
    assert "Preparing to Facilitate the Anchoring Phenomenon Routine" in answer.text
    assert "OpenSciEd-Certified Facilitator" in answer.text and "Pathway badge" in answer.text
    assert "23 November 2027" in answer.text  # the Certified badge's expiry
    for badge_id in (world.ana_micro, world.ana_certified):
        assert len([i for i in page.all("img") if i["src"].endswith(f"/badges/{badge_id}/badge.png")]) == 1
        [field] = page.all("input", id=f"share-{badge_id}")
        assert field["value"] == f"http://127.0.0.1:8000/badges/{badge_id}" and "readonly" in field
        downloads = [a["href"] for a in page.all("a") if "download" in a and badge_id in a["href"]]
        assert len(downloads) == 4
    linkedin = [a["href"] for a in page.all("a") if a["href"].startswith("https://www.linkedin.com/profile/add?")]
    assert len(linkedin) == 2
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_a_revoked_badge_shows_revoked_with_its_reason_and_no_linkedin(world: BadgeWorld) -> None:
    answer = signed_in(world, BEN.email).get("/me/badges")
    page = Page(answer.text)
    assert world.ben_micro in badge_links(page) and world.ana_micro not in answer.text
    card = answer.text.split(f'id="share-{world.ben_micro}"', 1)[0].rsplit('<li class="badge-card">', 1)[1]
    assert "Revoked." in card and REVOKE_REASON in card
    linkedin = [a["href"] for a in page.all("a") if a["href"].startswith("https://www.linkedin.com/")]
    assert all(world.ben_micro not in href for href in linkedin)


def test_someone_who_never_applied_sees_the_empty_state_pointing_to_the_catalog(world: BadgeWorld) -> None:
    answer = signed_in(world, "dana.diaz@example.org").get("/me/badges")
    page = Page(answer.text)
    assert answer.status_code == 200 and "You have no badges yet" in answer.text
    assert page.all("a", href="/credentials") and not badge_links(page)


def test_current_badges_come_first_and_a_renewed_one_says_when() -> None:
    def badge(badge_id: str, state: str, day: int, superseded_by: str | None = None) -> IssuedBadge:
        return IssuedBadge(
            id=badge_id,
            badge_key="openscied-certified-facilitator",
            kind="pathway",
            issuer_id="openscied",
            state=state,
            valid_from=datetime(2026, 1, day, tzinfo=UTC),
            valid_until=datetime(2027, 1, day, tzinfo=UTC),
            superseded_by=superseded_by,
            ob3={"issuer": {"id": "did:x", "name": "OpenSciEd"}, "credentialSubject": {"achievement": {"name": "C"}}},
        )

    now = datetime(2026, 6, 1, tzinfo=UTC)
    old, new = badge("a" * 32, BadgeState.SUPERSEDED, 2, "b" * 32), badge("b" * 32, BadgeState.ACTIVE, 20)
    revoked = badge("c" * 32, BadgeState.REVOKED, 25)
    cards = wallet_cards([old, revoked, new], public_url="https://x.example", now=now)
    assert [c["id"] for c in cards] == [new.id, old.id, revoked.id]
    assert cards[1]["standing"].word == "Renewed" and "20 January 2026" in cards[1]["standing"].sentence
    assert cards[2]["linkedin"] is None and cards[0]["linkedin"] is not None
    lapsed = wallet_cards([new], public_url="https://x.example", now=now + timedelta(days=400))
    assert lapsed[0]["standing"].word == "Expired"
