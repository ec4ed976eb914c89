"""The lead workspace in Debian's chromium: a lead adjudicates from /lead, reads the back-read report; axe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cli.demo_reviewers import free_port, running_server
from credflow.db.models import Assignment, Decision
from credflow.decision.stage import aggregate
from credflow.services import Services
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import session_cookie
from tests.utils.lead_world import LeadWorld, lead_world
from tests.utils.review_cycle import NOW
from tests.utils.review_world import make_services
from web.app import create_app

SHOTS = Path("/tmp/credflow-screens/lead")
LATER = NOW + timedelta(days=2)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@dataclass(frozen=True)
class Served:
    services: Services
    world: LeadWorld
    url: str
    axe: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The app under uvicorn at LATER over the lead world; a verdict that closes the reviews decides, as serve does."""
    folder = tmp_path_factory.mktemp("leadbrowser")
    services = make_services(folder)
    world = lead_world(services, folder)

    def decide(submission_id: str) -> None:
        aggregate(services, submission_id, now=LATER, backread_share=0.0)

    app = create_app(services, on_review_submitted=decide, now=lambda: LATER)
    with running_server(app, free_port()) as url:
        yield Served(services, world, url, install_axe())
    services.close()


def signed_in(browser: Browser, served: Served, email: str) -> Any:
    """A page in a new context (its CSP bypassed for axe) signed in as ``email``."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    name, value = session_cookie(served.services, email, now=LATER)
    context.add_cookies([{"name": name, "value": value, "url": served.url}])
    return context.new_page()


def test_a_lead_adjudicates_from_the_workspace_and_comes_back(browser: Browser, served: Served) -> None:
    page = signed_in(browser, served, served.world.adjudication_lead)
    violations = policy_violations(page)
    page.goto(served.url + "/lead")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead workspace")
    expect(page.get_by_text("Across all lead reviewers, 1 adjudication and 1 back-read are waiting.")).to_be_visible()
    waiting = page.locator(".lead-task", has_text="Adjudication")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("Facilitator moves are made visible")
    check_page(page, served.axe, "lead-workspace", SHOTS)

    waiting.get_by_role("link", name="Adjudicate").click()
    title = "Preparing to Facilitate the Anchoring Phenomenon Routine"
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    radios = page.locator("input[type=radio][value=met]")
    assert radios.count() == 1  # only the split criterion is settled
    radios.first.check()
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("heading", name="Adjudication submitted")).to_be_visible()

    page.goto(served.url + "/lead")
    expect(page.get_by_text("No adjudication is waiting for you.")).to_be_visible()
    expect(page.get_by_text("Across all lead reviewers, 0 adjudications and 1 back-read are waiting.")).to_be_visible()
    with served.services.db.session() as session:
        adjudication = session.get_one(Assignment, served.world.adjudication_id)
        assert adjudication.state == "submitted"
        decision = session.query(Decision).filter_by(submission_id=adjudication.submission_id).one()
        assert decision.outcome == "earned"
        assert decision.criteria["facilitator_moves"]["source"] == "adjudication"
    assert violations == []


def test_a_lead_reads_the_back_read_report_and_filters_it(browser: Browser, served: Served) -> None:
    page = signed_in(browser, served, served.world.backread_lead)
    violations = policy_violations(page)
    page.goto(served.url + "/lead")
    page.get_by_role("link", name="Back-read report").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Back-read report")
    expect(page.get_by_text("Drifting: Kim Wu.")).to_be_visible()
    kim = page.locator(".lead-measure", has=page.get_by_role("heading", name="Kim Wu"))
    expect(kim.locator(".lead-flag")).to_have_text("Drifting")
    expect(kim).to_contain_text("Agreed with the back-read on 6 of 12")
    expect(kim).to_contain_text("n=12")
    rosa = page.locator(".lead-measure", has=page.get_by_role("heading", name="Rosa Diaz"))
    expect(rosa.locator(".lead-flag")).to_have_count(0)
    expect(page.get_by_text("The back-read would have changed the outcome.")).to_be_visible()
    check_page(page, served.axe, "lead-backreads", SHOTS)

    page.fill("#from", (NOW - timedelta(days=9)).date().isoformat())
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_text("2 back-read decisions.")).to_be_visible()
    expect(page.get_by_text("Drifting: Kim Wu.")).to_have_count(0)
    check_page(page, served.axe, "lead-backreads-filtered", SHOTS)

    page.goto(served.url + "/lead/backreads?from=2026-11-30&to=2026-11-01")
    expect(page.get_by_role("alert")).to_contain_text("is before the 'from' date")
    check_page(page, served.axe, "lead-backreads-problem", SHOTS)

    page.goto(served.url + "/lead")
    page.get_by_role("link", name="Agreement report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agreement report")
    expect(page.get_by_text("Percent agreement, all criteria")).to_be_visible()
    check_page(page, served.axe, "lead-agreement", SHOTS)
    assert violations == []


def test_someone_who_is_not_a_lead_gets_a_clear_refusal(browser: Browser, served: Served) -> None:
    page = signed_in(browser, served, "kim@review.org")
    page.goto(served.url + "/lead")
    expect(page.get_by_role("heading", level=1)).to_have_text("This workspace is for lead reviewers")
    check_page(page, served.axe, "lead-forbidden", SHOTS)
