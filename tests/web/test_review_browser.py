"""The review page in a real browser (Debian's chromium): the video plays, a review is drafted, submitted, closed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cli.demo_reviewers import free_port, link_in_email, running_server
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Decision, utcnow
from credflow.decision.stage import aggregate
from credflow.notifications.rules import ReviewerMail
from credflow.notifications.stage import send_reviewer_mail
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_pool
from credflow.services import Services
from credflow.submissions import get_submission
from tests.utils.browser import CHROMIUM, policy_violations
from tests.utils.review_world import Applied, assign, assignment_row, make_clip, make_services, udl_submission
from web import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@dataclass(frozen=True)
class Served:
    services: Services
    applied: Applied
    url: str
    submitted: list[str]


def _record_and_decide(services: Services, submitted: list[str], submission_id: str) -> None:
    """What `credflow serve` does after a verdict (there through the decide flow): aggregate."""
    submitted.append(submission_id)
    aggregate(services, submission_id)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The app under uvicorn on 127.0.0.1, over one submission with a transcoded 61-second video."""
    folder = tmp_path_factory.mktemp("reviewbrowser")
    services = make_services(folder)
    applied = udl_submission(services, folder, name="Ana Alvarez", clip=make_clip(folder))
    submitted: list[str] = []
    app = create_app(services, on_review_submitted=lambda sid: _record_and_decide(services, submitted, sid))
    with running_server(app, free_port()) as url:
        yield Served(services, applied, url, submitted)
    services.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_a_reviewer_watches_the_video_scores_every_criterion_and_submits(served: Served, page: Page) -> None:
    link = assign(served.services, served.applied.submission_id)
    violations = policy_violations(page)
    page.goto(served.url + link.path)
    expect(page.get_by_role("heading", name="UDL Level 1: Designing for Learner Variability")).to_be_visible()
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=20_000)
    assert page.evaluate("document.querySelector('video').duration") == pytest.approx(61, abs=1)
    # The inline stylesheet applies: its hash is in the policy (a wide main: evidence beside the rubric).
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "1536px"

    radios = page.locator("input[type=radio][value=met]")
    assert radios.count() == 3
    for radio in radios.all():
        radio.check()
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("heading", name="Review submitted")).to_be_visible()
    assert served.submitted == [served.applied.submission_id]
    assert assignment_row(served.services, link.assignment_id).state == "submitted"

    again = page.goto(served.url + link.path)
    assert again is not None and again.status == 403
    expect(page.get_by_role("heading", name="This review link cannot be opened")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Learner variability")
    assert violations == []


def test_a_not_yet_without_comment_is_shown_at_the_criterion_and_a_draft_keeps_the_work(
    served: Served, page: Page
) -> None:
    link = assign(served.services, served.applied.submission_id)
    page.goto(served.url + link.path)
    for radio in page.locator("input[type=radio][value=met]").all():
        radio.check()
    page.check("input[name=verdict__options_designed][value=not_yet]")
    page.get_by_role("button", name="Submit review").click()

    criterion = page.locator("#criterion-options_designed")
    expect(criterion.locator(".problem")).to_have_text("a comment is required for Not Yet: say what to strengthen")
    expect(criterion.locator("input[value=not_yet]")).to_be_checked()  # the reviewer's choice is kept
    page.fill("#comment__options_designed", "Tie each option to the UDL guideline it applies.")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("status")).to_have_text("Draft saved.")
    expect(page.locator("#comment__options_designed")).to_have_value("Tie each option to the UDL guideline it applies.")
    row = assignment_row(served.services, link.assignment_id)
    assert row.state == "active"
    assert row.scores["options_designed"]["verdict"] == "not_yet"


def _pool(today: date) -> str:
    """Two UDL reviewers calibrated weeks before ``today`` (this page and its decision run on the wall clock)."""
    return f"""
reviewers:
  - {{name: Rosa Diaz, email: rosa@review.org, organisation: Northgate PD, certified_for: [udl-level-1],
     calibrated_on: {today - timedelta(days=83)}}}
  - {{name: Sam Iyer, email: sam@review.org, organisation: Pine Valley, certified_for: [udl-level-1],
     calibrated_on: {today - timedelta(days=53)}}}
"""


def test_two_reviewers_follow_their_email_links_and_the_decision_is_recorded(
    served: Served, page: Page, tmp_path
) -> None:
    services = served.services
    applied = udl_submission(services, tmp_path, name="Bea Brown", clip=make_clip(tmp_path))
    with services.db.session() as session:
        import_pool(session, parse_pool(_pool(utcnow().date()), catalog=services.catalog))
    round_ = assign_reviewers(services)
    mine = [a for a in round_.assigned if assignment_row(services, a).submission_id == applied.submission_id]
    assert len(mine) == 2
    for assignment_id in mine:
        send_reviewer_mail(services, assignment_id, ReviewerMail.ASSIGNMENT)

    outbox = services.settings.resolved_outbox_dir
    emails = [
        outbox / f"{m['eml']}"
        for m in _outbox_messages(outbox)
        if m["idempotency_key"] in {f"assignment:{a}" for a in mine}
    ]
    assert len(emails) == 2
    for eml in emails:
        link = link_in_email(eml)
        assert link is not None
        # The email's link, on this test server (the emails name the configured public URL).
        page.goto(served.url + "/review/" + link.split("/review/", 1)[1])
        page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=20_000)
        expect(page.locator("body")).not_to_contain_text("Bea Brown")
        for radio in page.locator("input[type=radio][value=met]").all():
            radio.check()
        page.get_by_role("button", name="Submit review").click()
        expect(page.get_by_role("heading", name="Review submitted")).to_be_visible()

    with services.db.session() as session:
        assert get_submission(session, applied.submission_id).state == "earned"
        decision = session.query(Decision).filter_by(submission_id=applied.submission_id).one()
        assert decision.outcome == "earned"
        assert all(entry["source"] == "reviews" and len(entry["reviews"]) == 2 for entry in decision.criteria.values())


def _outbox_messages(folder: Path) -> list[dict[str, str]]:
    from credflow.mail.outbox import OutboxMailer

    return OutboxMailer(folder, sender="x@example.org").list_messages()
