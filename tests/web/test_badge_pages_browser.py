"""The achievement page (every credential's achievement id) in Debian's chromium: axe-core at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from cli.demo_reviewers import free_port, running_server
from credflow.db.models import IssuedBadge
from credflow.issuance.stage import issue_for_decision
from credflow.services import build_services
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS, check_page, install_axe
from tests.utils.review_cycle import NOW, decided_submission
from web.app import create_app

SHOTS = Path("/tmp/credflow-badge-screens")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_the_achievement_page_passes_axe_at_both_widths(make_settings, tmp_path, browser: Browser) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = build_services(make_settings(public_url=base))
    try:
        sid = decided_submission(services, tmp_path)
        report = issue_for_decision(services, sid, today=NOW.date())
        assert report.micro is not None
        with services.db.session() as session:
            credential = session.get_one(IssuedBadge, report.micro).ob3
        achievement = credential["credentialSubject"]["achievement"]
        axe = install_axe()
        with running_server(create_app(services, now=lambda: NOW), port):
            context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(achievement["id"])
            assert page.get_by_role("heading", level=1).inner_text().strip() == achievement["name"]
            check_page(page, axe, "achievement", SHOTS)
            context.close()
    finally:
        services.close()
