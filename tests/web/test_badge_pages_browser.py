"""The achievement, badge and wallet pages in Debian's chromium: axe-core at 1280 and 390 px; the share link copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from cli.demo_reviewers import free_port, running_server
from credflow.db.models import IssuedBadge
from credflow.issuance.stage import issue_for_decision
from credflow.services import build_services
from tests.utils.badge_world import ANA, SEEN_AT, badge_world
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import session_cookie
from tests.utils.review_cycle import NOW, decided_submission
from web.app import create_app

SHOTS = Path("/tmp/credflow-badge-screens")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


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


PORTAL_SHOTS = Path("/tmp/credflow-portal-screens")


def test_the_badge_pages_and_the_wallet_pass_axe_and_copy_the_share_link(tmp_path, browser: Browser) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world = badge_world(tmp_path, public_url=base)
    try:
        axe = install_axe()
        with running_server(create_app(world.services, now=lambda: SEEN_AT), port):
            # As a visitor's browser sees it, under the page's own policy: share.js runs and copies the link.
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            violations = policy_violations(page)
            page.goto(f"{base}/badges/{world.ana_micro}")
            copy = page.get_by_role("button", name="Copy share link")
            copy.click()
            page.get_by_role("status").filter(has_text="Link copied.").wait_for(timeout=5000)
            assert page.evaluate("navigator.clipboard.readText()") == f"{base}/badges/{world.ana_micro}"
            assert violations == []
            context.close()

            context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
            page = context.new_page()
            for name, badge_id in (("badge-verified", world.ana_micro), ("badge-revoked", world.ben_micro)):
                page.goto(f"{base}/badges/{badge_id}")
                page.locator("details").last.locator("summary").click()  # the JSON, open: it must wrap too
                check_page(page, axe, name, PORTAL_SHOTS)
            cookie_name, value = session_cookie(world.services, ANA.email, now=SEEN_AT)
            context.add_cookies([{"name": cookie_name, "value": value, "url": base}])
            page.goto(f"{base}/me/badges")
            page.locator("details summary").first.click()  # one badge's share and downloads, open
            check_page(page, axe, "wallet", PORTAL_SHOTS)
            context.clear_cookies()
            context.add_cookies(
                [
                    {"name": n, "value": v, "url": base}
                    for n, v in [session_cookie(world.services, "dana.diaz@example.org", now=SEEN_AT)]
                ]
            )
            page.goto(f"{base}/me/badges")
            check_page(page, axe, "wallet-empty", PORTAL_SHOTS)
            context.close()
    finally:
        world.services.close()
