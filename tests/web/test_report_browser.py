"""The program report in Debian's chromium, signed in as an operator: tables, SVG chart, no CSP violation, the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cli.demo_reviewers import free_port, running_server
from credflow.accounts.grants import add_grant
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Enrolment
from credflow.decision.stage import aggregate
from credflow.intake.rules import ApplicantInfo
from credflow.intake.stage import submit
from credflow.review.stage import submit_review
from credflow.submissions import get_submission
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.builders import anchoring_request, applicant
from tests.utils.identity import session_cookie
from tests.utils.review_cycle import NOW, assignments_of, load_pool, ready_submission, review_scores
from tests.utils.review_world import make_services
from web import create_app

SHOTS = Path("/tmp/credflow-screens/report")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[tuple[str, tuple[str, str]]]:
    """The app on 127.0.0.1 over an earned, a submitted and a not-started educator, and an operator's cookie."""
    folder = tmp_path_factory.mktemp("reportbrowser")
    services = make_services(folder)
    load_pool(services)
    ana = ready_submission(services, folder, who=applicant("Ana Alvarez", org="Westfield High"))
    assign_reviewers(services, now=NOW)
    for assignment in assignments_of(services, ana):
        submit_review(services, assignment.id, review_scores(services), now=NOW)
    aggregate(services, ana, now=NOW + timedelta(days=1))
    submit(
        services,
        anchoring_request(folder, who=ApplicantInfo("Dan <b>Wu</b>", "dan@example.org", "Hillcrest"), title="D"),
        now=NOW,
    )
    with services.db.session() as session:
        ana_id = get_submission(session, ana).applicant_id
        session.add(Enrolment(applicant_id=ana_id, credential_id="udl-level-1", enrolled_on=NOW.date()))
    add_grant(services, "operator@example.org", operator=True)
    cookie = session_cookie(services, "operator@example.org", now=NOW + timedelta(days=3))
    app = create_app(services, now=lambda: NOW + timedelta(days=3))
    with running_server(app, free_port()) as served:
        yield served, cookie
    services.close()


@pytest.fixture
def page(browser: Browser, url: tuple[str, tuple[str, str]]) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    name, value = url[1]
    context.add_cookies([{"name": name, "value": value, "url": url[0]}])
    yield context.new_page()
    context.close()


def test_a_program_admin_sees_each_educator_the_chart_and_downloads_the_csv(
    url: tuple[str, tuple[str, str]], page: Page
) -> None:
    violations = policy_violations(page)
    page.goto(url[0] + "/reports/programs")
    expect(page.get_by_role("heading", name="Educators' micro-credential progress")).to_be_visible()

    openscied = page.locator("#program-openscied-facilitator")
    # Programs are headed by their titles, not their ids; the workspace's sub-navigation marks this page.
    expect(openscied.get_by_role("heading", level=2)).to_have_text("OpenSciEd Facilitator Series")
    expect(page.get_by_role("navigation", name="Program admin workspace").locator("[aria-current=page]")).to_have_text(
        "Program report"
    )
    rows = openscied.locator("table.report-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Dan <b>Wu</b>")  # escaped, shown as typed
    expect(rows.nth(0)).to_contain_text("Submitted")
    expect(rows.nth(1)).to_contain_text("Ana Alvarez")
    expect(rows.nth(1)).to_contain_text("Westfield High")
    expect(rows.nth(1)).to_contain_text("Celebrate the accomplishment")
    expect(rows.nth(1).locator("td").nth(5)).to_have_text("2")  # earned on Tuesday, report on Thursday
    expect(openscied.locator(".facts")).to_contain_text("1 business day")
    expect(openscied.locator(".facts")).to_contain_text("100% (1 of 1)")
    udl = page.locator("#program-udl table.report-table tbody tr")
    expect(udl).to_have_count(1)
    expect(udl).to_contain_text("Getting started: plan which evidence to collect and when")

    chart = openscied.locator("svg.status-chart")
    expect(chart).to_be_visible()
    earned_bar = chart.locator("g[data-status=earned] rect")
    expect(earned_bar).to_be_visible()
    box = earned_bar.bounding_box()
    assert box is not None and box["width"] > 100  # one of the two tallest bars fills the chart
    assert chart.locator("g[data-status=returned] rect").get_attribute("width") == "0"
    # The inline stylesheet applies (its hash is in the policy), the report's rules included.
    assert page.evaluate("getComputedStyle(document.querySelector('.report-table')).borderCollapse") == "collapse"

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the report as CSV").click()
    download = info.value
    assert download.suggested_filename == f"program-report-{(NOW + timedelta(days=3)):%Y-%m-%d}.csv"
    rows_csv = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert {(r["educator"], r["status"]) for r in rows_csv} == {
        ("Ana Alvarez", "earned"),
        ("Ana Alvarez", "not_started"),
        ("Dan <b>Wu</b>", "submitted"),
    }
    assert violations == []


def test_the_report_page_passes_axe_at_both_widths(browser: Browser, url: tuple[str, tuple[str, str]]) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected past the policy
    name, value = url[1]
    context.add_cookies([{"name": name, "value": value, "url": url[0]}])
    page = context.new_page()
    page.goto(url[0] + "/reports/programs")
    check_page(page, install_axe(), "program-report", SHOTS)
    context.close()
