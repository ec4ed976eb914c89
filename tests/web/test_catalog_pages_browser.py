"""In Debian's chromium, UDL Level 1 by the formal test (a failed try, the wait, a pass), then Level 2 unlocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cli.demo_reviewers import free_port, running_server
from credflow.db.models import InServiceHours, IssuedBadge
from credflow.services import build_services
from tests.utils.browser import CHROMIUM, check_page, install_axe
from tests.utils.identity import emailed_sign_in_links
from web.app import create_app

SHOTS = Path("/tmp/credflow-portal-screens")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
EMAIL = "maya@riverside.example"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


class Clock:
    """The app's clock, moved by the test (the retake wait is a week)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def sign_in_from_email(page: Page, outbox: Path) -> None:
    """On the sign-in page: ask for a link, open the newest one emailed and press its button."""
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    link = emailed_sign_in_links(outbox, EMAIL)[-1]
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()


def answer(page: Page, answers: dict[str, str]) -> None:
    """Choose each question's option by its label, inside the question's fieldset."""
    for key, text in answers.items():
        page.locator(f"#q-{key}").get_by_label(text, exact=True).check()
    page.get_by_role("button", name="Send my answers").click()


def test_level_1_by_the_formal_test_then_level_2_unlocked(make_settings, browser: Browser) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = build_services(make_settings(public_url=base))
    outbox = services.settings.resolved_outbox_dir
    clock = Clock()
    test = services.catalog.get("udl-level-1").test
    assert test is not None
    right = {item.key: next(o.text for o in item.options if o.key == item.answer) for item in test.items}
    wrong = {item.key: next(o.text for o in item.options if o.key != item.answer) for item in test.items}
    three_wrong = {key: (wrong if n < 3 else right)[key] for n, key in enumerate(right)}
    try:
        axe = install_axe()
        with running_server(create_app(services, now=clock), port):
            context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
            page = context.new_page()

            page.goto(base + "/")
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Show what you do in your classroom, and earn a badge for it"
            )
            check_page(page, axe, "landing", SHOTS)
            page.get_by_role("link", name="Browse all micro-credentials").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Micro-credentials")
            check_page(page, axe, "catalog", SHOTS)
            page.get_by_role("link", name="UDL Level 1: Designing for Learner Variability").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("UDL Level 1: Designing for Learner Variability")
            check_page(page, axe, "credential", SHOTS)

            # Signing in from the credential page comes back to it.
            page.get_by_role("link", name="Sign in to start").click()
            sign_in_from_email(page, outbox)
            expect(page).to_have_url(base + "/credentials/udl-level-1")
            page.get_by_role("link", name="Take the formal test").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("The formal test")
            check_page(page, axe, "test", SHOTS)

            page.get_by_label("Your name, as it should appear on your badge").fill("Maya Okafor")
            page.get_by_label("Your school or district (optional)").fill("Riverside Unified")
            page.get_by_role("button", name="Start try 1 of 3").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Try 1")
            expect(page.get_by_role("group")).to_have_count(10)  # a fieldset per question
            check_page(page, axe, "questions", SHOTS)

            # Sending with a question unanswered names it, and keeps the rest.
            first_nine = dict(list(three_wrong.items())[:9])
            answer(page, first_nine)
            expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
            expect(page.get_by_role("link", name="Question 10 has no answer: choose one option.")).to_be_visible()
            check_page(page, axe, "questions-error", SHOTS)
            answer(page, dict(list(three_wrong.items())[9:]))

            # Try 1: 7 of 10, below the pass mark of 8; the next try waits a week.
            expect(page.get_by_role("heading", level=1)).to_have_text("Not passed this time")
            expect(page.get_by_text("7 of 10 correct")).to_be_visible()
            expect(page.get_by_text("Monday 30 November 2026 at 09:00 UTC")).to_be_visible()
            expect(page.get_by_text("The correct answer:")).to_have_count(0)
            check_page(page, axe, "result-failed", SHOTS)

            # Three days later (a new session: the old one has ended): still waiting.
            clock.now = NOW + timedelta(days=3)
            page.goto(base + "/credentials/udl-level-1/test")
            sign_in_from_email(page, outbox)
            expect(page).to_have_url(base + "/credentials/udl-level-1/test")
            expect(page.get_by_text("Your next try may start on Monday 30 November 2026 at 09:00 UTC.")).to_be_visible()
            expect(page.get_by_role("button", name="Start try 2 of 3")).to_have_count(0)
            check_page(page, axe, "test-waiting", SHOTS)

            # A week after try 1: try 2, every answer right.
            clock.now = NOW + timedelta(days=7, hours=1)
            page.goto(base + "/credentials/udl-level-1/test")
            sign_in_from_email(page, outbox)
            page.get_by_role("button", name="Start try 2 of 3").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Try 2")
            answer(page, right)
            expect(page.get_by_role("heading", level=1)).to_have_text("You passed")
            expect(page.get_by_text("10 of 10 correct")).to_be_visible()
            check_page(page, axe, "result-passed", SHOTS)
            with services.db.session() as session:
                badge = session.scalars(select(IssuedBadge)).one()
                assert (badge.kind, badge.badge_key, badge.state) == ("micro", "udl-level-1", "active")
                assert badge.ob3["credentialSubject"]["achievement"]["name"].startswith("UDL Level 1")
                assert session.scalars(select(InServiceHours)).one().hours == 3
            expect(page.get_by_role("link", name="See your badge")).to_have_attribute("href", f"/badges/{badge.id}")

            # Level 2 is now open: its start button is there.
            page.get_by_role("link", name="UDL Level 2: Applying UDL Across a Unit").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("UDL Level 2: Applying UDL Across a Unit")
            expect(page.get_by_role("button", name="Start this micro-credential")).to_be_visible()
            expect(page.locator(".prereq")).to_contain_text(
                "Needs UDL Level 1: Designing for Learner Variability: earned"
            )
            expect(page.get_by_text("not earned yet")).to_have_count(0)
            check_page(page, axe, "credential-level-2-unlocked", SHOTS)
            context.close()
    finally:
        services.close()
