"""The applicant's pages in Debian's chromium: axe-core at 1280 and 390 px on every page, in several states."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from cli.demo_reviewers import free_port, running_server
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Enrolment, Submission
from credflow.decision.stage import aggregate
from credflow.issuance.stage import issue_for_decision
from credflow.lifecycle import State
from credflow.review.stage import submit_review
from credflow.services import Services, build_services
from tests.utils.browser import CHROMIUM, check_page, install_axe
from tests.utils.builders import applicant
from tests.utils.identity import session_cookie
from tests.utils.review_cycle import CRED, NOW, assignments_of, load_pool, ready_submission, review_scores
from web.app import create_app

SHOTS = Path("/tmp/credflow-portal-screens")
LATER = NOW + timedelta(days=2)
ANA, BEN = applicant(), applicant("Ben Okoro", "Lakeside ISD")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


def world(services: Services, tmp_path: Path) -> tuple[str, str]:
    """Ana: "not yet" on the anchoring credential, another in review, a third not started. Ben: earned, with a badge."""
    load_pool(services)
    for folder in ("ana", "ben"):
        (tmp_path / folder).mkdir()
    ana = ready_submission(services, tmp_path / "ana", ANA)
    ben = ready_submission(services, tmp_path / "ben", BEN)
    assign_reviewers(services, now=NOW)
    for sid, verdicts in ((ana, {"facilitator_moves": "not_yet", "purpose_explained": "not_yet"}), (ben, None)):
        for assignment in assignments_of(services, sid):
            submit_review(services, assignment.id, review_scores(services, verdicts), now=NOW)
        aggregate(services, sid, now=NOW, backread_share=0.0)
    issue_for_decision(services, ben, today=NOW.date())
    with services.db.session() as session:
        applicant_id = session.get_one(Submission, ana).applicant_id
        session.add(Enrolment(applicant_id=applicant_id, credential_id="udl-level-1", enrolled_on=NOW.date()))
        coherence = "openscied-supporting-coherence"
        session.add(Enrolment(applicant_id=applicant_id, credential_id=coherence, enrolled_on=NOW.date()))
        session.add(
            Submission(
                applicant_id=applicant_id,
                credential_id=coherence,
                attempt=1,
                state=State.IN_REVIEW.value,
                idempotency_key="browser-coherence",
                created_at=NOW,
                state_since=NOW,
            )
        )
    return ana, ben


def test_the_applicants_pages_pass_axe_at_both_widths(make_settings, tmp_path, browser: Browser) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = build_services(make_settings(public_url=base))
    try:
        ana, ben = world(services, tmp_path)
        axe = install_axe()
        with running_server(create_app(services, now=lambda: LATER), port):

            def page_as(email: str):
                context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
                name, value = session_cookie(services, email, now=LATER)
                context.add_cookies([{"name": name, "value": value, "url": base}])
                return context, context.new_page()

            context, page = page_as("cleo.new@example.org")
            page.goto(f"{base}/me/credentials")
            assert "You have not started a micro-credential yet." in page.content()
            check_page(page, axe, "mine-empty", SHOTS)
            context.close()

            context, page = page_as(ANA.email)
            page.goto(f"{base}/me/credentials")
            assert page.locator(".mine-item").count() == 3
            for state in ("Not yet", "In review", "Not started"):
                assert page.locator(".mine-tag", has_text=state).count() == 1
            check_page(page, axe, "mine-list", SHOTS)

            page.get_by_role(
                "link", name="Preparing to Facilitate the Anchoring Phenomenon Routine", exact=True
            ).click()
            assert page.get_by_role("heading", level=2, name="Attempts").is_visible()
            check_page(page, axe, "mine-detail", SHOTS)

            page.get_by_role("link", name="Set your target dates").click()
            check_page(page, axe, "mine-plan", SHOTS)
            page.fill("#target__facilitation_plan", "2026-11-01")
            page.fill("#target__reflection", (LATER.date() + timedelta(days=20)).isoformat())
            page.get_by_role("button", name="Save my plan").click()
            assert "There is a problem with your dates" in page.content()
            check_page(page, axe, "mine-plan-problem", SHOTS)
            page.fill("#target__facilitation_plan", (LATER.date() + timedelta(days=10)).isoformat())
            page.get_by_role("button", name="Save my plan").click()
            assert "Your plan is saved." in page.content()
            check_page(page, axe, "mine-detail-plan", SHOTS)

            page.goto(f"{base}/me/submissions/{ana}/letter")
            assert page.get_by_role("heading", level=1).inner_text() == "Your result: not yet"
            check_page(page, axe, "letter-not-yet", SHOTS)
            page.get_by_role("link", name="Revise and resubmit").last.click()
            assert page.url.endswith(f"/me/credentials/{CRED}/draft")
            context.close()

            context, page = page_as(BEN.email)
            page.goto(f"{base}/me/credentials")
            assert page.locator(".mine-tag", has_text="Earned").count() == 1
            check_page(page, axe, "mine-list-earned", SHOTS)
            page.goto(f"{base}/me/submissions/{ben}/letter")
            check_page(page, axe, "letter-earned", SHOTS)
            context.close()
    finally:
        services.close()
