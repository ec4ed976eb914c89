"""The public badge page: earner's name (never an email), status in words, evidence, downloads, LinkedIn, sharing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from credflow.badges.baking import OB3_KEYWORD, unbake_png, unbake_svg
from credflow.privacy.identity import FORMER_EARNER, earner_name
from credflow.services import Services
from credflow.states import BadgeState
from tests.utils.badge_world import ANA, BEN, CY, REVOKE_REASON, SEEN_AT, Page, badge_world
from web.app import create_app
from web.pages.public import badge_status


@dataclass(frozen=True)
class World:
    """The badges and a client on the app, at :data:`SEEN_AT`."""

    services: Services
    client: TestClient
    ana_micro: str
    ana_certified: str
    ben_micro: str
    cy_micro: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = badge_world(tmp_path_factory.mktemp("badge-world"))
    try:
        client = TestClient(create_app(built.services, now=lambda: SEEN_AT))
        yield World(built.services, client, built.ana_micro, built.ana_certified, built.ben_micro, built.cy_micro)
    finally:
        built.services.close()


def page_of(world: World, badge_id: str) -> tuple[str, Page]:
    answer = world.client.get(f"/badges/{badge_id}")
    assert answer.status_code == 200
    return answer.text, Page(answer.text)


def test_the_page_leads_with_the_baked_image_and_the_earners_name_and_never_shows_an_email(world: World) -> None:
    text, page = page_of(world, world.ana_micro)
    assert page.h1 == "Ana Alvarez earned Preparing to Facilitate the Anchoring Phenomenon Routine"
    [image] = page.all("img", **{"class": "badge-art"})
    assert image["src"].endswith(f"/badges/{world.ana_micro}/badge.png") and "Anchoring Phenomenon" in image["alt"]
    assert ANA.email not in text and "ana.alvarez" not in text
    assert "Verified." in text and "Issued by" in text
    assert page.all("a", href="https://www.openscied.org/")  # the issuer, linked
    assert "23 November 2026" in text and "Never: it does not expire" in text
    assert "Evidence reviewed by two trained OpenSciEd assessors" in text  # the criteria


def test_the_evidence_record_names_the_requirements_reviewed_never_the_files(world: World) -> None:
    text, page = page_of(world, world.ana_micro)
    evidence = text.split("<h2>Evidence record</h2>", 1)[1].split("<h2>", 1)[0]
    assert "Facilitation plan: 1 document" in evidence and "every criterion was Met" in evidence
    assert "plan.pdf" not in text and "board.jpg" not in text
    [record] = [a for a in page.all("a") if "/evidence/" in a.get("href", "")]
    assert world.client.get(urlsplit(record["href"]).path).status_code == 200


def test_a_pathway_badge_shows_its_expiry_and_the_micro_credentials_it_was_awarded_for(world: World) -> None:
    text, page = page_of(world, world.ana_certified)
    assert "Ana Alvarez" in page.h1 and "OpenSciEd-Certified Facilitator" in page.h1
    assert "23 November 2027" in text and "Pathway badge" in text
    assert page.all("a", href=f"http://127.0.0.1:8000/badges/{world.ana_micro}")


def test_every_download_answers_with_its_content_type_and_carries_the_credential(world: World) -> None:
    _, page = page_of(world, world.ana_micro)
    links = {a["download"]: urlsplit(a["href"]).path for a in page.all("a") if "download" in a}
    assert len(links) == 4, links
    credential = world.client.get(f"/badges/{world.ana_micro}/credential.json").json()
    answers = {name: world.client.get(path) for name, path in links.items()}
    kinds = {name.rsplit(".", 1)[-1] + ("-ob2" if "-ob2" in name else ""): a for name, a in answers.items()}
    assert all(a.status_code == 200 for a in answers.values())
    assert kinds["png"].headers["content-type"] == "image/png"
    assert json.loads(unbake_png(kinds["png"].content, keyword=OB3_KEYWORD) or "") == credential
    assert kinds["svg"].headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(kinds["svg"].content)  # well-formed XML, an SVG with the credential baked in
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{https://purl.imsglobal.org/ob/v3p0}credential") is not None
    assert json.loads(unbake_svg(kinds["svg"].content, keyword=OB3_KEYWORD) or "") == credential
    assert kinds["json"].headers["content-type"].startswith("application/ld+json")
    assert kinds["json"].json()["id"] == f"http://127.0.0.1:8000/badges/{world.ana_micro}"
    ob2 = kinds["json-ob2"]
    assert ob2.headers["content-type"].startswith("application/ld+json") and ob2.json()["type"] == "Assertion"
    assert ob2.json()["id"] == f"http://127.0.0.1:8000/ob2/assertions/{world.ana_micro}"
    assert world.client.get(f"/badges/{'0' * 32}/badge.svg").status_code == 404


def test_add_to_linkedin_carries_the_certification_name_organisation_dates_and_url(world: World) -> None:
    for badge_id, expiry in ((world.ana_micro, None), (world.ana_certified, ("2027", "11"))):
        _, page = page_of(world, badge_id)
        [link] = [a["href"] for a in page.all("a") if a.get("href", "").startswith("https://www.linkedin.com/")]
        url = urlsplit(link)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert url.path == "/profile/add" and query["startTask"] == "CERTIFICATION_NAME"
        assert query["name"] in page.h1 and query["organizationName"] == "OpenSciEd"
        assert (query["issueYear"], query["issueMonth"]) == ("2026", "11")
        assert query["certUrl"] == f"http://127.0.0.1:8000/badges/{badge_id}" and query["certId"] == badge_id
        assert (query.get("expirationYear"), query.get("expirationMonth")) == (expiry or (None, None))


def test_the_share_link_is_a_labelled_read_only_field_with_a_copy_button_the_policy_lets_run(world: World) -> None:
    answer = world.client.get(f"/badges/{world.ana_micro}")
    page = Page(answer.text)
    [field] = page.all("input", id=f"share-{world.ana_micro}")
    assert field["value"] == f"http://127.0.0.1:8000/badges/{world.ana_micro}" and "readonly" in field
    assert page.all("label", **{"for": f"share-{world.ana_micro}"})
    [button] = page.all("button", **{"data-copy": f"share-{world.ana_micro}"})
    assert "hidden" in button  # shown by the script; without it the field is copied by hand
    assert page.all("script", src="/static/share.js")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "script-src" not in world.client.get("/sign-in").headers["content-security-policy"]
    script = world.client.get("/static/share.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "navigator.clipboard.writeText" in script.text


def test_open_graph_tags_describe_the_badge_with_absolute_urls(world: World) -> None:
    _, page = page_of(world, world.ana_micro)
    assert page.meta("og:title") == "Ana Alvarez earned Preparing to Facilitate the Anchoring Phenomenon Routine"
    assert page.meta("og:url") == f"http://127.0.0.1:8000/badges/{world.ana_micro}"
    assert page.meta("og:image") == f"http://127.0.0.1:8000/badges/{world.ana_micro}/badge.png"
    assert page.meta("og:description").startswith("Awarded to facilitators")
    assert page.meta("twitter:card") == "summary"


def test_the_credential_json_sits_behind_a_disclosure_and_wraps(world: World) -> None:
    text, _ = page_of(world, world.ana_micro)
    details = text.split("<summary>The credential (Open Badges 3.0 JSON)</summary>", 1)
    assert len(details) == 2 and details[0].rstrip().endswith('<details class="disclosure">')
    assert details[1].lstrip().startswith('<pre class="json">') and "</details>" in details[1]


def test_a_revoked_badge_says_so_with_the_reason_and_offers_no_linkedin(world: World) -> None:
    text, page = page_of(world, world.ben_micro)
    assert "Ben Brown" in page.h1 and "Revoked." in text and REVOKE_REASON in text
    assert "Verified." not in text and "linkedin.com" not in text
    assert BEN.email not in text


def test_an_erased_earner_is_a_former_earner(world: World) -> None:
    text, page = page_of(world, world.cy_micro)
    assert page.h1.split()[:3] == ["A", "former", "earner"]
    assert "Cy Chen" not in text and "[erased]" not in text and CY.email not in text
    assert "Verified." in text  # erased without revoking: the badge still verifies


def test_unknown_and_malformed_badge_ids_answer_404(world: World) -> None:
    assert world.client.get(f"/badges/{'0' * 32}").status_code == 404
    assert world.client.get("/badges/not-an-id").status_code == 404


def test_the_status_words_cover_every_state() -> None:
    day = datetime(2027, 1, 5, tzinfo=UTC)
    revoked = badge_status(state=BadgeState.REVOKED, valid_until=None, now=day, verified=False, revoke_reason="x y")
    assert (revoked.word, revoked.tone) == ("Revoked", "bad") and "x y" in revoked.sentence
    renewed = badge_status(state=BadgeState.SUPERSEDED, valid_until=None, now=day, verified=True, renewed_on=day)
    assert renewed.word == "Renewed" and "5 January 2027" in renewed.sentence
    stored = badge_status(state=BadgeState.EXPIRED, valid_until=day, now=day, verified=None)
    lapsed = badge_status(state=BadgeState.ACTIVE, valid_until=day, now=day + timedelta(seconds=1), verified=None)
    assert stored.word == lapsed.word == "Expired" and "5 January 2027" in lapsed.sentence
    assert badge_status(state=BadgeState.ACTIVE, valid_until=None, now=day, verified=False).word == "Not valid"
    assert badge_status(state=BadgeState.ACTIVE, valid_until=None, now=day, verified=True).word == "Verified"
    assert badge_status(state=BadgeState.ACTIVE, valid_until=None, now=day, verified=None).word == "Valid"


def test_the_earner_is_named_by_name_or_as_a_former_earner() -> None:
    assert earner_name("Ana Alvarez", erased=False) == "Ana Alvarez"
    assert earner_name("Ana Alvarez", erased=True) == FORMER_EARNER
    assert earner_name("[erased]", erased=False) == earner_name(" ", erased=False) == FORMER_EARNER


def test_a_badge_earned_by_the_formal_test_says_so_and_claims_no_reviewers(services) -> None:
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from credflow.assessment.stage import open_try, start_try, submit_try
    from credflow.db.models import IssuedBadge
    from web.app import create_app

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    test = services.catalog.get("udl-level-1").test
    answers = {item.key: item.answer for item in test.items}
    attempt = start_try(
        services, email="ana@school.org", credential_id="udl-level-1", now=now, name="Ana Lima", organisation="R"
    )
    submit_try(
        services, email="ana@school.org", credential_id="udl-level-1", attempt_id=attempt, answers=answers, now=now
    )
    sid = open_try(services, email="ana@school.org", credential_id="udl-level-1", attempt_id=attempt, now=now)
    with services.db.session() as session:
        badge = session.scalar(select(IssuedBadge).where(IssuedBadge.submission_id == sid.submission_id))
        assert badge is not None
        badge_id = badge.id
    client = TestClient(create_app(services, now=lambda: now))
    out_of = len(test.items)
    for page in (client.get(f"/evidence/{sid.submission_id}"), client.get(f"/badges/{badge_id}")):
        assert page.status_code == 200
        assert "passing the formal test" in page.text and f"{out_of} of {out_of} questions correct" in page.text
        assert "trained reviewers" not in page.text
