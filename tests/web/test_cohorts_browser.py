"""Cohorts and milestones in chromium: an educator opts in and meets a peer, an admin celebrates; axe at 1280, 390."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from cli.demo_reviewers import free_port, running_server
from credflow.cohorts.stage import set_consent
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.cohort_world import ANCHORING, NOW, RIVERSIDE_ADMIN, CohortWorld, build_cohort_world
from tests.utils.identity import session_cookie
from web.app import create_app

SHOTS = Path("/tmp/credflow-screens/cohorts")
ANA, BEN = "ana.alvarez@example.org", "ben.okoro@example.org"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@dataclass(frozen=True)
class Served:
    """The running app's base URL, its services and world."""

    url: str
    services: Services
    world: CohortWorld


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on 127.0.0.1 over the cohort world, with Ben (Riverside) opted in on the anchoring credential."""
    folder = tmp_path_factory.mktemp("cohortsbrowser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = build_services(load_settings(data_dir=folder / "data", catalog_dir=ROOT / "rubrics", public_url=base))
    world = build_cohort_world(services)
    set_consent(services, world["Ben"], ANCHORING, shown=True, now=NOW)
    with running_server(create_app(services, now=lambda: NOW), port):
        yield Served(base, services, world)
    services.close()


def signed_in(browser: Browser, served: Served, email: str, *, for_axe: bool = True) -> tuple[BrowserContext, Page]:
    """A new context signed in as ``email`` (CSP bypassed for axe unless ``for_axe`` is False) and its page."""
    context = browser.new_context(bypass_csp=for_axe, viewport={"width": 1280, "height": 800})
    name, value = session_cookie(served.services, email, now=NOW)
    context.add_cookies([{"name": name, "value": value, "url": served.url}])
    return context, context.new_page()


def test_an_educator_opts_in_and_meets_a_peer_who_consented(browser: Browser, served: Served) -> None:
    axe = install_axe()
    context, page = signed_in(browser, served, ANA)
    try:
        page.goto(served.url + "/me")
        page.get_by_role("link", name="Your cohorts").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your cohorts")
        cohort = page.locator(f"#cohort-{ANCHORING}")
        expect(cohort).to_contain_text("One other educator working on it has agreed to connect.")
        expect(cohort).not_to_contain_text("Ben Okoro")
        check_page(page, axe, "mine-not-shown", SHOTS)

        cohort.get_by_role("button", name="Show me and connect").click()
        expect(page.get_by_role("status")).to_contain_text("You are now shown")
        expect(cohort.locator(".cohort-peer")).to_have_count(1)
        expect(cohort.locator(".cohort-peer")).to_contain_text("Ben Okoro")
        expect(cohort.get_by_role("link", name=BEN)).to_have_attribute("href", f"mailto:{BEN}")
        check_page(page, axe, "mine-shown", SHOTS)
    finally:
        context.close()

    # Ben now sees Ana; the consent shows on the admin's cohort page too.
    context, page = signed_in(browser, served, BEN)
    try:
        page.goto(served.url + "/me/cohorts")
        expect(page.locator(f"#cohort-{ANCHORING} .cohort-peer")).to_contain_text("Ana Alvarez")
    finally:
        context.close()


def test_an_admin_sees_the_cohort_and_celebrates_a_milestone(browser: Browser, served: Served) -> None:
    axe = install_axe()
    context, page = signed_in(browser, served, RIVERSIDE_ADMIN)
    try:
        page.goto(served.url + "/admin/cohorts")
        expect(page.get_by_role("heading", level=1)).to_have_text("Cohorts")
        section = page.locator(f"#cohort-{ANCHORING}")
        expect(section.locator("tbody tr")).to_have_count(2)  # Ana and Ben; Lakeside's Cara is not theirs
        ben = section.locator("tbody tr", has_text="Ben Okoro")
        expect(ben).to_contain_text("Agreed to connect")
        expect(page.locator("body")).not_to_contain_text("Cara Diaz")
        check_page(page, axe, "admin-cohorts", SHOTS)

        page.get_by_role("navigation", name="Program admin workspace").get_by_role("link", name="Milestones").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Milestones")
        check_page(page, axe, "admin-milestones", SHOTS)
        row = page.locator(f"#m-{served.world['Ana']}-{ANCHORING}-earned")
        expect(row).to_contain_text("Earning")
        row.get_by_role("button", name="Send celebration email").click()
        expect(page.get_by_role("status")).to_contain_text("Your celebration email to Ana Alvarez is on its way")
        row = page.locator(f"#m-{served.world['Ana']}-{ANCHORING}-earned")
        expect(row).to_contain_text("Celebrated on Tuesday 10 November 2026")
        expect(row.get_by_role("button")).to_have_count(0)
        check_page(page, axe, "admin-milestones-celebrated", SHOTS)

        outbox = served.services.settings.resolved_outbox_dir
        sent = [json.loads(p.read_text()) for p in outbox.glob("celebration*.json")]
        assert {(m["kind"], m["to"]) for m in sent} == {("celebration", ANA), ("celebration_note", RIVERSIDE_ADMIN)}
        [to_ana] = [m for m in sent if m["kind"] == "celebration"]
        assert to_ana["reply_to"] == RIVERSIDE_ADMIN

        page.goto(served.url + "/admin/milestones?days=0")
        expect(page.get_by_role("alert")).to_contain_text("Days must be a whole number from 1 to 366.")
        check_page(page, axe, "admin-milestones-problem", SHOTS)
    finally:
        context.close()


def test_the_pages_keep_the_content_security_policy(browser: Browser, served: Served) -> None:
    for email, path in (
        (ANA, "/me/cohorts"),
        (RIVERSIDE_ADMIN, "/admin/cohorts"),
        (RIVERSIDE_ADMIN, "/admin/milestones"),
    ):
        context, page = signed_in(browser, served, email, for_axe=False)
        try:
            violations = policy_violations(page)
            page.goto(served.url + path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            # The inline stylesheet applies (its hash is in the policy), the cohorts' rules included.
            assert page.evaluate("getComputedStyle(document.querySelector('h1')).fontSize") == "25.6px"
            assert violations == [], (path, violations)
        finally:
            context.close()
