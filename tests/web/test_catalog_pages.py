"""The catalog pages and the formal test's pages through the app: content, sign-in, refusals, 404s and 422s."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from credflow.db.models import FormalTestAttempt, IssuedBadge
from credflow.keyring import Purpose
from tests.utils.identity import session_cookie
from web.app import create_app

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIELD = re.compile(r'name="csrf" value="([^"]+)"')
UDL1 = "udl-level-1"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(services, clock) -> TestClient:
    return TestClient(create_app(services, now=clock))


def sign_in(client: TestClient, services, email: str = "ana@school.org", *, now: datetime = NOW) -> None:
    """Sign in at ``now`` (a session idles out: a test that moves the clock by days signs in again)."""
    name, value = session_cookie(services, email, now=now)
    client.cookies.set(name, value)


def csrf(text: str) -> str:
    match = FIELD.search(text)
    assert match is not None, text
    return match.group(1)


def answers(services, *, wrong: int) -> dict[str, str]:
    test = services.catalog.get(UDL1).test
    return {
        item.key: (next(o.key for o in item.options if o.key != item.answer) if n < wrong else item.answer)
        for n, item in enumerate(test.items)
    }


def start(client: TestClient, name: str = "Ana Lima") -> str:
    page = client.get(f"/credentials/{UDL1}/test")
    started = client.post(
        f"/credentials/{UDL1}/test", data={"csrf": csrf(page.text), "name": name}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    return str(started.headers["location"])


def take(client: TestClient, services, *, wrong: int):
    where = start(client)
    page = client.get(where)
    return where, client.post(where, data={"csrf": csrf(page.text), **answers(services, wrong=wrong)})


def test_the_landing_page_says_what_credflow_is_and_lists_the_catalog_by_issuer(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "<h1>Show what you do in your classroom, and earn a badge for it</h1>" in page.text
    for issuer in ("CAST Learning Designed", "OpenSciEd", "Digital Promise"):
        assert issuer in page.text
    assert page.text.count('class="cred-card"') == 6
    assert 'href="/credentials/udl-level-2"' in page.text
    assert 'href="/sign-in"' in page.text


def test_the_catalog_marks_what_needs_a_prerequisite_and_what_is_earned(client, services):
    page = client.get("/credentials")
    assert page.status_code == 200 and page.text.count('class="cred-card"') == 6
    assert "Needs UDL Level 1: Designing for Learner Variability" in page.text
    assert "Portfolio or test" in page.text
    sign_in(client, services)
    take(client, services, wrong=0)
    page = client.get("/credentials")
    assert "Needs UDL Level 1" not in page.text and "tag-earned" in page.text


def test_a_credential_page_shows_requirements_rubric_badge_and_pathway(client):
    page = client.get("/credentials/openscied-facilitating-discussions")
    assert page.status_code == 200
    text = page.text
    assert text.count("<h1>") == 1
    assert "Met looks like:" in text
    assert "Kinds: MP4" in text and "Each at most" in text and "long" in text
    assert "Pathway: OpenSciEd Facilitator Certification" in text
    assert 'OpenSciEd-Certified Facilitator <span class="kind">(valid 1 year)</span>' in text
    assert 'OpenSciEd Expert Facilitator <span class="kind">(never expires)</span>' in text
    assert 'src="/achievements/openscied-facilitating-discussions/image.png"' in text
    udl = client.get(f"/credentials/{UDL1}").text
    assert "150 to 600 words" in udl and "Each at most 20.0 MB" in udl and "1 minute to 15 minutes long" in udl
    assert "10 single-choice questions" in udl and "You pass with 8 correct answers" in udl


def test_signed_out_visitors_get_a_sign_in_link_back_to_the_page(client):
    page = client.get(f"/credentials/{UDL1}")
    assert 'href="/sign-in?next=%2Fcredentials%2Fudl-level-1"' in page.text
    assert "/me/credentials/udl-level-1/start" not in page.text
    gone = client.get(f"/credentials/{UDL1}/test", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/sign-in?next=%2Fcredentials%2Fudl-level-1%2Ftest"


def test_the_start_form_carries_a_token_for_the_start_endpoint(client, services):
    sign_in(client, services)
    page = client.get(f"/credentials/{UDL1}")
    assert 'action="/me/credentials/udl-level-1/start"' in page.text
    nonce = client.cookies.get("credflow_form")
    assert nonce is not None
    keyring = services.settings.keyring
    assert keyring.verify_mac(Purpose.CSRF, f"start:{UDL1}\n{nonce}".encode(), csrf(page.text))
    assert 'href="/credentials/udl-level-1/test"' in page.text


def test_level_2_is_locked_until_level_1_is_earned(client, services):
    sign_in(client, services)
    locked = client.get("/credentials/udl-level-2").text
    assert "/me/credentials/udl-level-2/start" not in locked
    assert "earn UDL Level 1: Designing for Learner Variability first" in locked
    take(client, services, wrong=0)
    unlocked = client.get("/credentials/udl-level-2").text
    assert 'action="/me/credentials/udl-level-2/start"' in unlocked


def test_an_unknown_credential_is_a_404_page(client):
    page = client.get("/credentials/no-such-thing")
    assert page.status_code == 404 and "No such micro-credential" in page.text


def test_taking_the_test_and_passing_issues_the_badge(client, services):
    sign_in(client, services)
    page = client.get(f"/credentials/{UDL1}/test")
    assert "Start try 1 of 3" in page.text and 'id="name"' in page.text
    where = start(client)
    questions = client.get(where)
    assert questions.status_code == 200
    assert questions.text.count("<fieldset") == 10 and questions.text.count("<legend>") == 10
    assert 'type="radio" name="three_principles" value="a"' in questions.text
    done = client.post(where, data={"csrf": csrf(questions.text), **answers(services, wrong=1)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == where
    result = client.get(where)
    assert "<h1>You passed</h1>" in result.text and "9 of 10 correct" in result.text
    assert "The correct answer:" in result.text  # revealed after a pass
    with services.db.session() as session:
        badge = session.scalars(select(IssuedBadge)).one()
    assert f'href="/badges/{badge.id}"' in result.text
    assert 'href="/credentials/udl-level-2"' in result.text  # now open
    assert "See your result" in client.get(f"/credentials/{UDL1}/test").text


def test_a_failed_try_shows_the_wait_and_hides_the_answers(client, services, clock):
    sign_in(client, services)
    _, done = take(client, services, wrong=3)
    assert "<h1>Not passed this time</h1>" in done.text and "7 of 10 correct" in done.text
    assert "Monday 30 November 2026 at 09:00 UTC" in done.text
    assert "The correct answer:" not in done.text and "not correct" in done.text
    clock.now = NOW + timedelta(days=3)
    sign_in(client, services, now=clock.now)
    page = client.get(f"/credentials/{UDL1}/test")
    assert "Your next try may start on Monday 30 November 2026 at 09:00 UTC" in page.text
    assert "Start try" not in page.text
    clock.now = NOW + timedelta(days=7)
    sign_in(client, services, now=clock.now)
    assert "Start try 2 of 3" in client.get(f"/credentials/{UDL1}/test").text


def test_a_start_during_the_wait_is_refused_with_the_date(client, services, clock):
    sign_in(client, services)
    take(client, services, wrong=5)
    clock.now = NOW + timedelta(days=1)
    sign_in(client, services, now=clock.now)
    # A form rendered before the try (a second tab) is still refused while the wait lasts.
    refused = client.post(f"/credentials/{UDL1}/test", data={"csrf": token_for(client, services, f"test:{UDL1}")})
    assert refused.status_code == 422
    assert "Your next try may start on Monday 30 November 2026 at 09:00 UTC" in refused.text


def token_for(client: TestClient, services, binding: str) -> str:
    """A form token for ``binding`` on this browser's form cookie, as a page showing that form would render it."""
    nonce = client.cookies.get("credflow_form")
    assert nonce is not None
    return services.settings.keyring.mac(Purpose.CSRF, f"{binding}\n{nonce}".encode())


