"""The program admin workspace in Debian's chromium: scope, hours filters, CSV and XLSX downloads, the confirmation."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from cli.demo_reviewers import free_port, running_server
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils.admin_world import NOW, WESTFIELD_ADMIN, build_world
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import session_cookie
from tests.utils.portal import sign_in
from web import create_app

SHOTS = Path("/tmp/credflow-screens/admin")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services]]:
    """The app on 127.0.0.1 over the admin world (two organisations), its clock at NOW."""
    folder, port = tmp_path_factory.mktemp("adminbrowser"), free_port()
    settings = load_settings(
        data_dir=folder / "data", catalog_dir=ROOT / "rubrics", public_url=f"http://127.0.0.1:{port}"
    )
    services = build_services(settings)  # its links (sign-in, verification) lead to this server
    build_world(services)
    app = create_app(services, now=lambda: NOW)
    with running_server(app, port) as url:
        yield url, services
    services.close()


@pytest.fixture(scope="module")
def axe() -> Path:
    return install_axe()


@pytest.fixture(scope="module")
def page(browser: Browser, served: tuple[str, Services]) -> Iterator[Page]:
    """The Westfield High admin, signed in through the emailed link (CSP bypassed for axe)."""
    url, services = served
    signed_in: Page = sign_in(browser, url, services.mailer.folder, WESTFIELD_ADMIN, next_path="/admin")  # type: ignore[attr-defined]
    yield signed_in
    signed_in.context.close()


def outbox_body(services: Services, kind: str) -> str:
    """The plain-text body of the newest outbox message of ``kind``."""
    folder = Path(services.mailer.folder)  # type: ignore[attr-defined]
    [meta] = [m for m in services.mailer.list_messages() if m["kind"] == kind]  # type: ignore[attr-defined]
    email = BytesParser(policy=policy.default).parsebytes((folder / meta["eml"]).read_bytes())
    body = email.get_body(preferencelist=("plain",))
    assert body is not None and meta["reply_to"] == "credentials@openscied.org"
    return str(body.get_content())


def test_the_admin_sees_only_their_organisation_by_program_title(page: Page, served, axe: Path) -> None:
    expect(page.get_by_role("heading", name="Your programs", level=1)).to_be_visible()
    openscied = page.locator("#program-openscied-facilitator")
    expect(openscied.get_by_role("heading", name="OpenSciEd Facilitator Series")).to_be_visible()
    expect(openscied.locator("table.adm-educators tbody tr")).to_have_count(4)
    expect(page.locator("main")).not_to_contain_text("Cara Diaz")
    expect(page.locator("main")).not_to_contain_text("Hillcrest")
    expect(openscied.locator("tr[data-standing=expiring]")).to_contain_text("Ben Okoro")
    expect(openscied.locator(".adm-late")).to_have_text("1")
    check_page(page, axe, "admin-home", SHOTS)


def test_the_admin_filters_hours_and_downloads_csv_and_xlsx(page: Page, served, axe: Path) -> None:
    url, _ = served
    page.goto(url + "/admin")
    page.get_by_role("link", name="In-service hours").click()
    expect(page.get_by_role("heading", name="In-service hours", level=1)).to_be_visible()
    expect(page.locator(".adm-summary")).to_contain_text("12 hours")
    page.get_by_label("Earned from").fill("2026-10-01")
    page.get_by_label("Earned up to").fill("2026-11-30")
    page.get_by_role("button", name="Show hours").click()
    expect(page.locator(".adm-summary")).to_contain_text("6 hours from 2 micro-credentials by 1 educator")
    expect(page.locator("table.adm-hours tbody tr")).to_have_count(2)
    assert "from=2026-10-01" in page.url
    check_page(page, axe, "admin-hours", SHOTS)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV").click()
    assert info.value.suggested_filename == "in-service-hours-2026-11-23.csv"
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert [(r["applicant_name"], r["credential_id"], r["hours"]) for r in rows] == [
        ("Ana Alvarez", "udl-level-1", "3"),
        ("Ana Alvarez", "openscied-supporting-coherence", "3"),
    ]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download as Excel (XLSX)").click()
    assert info.value.suggested_filename == "in-service-hours-2026-11-23.xlsx"
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    assert sheet is not None
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[0][:3] == ["Educator", "Email", "Organisation"]
    assert cells[1][0] == "Ana Alvarez" and cells[1][5] == datetime(2026, 10, 5) and cells[1][6] == 3
    assert cells[2][3] == "Supporting Coherence in OpenSciEd PL"
    assert cells[3][0] == "Total (2 micro-credentials, 1 educators)" and cells[3][6] == 6
    assert sheet["F2"].is_date and {row[2] for row in cells[1:3]} == {"Westfield High"}


def test_bad_dates_are_named_on_the_page(page: Page, served, axe: Path) -> None:
    url, _ = served
    response = page.goto(url + "/admin/hours?from=2026-02-30")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("The start date must be a date like 2026-09-01")
    check_page(page, axe, "admin-hours-error", SHOTS)


def test_the_admin_sends_the_director_a_confirmation_that_verifies(page: Page, served, axe: Path) -> None:
    url, services = served
    page.goto(url + "/admin/hours")
    form = page.locator("form[action='/admin/hours/confirmations']")
    form.get_by_label("Educator").select_option(label="Ana Alvarez (Westfield High)")
    form.get_by_label("Period from").fill("2026-07-01")
    form.get_by_label("Period to").fill("2027-06-30")
    form.get_by_label("Director's name").fill("Dr. Keith Wilson")
    form.get_by_label("Director's email address").fill("kwilson@westfield.org")
    form.get_by_role("button", name="Email the confirmation").click()
    expect(page.get_by_role("status")).to_contain_text("9 hours was emailed to Dr. Keith Wilson")
    expect(page.locator("table.adm-sent tbody tr")).to_have_count(1)
    check_page(page, axe, "admin-hours-sent", SHOTS)

    body = outbox_body(services, "hours_confirmation")
    assert "Total: 9 hours" in body and "Preparing to Facilitate the Anchoring Phenomenon Routine" in body
    [link] = re.findall(r"https?://\S+/hours/confirmations/\S+", body)
    path = "/" + link.split("/", 3)[3]
    page.goto(url + path)
    expect(page.get_by_role("heading", name="Genuine confirmation of in-service hours")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Ana Alvarez")
    check_page(page, axe, "hours-confirmation", SHOTS)
    page.goto(url + path[:-4] + "xxxx")
    expect(page.get_by_role("heading", name="This confirmation is not valid")).to_be_visible()
    check_page(page, axe, "hours-confirmation-invalid", SHOTS)


def test_the_workspace_pages_break_no_content_security_policy(browser: Browser, served) -> None:
    url, services = served
    context = browser.new_context()
    name, value = session_cookie(services, WESTFIELD_ADMIN, now=NOW)
    context.add_cookies([{"name": name, "value": value, "url": url}])
    page = context.new_page()
    violations = policy_violations(page)
    for path in ("/admin", "/admin/hours", "/admin/hours?from=bad"):
        page.goto(url + path)
        expect(page.locator("h1")).to_have_count(1)
    # The inline stylesheet applies (its hash is in the policy), the workspace's rules included.
    assert page.evaluate("getComputedStyle(document.querySelector('.adm-filter')).display") == "flex"
    context.close()
    assert violations == []
