"""Sign-in by emailed link: single use, expiry, rate limits, sessions and sign-out, cookies, CSRF, roles, tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credflow.accounts.grants import add_grant, list_grants
from credflow.accounts.rules import Grant, Role, roles_of, safe_next
from credflow.db.models import Person, Reviewer, SignInLink
from credflow.intake.stage import submit
from credflow.reports.rules import ReportScope
from tests.utils.builders import anchoring_request, applicant
from web.app import create_app

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINK = re.compile(r"/sign-in/([A-Za-z0-9_.\-]+)")
FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def outbox_links(services, email: str) -> list[str]:
    """The sign-in link tokens sent to ``email``, oldest first."""
    found = []
    for eml in sorted(services.settings.resolved_outbox_dir.glob("sign_in*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        if email not in str(message["To"]):
            continue
        body = message.get_body(preferencelist=("plain",))
        match = LINK.search(body.get_content() if body is not None else "")
        assert match is not None
        found.append(match.group(1))
    return found


def form_field(page_text: str) -> str:
    match = FIELD.search(page_text)
    assert match is not None, page_text
    return match.group(1)


def ask(client: TestClient, email: str, *, next_path: str | None = None):
    """Ask for a link through the form, as a browser does."""
    csrf = form_field(client.get("/sign-in").text)
    data = {"email": email, "csrf": csrf}
    if next_path:
        data["next"] = next_path
    return client.post("/sign-in", data=data, follow_redirects=False)


def sign_in(client: TestClient, services, email: str, *, next_path: str | None = None):
    """Ask for a link, open the newest one from the outbox and press its button."""
    assert ask(client, email, next_path=next_path).status_code == 200
    token = outbox_links(services, email)[-1]
    page = client.get(f"/sign-in/{token}")
    assert page.status_code == 200, page.text
    return client.post(f"/sign-in/{token}", data={"csrf": form_field(page.text)}, follow_redirects=False)


def home_field(client: TestClient) -> str:
    return form_field(client.get("/me").text)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(services, clock) -> TestClient:
    return TestClient(create_app(services, now=clock))


def test_a_link_signs_in_once_and_the_home_page_says_who_and_what(services, client, clock):
    sent = ask(client, "Ana@Example.org")
    assert sent.status_code == 200 and "Check your email" in sent.text and "ana@example.org" in sent.text
    [token] = outbox_links(services, "ana@example.org")
    eml = next(services.settings.resolved_outbox_dir.glob("sign_in*.eml")).read_text()
    assert services.settings.public_url + "/sign-in/" in eml
    for _ in range(2):  # a mail scanner fetching the link does not use it
        page = client.get(f"/sign-in/{token}")
        assert page.status_code == 200 and "Sign in as ana@example.org" in page.text
    done = client.post(f"/sign-in/{token}", data={"csrf": form_field(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    home = client.get("/me")
    assert home.status_code == 200 and "Signed in as ana@example.org" in home.text and "Applicant" in home.text
    assert "Program report" not in home.text

    again = TestClient(create_app(services, now=clock))
    page = again.get(f"/sign-in/{token}")
    assert page.status_code == 403 and "already used" in page.text
    replay = client.post(f"/sign-in/{token}", data={"csrf": home_field(client)}, follow_redirects=False)
    assert replay.status_code == 403 and "already used" in replay.text
    with services.db.session() as session:
        assert session.query(Person).count() == 1


def test_a_link_expires_and_a_forged_one_is_refused(services, client, clock):
    ask(client, "ana@example.org")
    [token] = outbox_links(services, "ana@example.org")
    clock.now = NOW + timedelta(minutes=services.settings.sign_in_link_minutes)
    page = client.get(f"/sign-in/{token}")
    assert page.status_code == 403 and "expired" in page.text
    assert client.get("/sign-in/" + token[:-2] + "xx").status_code == 403
    with services.db.session() as session:
        assert session.query(SignInLink).one().used_at is None


def test_known_and_unknown_addresses_get_the_same_answer(services, client):
    submit(services, anchoring_request(services.settings.data_dir, who=applicant("Ana Alvarez")), now=NOW)
    known = ask(client, "ana.alvarez@example.org")
    unknown = ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ana.alvarez@example.org", "X") == unknown.text.replace("nobody@example.org", "X")
    assert len(outbox_links(services, "nobody@example.org")) == 1  # anyone may sign in: anyone may apply


def test_sign_in_links_are_rate_limited_per_address_and_per_client(services, clock):
    client = TestClient(create_app(services, now=clock))
    for _ in range(5):
        assert ask(client, "ana@example.org").status_code == 200
    refused = ask(client, "ana@example.org")
    assert refused.status_code == 429 and "Try again in" in refused.text and int(refused.headers["Retry-After"]) > 0
    assert len(outbox_links(services, "ana@example.org")) == 5
    assert ask(client, "bo@example.org").status_code == 200  # the address is limited, not the client (yet)

    app = create_app(services, now=clock)
    elsewhere = TestClient(app, client=("198.51.100.7", 5000))
    for n in range(5):
        assert ask(elsewhere, f"person{n}@example.org").status_code == 200
    assert ask(elsewhere, "ana2@example.org").status_code == 200
    for n in range(14):
        assert ask(elsewhere, f"more{n}@example.org").status_code == 200
    assert ask(elsewhere, "late@example.org").status_code == 429  # 20 from one client address
    assert ask(TestClient(app, client=("198.51.100.8", 5000)), "late@example.org").status_code == 200


def test_sessions_end_when_idle_and_at_their_absolute_end(services, client, clock):
    sign_in(client, services, "ana@example.org")
    clock.now += timedelta(minutes=services.settings.session_idle_minutes - 1)
    assert client.get("/me").status_code == 200
    clock.now += timedelta(minutes=services.settings.session_idle_minutes + 1)
    gone = client.get("/me", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/sign-in")

    sign_in(client, services, "ana@example.org")
    end = clock.now + timedelta(hours=services.settings.session_max_hours)
    while clock.now + timedelta(minutes=100) < end:
        clock.now += timedelta(minutes=100)
        assert client.get("/me").status_code == 200
    clock.now = end
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_sign_out_ends_one_session_and_sign_out_everywhere_all_of_them_and_the_tokens(services, clock):
    app = create_app(services, now=clock)
    laptop, phone, tablet = TestClient(app), TestClient(app), TestClient(app)
    for browser in (laptop, phone, tablet):
        sign_in(browser, services, "ana@example.org")
    out = laptop.post("/sign-out", data={"csrf": home_field(laptop)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?signed_out=1"
    assert laptop.get("/me", follow_redirects=False).status_code == 303
    assert phone.get("/me").status_code == 200

    made = phone.post("/me/tokens", data={"csrf": home_field(phone)})
    token = re.search(r'id="new-token">([^<]+)<', made.text)
    assert made.status_code == 201 and token is not None
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert phone.get("/api/submissions/none", headers=bearer).status_code == 404  # the token counts
    everywhere = phone.post("/sign-out/everywhere", data={"csrf": home_field(phone)}, follow_redirects=False)
    assert everywhere.status_code == 303
    for browser in (phone, tablet):
        assert browser.get("/me", follow_redirects=False).status_code == 303
    assert "revoked" in phone.get("/api/submissions/x", headers=bearer).text


def test_the_cookies_are_host_only_secure_and_httponly_on_an_https_public_url(make_settings, clock):
    from credflow.services import build_services

    services = build_services(make_settings(public_url="https://credflow.example.org"))
    try:
        client = TestClient(create_app(services, now=clock), base_url="https://testserver")
        done = sign_in(client, services, "ana@example.org")
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("__Host-credflow_session="))
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
        assert not any(flag.startswith("domain") for flag in flags)
        assert (
            "https://credflow.example.org/sign-in/"
            in next(services.settings.resolved_outbox_dir.glob("sign_in*.eml")).read_text()
        )
        assert client.get("/me").status_code == 200
    finally:
        services.close()


def test_posts_without_the_right_form_token_are_refused(services, client, clock):
    refused = client.post("/sign-in", data={"email": "ana@example.org"})
    assert refused.status_code == 403 and "could not be verified" in refused.text
    assert outbox_links(services, "ana@example.org") == []

    sign_in(client, services, "ana@example.org")
    other = TestClient(create_app(services, now=clock))
    sign_in(other, services, "bo@example.org")
    for field in ("", "forged", home_field(other)):  # another session's token does not count here
        out = client.post("/sign-out", data={"csrf": field}, follow_redirects=False)
        assert out.status_code == 403
    assert client.get("/me").status_code == 200
    ask(client, "ana@example.org")
    token = outbox_links(services, "ana@example.org")[-1]
    assert client.post(f"/sign-in/{token}", data={"csrf": home_field(client)}).status_code == 403  # bound to the link


def test_a_sign_in_leads_only_to_a_path_on_this_site(services, client):
    assert sign_in(client, services, "ana@example.org", next_path="//evil.example/x").headers["location"] == "/me"
    assert safe_next("https://evil.example") == safe_next("/\\evil") == safe_next(None) == "/me"
    assert safe_next("/reports/programs?x=1") == "/reports/programs?x=1"


def test_roles_come_from_the_pool_and_the_grants_once_the_address_is_verified(services, client):
    with services.db.session() as session:
        session.add(Reviewer(email="ola@review.org", name="Ola Berg", organisation="Lakeside ISD", is_lead=True))
    add_grant(services, "ola@review.org", organisations=("Westfield High",))
    add_grant(services, "op@example.org", operator=True)
    with services.db.session() as session:
        assert session.query(Person).count() == 0  # a grant is data: nobody is anything before signing in
    sign_in(client, services, "ola@review.org")
    home = client.get("/me").text
    for label in ("Applicant", "Reviewer", "Lead reviewer", "Program admin", "Westfield High"):
        assert label in home
    assert "Operator" not in home and "/reports/programs" in home

    assert roles_of(applicant=False, reviewer=False, lead=False, grant=None) == {Role.APPLICANT}
    operator = Grant("op@example.org", operator=True)
    assert Role.OPERATOR in roles_of(applicant=True, reviewer=False, lead=False, grant=operator)
    assert operator.scope() == ReportScope.everything()


def test_reports_need_a_program_admin_or_operator(services, client, clock):
    gone = client.get("/reports/programs", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/sign-in?next=%2Freports%2Fprograms"
    assert client.get("/reports/programs.csv", follow_redirects=False).status_code == 303
    page = client.get("/reports/programs")  # the sign-in page, which comes back here
    assert "Sign in" in page.text and 'value="/reports/programs"' in page.text

    sign_in(client, services, "ana@example.org")
    for path in ("/reports/programs", "/reports/programs.csv"):
        refused = client.get(path)
        assert refused.status_code == 403 and "program admins and operators" in refused.text

    operator = TestClient(create_app(services, now=clock))
    add_grant(services, "op@example.org", operator=True)
    done = sign_in(operator, services, "op@example.org", next_path="/reports/programs")
    assert done.headers["location"] == "/reports/programs"
    assert operator.get("/reports/programs").status_code == 200
    assert operator.get("/reports/programs.csv").text.startswith("program,")


def test_a_removed_grant_ends_the_role_at_the_next_request(services, client):
    from credflow.accounts.grants import remove_grant

    add_grant(services, "pa@example.org", programs=("udl",))
    sign_in(client, services, "pa@example.org")
    assert client.get("/reports/programs").status_code == 200
    assert remove_grant(services, "pa@example.org")
    assert client.get("/reports/programs").status_code == 403


def test_the_admins_cli_adds_lists_and_removes_grants_and_refuses_unknown_programs(services, monkeypatch):
    from cli.main import app

    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    runner = CliRunner()
    added = runner.invoke(app, ["admins", "add", "PA@example.org", "--org", "Westfield High", "--program", "udl"])
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["admins", "add", "pa@example.org", "--org", "Hillcrest"]).exit_code == 0
    assert runner.invoke(app, ["admins", "add", "op@example.org", "--operator"]).exit_code == 0
    [op, pa] = list_grants(services)
    assert pa == Grant("pa@example.org", False, ("Westfield High", "Hillcrest"), ("udl",)) and op.operator
    listed = runner.invoke(app, ["admins", "list"])
    assert "pa@example.org" in listed.output and "Hillcrest" in listed.output and "operator" in listed.output

    unknown = runner.invoke(app, ["admins", "add", "x@example.org", "--program", "nope"])
    assert unknown.exit_code == 2 and "no program 'nope'" in unknown.output and "udl" in unknown.output
    nothing = runner.invoke(app, ["admins", "add", "x@example.org"])
    assert nothing.exit_code == 2 and "--operator" in nothing.output
    bad = runner.invoke(app, ["admins", "add", "not-an-address", "--operator"])
    assert bad.exit_code == 2 and "email address" in bad.output
    assert runner.invoke(app, ["admins", "remove", "pa@example.org"]).exit_code == 0
    again = runner.invoke(app, ["admins", "remove", "pa@example.org"])
    assert again.exit_code == 2 and "no grant" in again.output
    assert [g.email for g in list_grants(services)] == ["op@example.org"]


def _token(client: TestClient) -> str:
    made = client.post("/me/tokens", data={"csrf": home_field(client)})
    found = re.search(r'id="new-token">([^<]+)<', made.text)
    assert made.status_code == 201 and found is not None
    return found.group(1)


def test_api_tokens_are_made_signed_in_expire_and_can_be_revoked(services, client, clock):
    sid = submit(services, anchoring_request(services.settings.data_dir, who=applicant("Ana Alvarez")), now=NOW)
    sign_in(client, services, "ana.alvarez@example.org")
    token = _token(client)
    read = client.get(f"/api/submissions/{sid.submission_id}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["attempt"] == 1
    assert "Revoke" in client.get("/me").text

    clock.now = NOW + timedelta(days=services.settings.api_token_days)
    expired = client.get(f"/api/submissions/{sid.submission_id}", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.text and "/sign-in" in expired.text

    sign_in(client, services, "ana.alvarez@example.org")
    second = _token(client)
    row = re.search(r'action="(/me/tokens/[0-9a-f]+/revoke)"', client.get("/me").text)
    assert row is not None
    revoked = client.post(row.group(1), data={"csrf": home_field(client)}, follow_redirects=False)
    assert revoked.status_code == 303
    refused = client.get(f"/api/submissions/{sid.submission_id}", headers={"Authorization": f"Bearer {second}"})
    assert refused.status_code == 401 and "revoked" in refused.text
    assert "Revoke" not in client.get("/me").text


def test_a_signed_in_reviewer_is_recognised_on_the_review_page_and_links_work_signed_out(services):
    from tests.utils.review_world import assign

    sid = submit(services, anchoring_request(services.settings.data_dir, who=applicant("Ana Alvarez"))).submission_id
    link = assign(services, sid, reviewer_name="Rosa Diaz")
    client = TestClient(create_app(services))
    signed_out = client.get(link.path)
    assert signed_out.status_code == 200 and "Signed in as" not in signed_out.text
    with services.db.session() as session:
        email = session.query(Reviewer).filter_by(name="Rosa Diaz").one().email
    sign_in(client, services, email)
    page = client.get(link.path)
    assert page.status_code == 200 and f"Signed in as {email} (reviewer)" in page.text


def test_session_lifetimes_are_checked_by_the_settings(make_settings):
    from credflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SESSION_IDLE_MINUTES"):
        make_settings(session_idle_minutes=600, session_max_hours=2)
    with pytest.raises(ConfigurationError, match="SIGN_IN_LINK_MINUTES"):
        make_settings(sign_in_link_minutes=0)
    with pytest.raises(ConfigurationError, match="API_TOKEN_DAYS"):
        make_settings(api_token_days=1000)


def test_forgetting_an_address_deletes_its_person_sessions_tokens_and_links(services, client):
    from credflow.accounts.signin import forget_address
    from credflow.db.models import ApiToken, PersonSession

    sign_in(client, services, "ana@example.org")
    client.post("/me/tokens", data={"csrf": home_field(client)})
    ask(client, "ana@example.org")
    sign_in(client, services, "bo@example.org")
    with services.db.session() as session:
        assert forget_address(session, "ana@example.org") == 5  # person, session, token, two links
    with services.db.session() as session:
        assert session.query(Person).one().email == "bo@example.org"
        assert session.query(PersonSession).count() == 1 and session.query(ApiToken).count() == 0
        assert {link.email for link in session.query(SignInLink)} == {"bo@example.org"}


def test_the_sweep_deletes_ended_links_and_sessions_only(services, client, clock):
    from credflow.db.models import PersonSession
    from credflow.retention.stage import sweep_sign_ins

    sign_in(client, services, "ana@example.org")  # a used link and a live session
    ask(client, "bo@example.org")  # a pending link
    assert sweep_sign_ins(services, now=clock.now) == 0
    clock.now += timedelta(days=2)
    assert sweep_sign_ins(services, now=clock.now) == 3
    with services.db.session() as session:
        assert session.query(SignInLink).count() == 0 and session.query(PersonSession).count() == 0
