"""Sign-in in Debian's chromium: an applicant and a program admin by emailed link; axe-core at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from cli.demo_reviewers import free_port, running_server
from credflow.accounts.grants import add_grant
from credflow.intake.rules import ApplicantInfo
from credflow.intake.stage import submit
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils.browser import CHROMIUM, install_axe
from tests.utils.browser import check_page as browser_check
from tests.utils.builders import anchoring_request
from tests.utils.identity import emailed_sign_in_links
from web import create_app

SHOTS = Path("/tmp/credflow-signin-screens")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WIDTHS = (1280, 390)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core from npm (tests/js/axe, npm ci on first use)."""
    return install_axe()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[str, Services]]:
    """The app under uvicorn on 127.0.0.1: Ana (Westfield High) and Dan (Hillcrest) submitted; a Westfield admin."""
    folder = tmp_path_factory.mktemp("signinbrowser")
    port = free_port()
    # The emailed links name the public URL: here, the server itself.
    settings = load_settings(
        data_dir=folder / "data", catalog_dir=ROOT / "rubrics", public_url=f"http://127.0.0.1:{port}"
    )
    services = build_services(settings)
    for who in (
        ApplicantInfo("Ana Alvarez", "ana@example.org", "Westfield High"),
        ApplicantInfo("Dan Wu", "dan@example.org", "Hillcrest"),
    ):
        submit(services, anchoring_request(folder, who=who, title=who.name), now=NOW)
    add_grant(services, "pd@westfield.example", organisations=("Westfield High",))
    app = create_app(services, now=lambda: NOW)
    with running_server(app, port) as served:
        yield served, services
    services.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # The pages' policy allows no script at all: axe is injected past it, as a browser extension would be.
    made = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    yield made
    made.close()


def check_page(page: Page, axe: Path, name: str) -> None:
    """axe-core finds nothing at 1280 and 390 px; screenshots in SHOTS."""
    browser_check(page, axe, name, SHOTS)


def ask_for_link(page: Page, email: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def test_an_applicant_signs_in_through_the_emailed_link(world, context: BrowserContext, axe: Path) -> None:
    url, services = world
    page = context.new_page()
    page.goto(url + "/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(page, axe, "sign-in")

    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    check_page(page, axe, "sign-in-error")

    ask_for_link(page, "ana@example.org")
    check_page(page, axe, "check-your-email")
    [link] = emailed_sign_in_links(services.settings.resolved_outbox_dir, "ana@example.org")
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in as ana@example.org")).to_be_visible()
    check_page(page, axe, "confirm")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Signed in as ana@example.org")).to_be_visible()
    expect(page.locator(".roles")).to_have_text("Applicant")
    expect(page.get_by_role("link", name="Program report")).to_have_count(0)
    page.get_by_role("button", name="Make an API token").click()
    expect(page.locator("#new-token")).to_be_visible()
    check_page(page, axe, "home")

    page.goto(url + "/reports/programs")
    expect(page.get_by_role("heading", name="You cannot open program reports")).to_be_visible()
    check_page(page, axe, "forbidden")

    page.goto(link)  # the link worked once
    expect(page.get_by_role("heading", name="This sign-in link cannot be used")).to_be_visible()
    check_page(page, axe, "link-used")
    page.goto(url + "/me")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(url + "/me")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_too_many_requests_for_one_address_say_when_to_try_again(world, context: BrowserContext, axe: Path) -> None:
    url, _ = world
    page = context.new_page()
    for _ in range(5):
        page.goto(url + "/sign-in")
        ask_for_link(page, "flood@example.org")
    page.goto(url + "/sign-in")
    page.get_by_label("Email address").fill("flood@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Too many sign-in requests")).to_be_visible()
    expect(page.get_by_text("Try again in")).to_be_visible()
    check_page(page, axe, "too-many")


def test_a_program_admin_sees_only_their_organisation_and_a_visitor_gets_the_sign_in_page(
    world, context: BrowserContext, axe: Path
) -> None:
    url, services = world
    page = context.new_page()
    page.goto(url + "/reports/programs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "/sign-in?next=" in page.url
    expect(page.get_by_text("Ana Alvarez")).to_have_count(0)
    expect(page.get_by_text("Dan Wu")).to_have_count(0)

    ask_for_link(page, "pd@westfield.example")
    [link] = emailed_sign_in_links(services.settings.resolved_outbox_dir, "pd@westfield.example")
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Educators' micro-credential progress")).to_be_visible()
    rows = page.locator("#program-openscied-facilitator table.report-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ana Alvarez")
    expect(page.get_by_text("Dan Wu")).to_have_count(0)
    expect(page.get_by_text("Hillcrest")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "report-admin-1280.png"), full_page=True)

    page.goto(url + "/me")
    expect(page.locator(".roles")).to_contain_text("Program admin")
    expect(page.get_by_text("the educators of Westfield High")).to_be_visible()
    check_page(page, axe, "home-admin")


def test_the_sign_in_page_keeps_to_its_policy(world, browser: Browser) -> None:
    url, _ = world
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    page.goto(url + "/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email address").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # visible focus: the inline stylesheet applies
    assert violations == []
    context.close()
