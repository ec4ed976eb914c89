"""A draft in Debian's chromium: built over two visits, checked, read by a coach, applied; axe at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from cli import demo_evidence as ev
from cli.demo_reviewers import free_port, running_server
from credflow.db.models import Submission
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils import badfiles
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import emailed_sign_in_links
from tests.utils.review_cycle import NOW
from web import create_app

SHOTS = Path("/tmp/credflow-portal-screens")
CRED = "openscied-anchoring-phenomenon"
EMAIL = "ana@example.org"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core from npm (tests/js/axe, npm ci on first use)."""
    return install_axe()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[str, Services, list[str]]]:
    """The app under uvicorn on 127.0.0.1, its public URL the server itself; applies are recorded."""
    folder = tmp_path_factory.mktemp("draftbrowser")
    port = free_port()
    settings = load_settings(
        data_dir=folder / "data", catalog_dir=ROOT / "rubrics", public_url=f"http://127.0.0.1:{port}"
    )
    services = build_services(settings)
    started: list[str] = []
    app = create_app(services, now=lambda: NOW, on_submitted=started.append)
    with running_server(app, port) as served:
        yield served, services, started
    services.close()


def signed_in(
    browser: Browser, url: str, services: Services, *, next_path: str, bypass_csp: bool = True, email: str = EMAIL
) -> Page:
    """A new browser context signed in as ``email`` through an emailed link, on ``next_path``."""
    context: BrowserContext = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{url}/sign-in?next={next_path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.goto(emailed_sign_in_links(services.settings.resolved_outbox_dir, email)[-1])
    page.get_by_role("button", name="Sign in").click()
    return page


def test_a_teacher_drafts_over_two_visits_checks_asks_a_coach_and_applies(world, browser: Browser, axe: Path, tmp_path):
    url, services, started = world
    draft_path = f"/me/credentials/{CRED}/draft"

    # Visit 1: start (who you are), write one answer, add a file with macros.
    page = signed_in(browser, url, services, next_path=f"/me/credentials/{CRED}/start")
    expect(page.get_by_role("heading", name=re.compile("^Start"))).to_be_visible()
    check_page(page, axe, "draft-start", SHOTS)
    page.get_by_label("Your name").fill("Ana Alvarez")
    page.get_by_label("Your organisation").fill("Riverside Unified")
    page.get_by_role("button", name="Start and open my draft").click()
    expect(page.get_by_role("heading", name="Preparing to Facilitate the Anchoring Phenomenon Routine")).to_be_visible()
    page.get_by_label("Your answer: Purpose of the routine").fill(ev.words(200))
    expect(page.locator("#words-routine_purpose")).to_have_text("200 words (150 to 600)")  # live, as typed
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    macro = badfiles.macro_docx(tmp_path, "plan-with-macros.docx")
    page.get_by_label("Add a file for Facilitation plan").set_input_files(str(macro))
    page.locator('form[data-requirement="facilitation_plan"]').get_by_role("button", name="Add file").click()
    expect(page.get_by_text("Added plan-with-macros.docx.")).to_be_visible()
    page.context.close()

    # Visit 2, another day's browser: the draft is as it was left.
    page = signed_in(browser, url, services, next_path=draft_path)
    expect(page.get_by_label("Your answer: Purpose of the routine")).to_have_value(ev.words(200))
    expect(page.get_by_role("link", name="plan-with-macros.docx")).to_be_visible()
    page.get_by_label("Your answer: Reflection").fill(ev.words(300, seed=2))
    expect(page.locator("#words-reflection")).to_have_text("300 words (200 to 800)")
    check_page(page, axe, "draft", SHOTS)
    page.get_by_role("button", name="Check my evidence").click()
    expect(page.get_by_role("heading", name="Check my evidence")).to_be_visible()
    expect(page.locator(".bad-file")).to_have_text("plan-with-macros.docx")
    check_page(page, axe, "draft-check", SHOTS)
    page.get_by_role("link", name="Back to your draft").click()
    expect(page.get_by_label("Your answer: Reflection")).to_have_value(ev.words(300, seed=2))  # saved by the check
    page.get_by_role("button", name="Remove plan-with-macros.docx").click()
    plan = ev.pdf(tmp_path / "plan.pdf", "Plan")
    page.get_by_label("Add a file for Facilitation plan").set_input_files(str(plan))
    page.locator('form[data-requirement="facilitation_plan"]').get_by_role("button", name="Add file").click()
    expect(page.get_by_text("Added plan.pdf.")).to_be_visible()

    # Ask a coach: the link (shown once) opens the draft read-only; the comment comes back to the draft page.
    page.get_by_label("Days the link works").fill("7")
    page.get_by_role("button", name="Make a coach link").click()
    link = page.locator("#coach-link").inner_text().strip()
    coach_context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    coach = coach_context.new_page()
    coach.goto(link)
    expect(coach.get_by_role("heading", name=re.compile("Ana Alvarez's draft"))).to_be_visible()
    expect(coach.get_by_role("link", name="plan.pdf")).to_be_visible()
    check_page(coach, axe, "coach", SHOTS)
    coach.get_by_label("Your comment for Ana Alvarez").fill("Add timings to each step of the plan.")
    coach.get_by_role("button", name="Send comment").click()
    expect(coach.get_by_text("Your comment was sent.")).to_be_visible()
    coach_context.close()
    page.goto(url + draft_path)
    expect(page.get_by_text("Add timings to each step of the plan.")).to_be_visible()

    # Apply, after the confirmation.
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", name="Apply with this draft?")).to_be_visible()
    expect(page.get_by_text("Do not apply until you are ready.")).to_be_visible()
    check_page(page, axe, "draft-apply", SHOTS)
    page.get_by_role("button", name="Yes, apply now").click()
    expect(page.get_by_role("heading", name="You applied")).to_be_visible()
    check_page(page, axe, "draft-applied", SHOTS)
    with services.db.session() as session:
        [sub] = session.scalars(select(Submission)).all()
        assert [e.original_name for e in sub.evidence] == ["plan.pdf"]
    assert started == [sub.id]
    page.context.close()


def test_the_word_count_script_runs_under_the_pages_policy(world, browser: Browser) -> None:
    url, services, _ = world
    start = f"/me/credentials/{CRED}/start"
    page = signed_in(browser, url, services, next_path=start, bypass_csp=False, email="dan@example.org")
    violations = policy_violations(page)
    page.get_by_label("Your name").fill("Dan Wu")
    page.get_by_label("Your organisation").fill("Hillcrest")
    page.get_by_role("button", name="Start and open my draft").click()
    expect(page.locator("#words-reflection")).to_have_text("0 words (200 to 800)")
    page.get_by_label("Your answer: Reflection").fill("one two three")
    expect(page.locator("#words-reflection")).to_have_text("3 words (200 to 800)")  # the script ran
    page.get_by_label("Your answer: Reflection").focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    assert violations == []
    page.context.close()