def test_every_try_used_is_refused(client, services, clock):
    sign_in(client, services)
    for day in (0, 7, 14):
        clock.now = NOW + timedelta(days=day)
        sign_in(client, services, now=clock.now)
        _, done = take(client, services, wrong=5)
    assert "You have used every try" in done.text and "The correct answer:" in done.text
    page = client.get(f"/credentials/{UDL1}/test")
    assert "All 3 tries at this test are used" in page.text and "Start try" not in page.text


def test_someone_elses_try_is_a_404(client, services):
    sign_in(client, services)
    where = start(client)
    other = TestClient(client.app)
    sign_in(other, services, "ben@school.org")
    assert other.get(where).status_code == 404
    other.get(f"/credentials/{UDL1}/test")  # sets Ben's form cookie
    token = token_for(other, services, f"try:{where.rsplit('/', 1)[1]}")
    assert other.post(where, data={"csrf": token, **answers(services, wrong=0)}).status_code == 404
    assert other.get(f"/credentials/{UDL1}/test/{'0' * 32}").status_code == 404
    with services.db.session() as session:
        assert session.scalars(select(FormalTestAttempt)).one().submitted_at is None


def test_unanswered_questions_are_a_422_naming_each(client, services):
    sign_in(client, services)
    where = start(client)
    page = client.get(where)
    chosen = answers(services, wrong=0)
    chosen.pop("variability")
    chosen["firm_goals"] = "z"
    refused = client.post(where, data={"csrf": csrf(page.text), **chosen})
    assert refused.status_code == 422
    assert '<a href="#q-variability">Question 3 has no answer: choose one option.</a>' in refused.text
    assert "Question 6: the answer sent is not one of its options" in refused.text
    assert 'value="a" checked' in refused.text  # the answers given are kept
    with services.db.session() as session:
        assert session.scalars(select(FormalTestAttempt)).one().submitted_at is None


def test_a_start_without_a_name_is_a_422_and_a_forged_form_a_403(client, services):
    sign_in(client, services)
    page = client.get(f"/credentials/{UDL1}/test")
    refused = client.post(f"/credentials/{UDL1}/test", data={"csrf": csrf(page.text), "name": " "})
    assert refused.status_code == 422 and "Give your name as it should appear on your badge." in refused.text
    forged = client.post(f"/credentials/{UDL1}/test", data={"csrf": "nope", "name": "Ana"})
    assert forged.status_code == 403
    with services.db.session() as session:
        assert session.scalars(select(FormalTestAttempt)).all() == []


def test_a_missing_prerequisite_refuses_the_test_page(client, services, monkeypatch):
    level1 = services.catalog.get(UDL1)
    monkeypatch.setitem(
        services.catalog.credentials, UDL1, level1.model_copy(update={"prerequisites": ("udl-level-2",)})
    )
    sign_in(client, services)
    page = client.get(f"/credentials/{UDL1}/test")
    assert "needs UDL Level 2: Applying UDL Across a Unit first" in page.text and "Start try" not in page.text
    refused = client.post(f"/credentials/{UDL1}/test", data={"csrf": token_for(client, services, f"test:{UDL1}")})
    assert refused.status_code == 422 and "needs UDL Level 2" in refused.text
    with services.db.session() as session:
        assert session.scalars(select(FormalTestAttempt)).all() == []


def test_a_credential_without_a_test_has_no_test_page(client, services):
    sign_in(client, services)
    assert client.get("/credentials/udl-level-2/test").status_code == 404
