"""The program admin workspace over HTTP: scope in HTML, CSV and XLSX, filters, bad input, CSRF, the confirmation."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from credflow.db.models import HoursConfirmation
from credflow.services import Services
from tests.utils.admin_world import (
    BOTH_ADMIN,
    HILLCREST_ADMIN,
    NOW,
    PROGRAM_LEAD,
    WESTFIELD_ADMIN,
    World,
    build_world,
)
from tests.utils.identity import signed_in_client
from tests.utils.review_world import make_services

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, World]]:
    services = make_services(tmp_path_factory.mktemp("adminworkspace"))
    yield services, build_world(services)
    services.close()


def client_for(services: Services, email: str | None) -> TestClient:
    return signed_in_client(services, email, now=lambda: NOW)


@pytest.fixture(scope="module")
def westfield(world: tuple[Services, World]) -> TestClient:
    return client_for(world[0], WESTFIELD_ADMIN)


def xlsx_rows(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_an_admin_of_one_organisation_never_sees_another_s_educators(world, westfield) -> None:
    services, _ = world
    home = westfield.get("/admin")
    assert home.status_code == 200
    assert "Ana Alvarez" in home.text and "Ben Okoro" in home.text and "Cara Diaz" not in home.text
    assert "Hillcrest" not in home.text
    hours = westfield.get("/admin/hours").text
    assert "Ana Alvarez" in hours and "Cara Diaz" not in hours and "Hillcrest" not in hours
    text = westfield.get("/admin/hours.csv").text
    assert "Ana Alvarez" in text and "Cara Diaz" not in text and "Hillcrest" not in text
    rows = xlsx_rows(westfield.get("/admin/hours.xlsx").content)
    assert {r[0] for r in rows[1:-1]} == {"Ana Alvarez", "Ben Okoro"}
    other = client_for(services, HILLCREST_ADMIN)
    theirs = other.get("/admin").text
    assert "Cara Diaz" in theirs and "Ana Alvarez" not in theirs and "Westfield" not in theirs
    assert {r[0] for r in xlsx_rows(other.get("/admin/hours.xlsx").content)[1:-1]} == {"Cara Diaz"}


def test_the_home_page_titles_programs_and_shows_status_sla_and_badges(westfield) -> None:
    page = westfield.get("/admin").text
    assert '<h2 id="title-openscied-facilitator">OpenSciEd Facilitator Series</h2>' in page
    assert ">openscied-facilitator<" not in page  # no raw program id as a heading
    assert "Universal Design for Learning" in page and "No educators of yours in: Deeper Learning" in page
    assert "Supporting Coherence in OpenSciEd PL" in page and "Nothing to do: reviewers decide within 5" in page
    # Ben's coherence attempt waits past its five business days.
    assert re.search(r"Waiting past the target</dt><dd class=\"adm-late\">1</dd>", page)
    assert "OpenSciEd-Certified Facilitator" in page
    assert re.search(r'data-standing="expiring">\s*<th scope="row" data-label="Educator">Ben Okoro', page)
    assert re.search(r'data-standing="valid">\s*<th scope="row" data-label="Educator">Ana Alvarez', page)
    assert 'href="/admin/hours"' in page  # the workspace's pages are listed


def test_a_program_lead_sees_both_organisations_in_their_program_only(world) -> None:
    lead = client_for(world[0], PROGRAM_LEAD)
    page = lead.get("/admin").text
    assert "Cara Diaz" in page and "Ana Alvarez" in page and "Universal Design for Learning</h2>" not in page
    titles = [r[3] for r in xlsx_rows(lead.get("/admin/hours.xlsx").content)[1:-1]]
    assert "UDL Level 1: Designing for Learner Variability" not in titles and len(titles) == 4
    assert lead.get("/admin/hours?credential=udl-level-1").status_code == 422  # not one of their programs


def test_an_admin_of_several_organisations_filters_by_one(world) -> None:
    both = client_for(world[0], BOTH_ADMIN)
    page = both.get("/admin?organisation=hillcrest").text
    assert 'option value="Hillcrest" selected' in page
    assert "Cara Diaz" in page and "Ana Alvarez" not in page
    hours = both.get("/admin/hours", params={"organisation": "Westfield High"}).text
    assert "Ana Alvarez" in hours and "Cara Diaz" not in hours


def test_an_organisation_outside_the_grant_gets_403_and_no_data(westfield) -> None:
    for path in ("/admin", "/admin/hours", "/admin/hours.csv", "/admin/hours.xlsx"):
        refused = westfield.get(path, params={"organisation": "Hillcrest"})
        assert refused.status_code == 403, path
        assert "Not one of your organisations" in refused.text and "Cara Diaz" not in refused.text


def test_the_hours_filters_narrow_the_page_and_the_downloads_alike(westfield) -> None:
    params = {"from": "2026-10-01", "to": "2026-11-30"}
    page = westfield.get("/admin/hours", params=params).text
    assert "6 hours</strong> from 2 micro-credentials by 1 educator" in page
    assert 'href="/admin/hours.csv?from=2026-10-01&amp;to=2026-11-30"' in page
    rows = list(csv.DictReader(io.StringIO(westfield.get("/admin/hours.csv", params=params).text)))
    assert [(r["applicant_name"], r["earned_on"]) for r in rows] == [
        ("Ana Alvarez", "2026-10-05"),
        ("Ana Alvarez", "2026-11-02"),
    ]
    xlsx = westfield.get("/admin/hours.xlsx", params={**params, "credential": "udl-level-1"})
    assert xlsx.headers["content-disposition"] == 'attachment; filename="in-service-hours-2026-11-23.xlsx"'
    rows_x = xlsx_rows(xlsx.content)
    assert len(rows_x) == 3 and rows_x[1][4] == "udl-level-1" and rows_x[2][6] == 3


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "2026-02-30"}, "The start date must be a date like 2026-09-01"),
        ({"from": "2026-11-01", "to": "2026-10-01"}, "The end date must be on or after the start date."),
        ({"credential": "no-such-thing"}, "Choose one of the micro-credentials of your programs."),
    ],
)
def test_bad_filters_get_422_with_the_problem_named(westfield, params: dict[str, str], words: str) -> None:
    for path in ("/admin/hours", "/admin/hours.csv", "/admin/hours.xlsx"):
        page = westfield.get(path, params=params)
        assert page.status_code == 422 and words in page.text and "There is a problem" in page.text
        assert "text/html" in page.headers["content-type"]


def test_signed_out_visitors_sign_in_and_applicants_are_refused(world) -> None:
    services, _ = world
    anonymous = client_for(services, None)
    for path in ("/admin", "/admin/hours", "/admin/hours.csv", "/admin/hours.xlsx"):
        gone = anonymous.get(path, follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/sign-in?next=")
    applicant = client_for(services, "ana@westfield.org")
    for path in ("/admin", "/admin/hours.xlsx"):
        refused = applicant.get(path)
        assert refused.status_code == 403 and "Ben Okoro" not in refused.text
    assert anonymous.post("/admin/hours/confirmations", data={}, follow_redirects=False).status_code == 303


def test_a_confirmation_without_its_form_token_is_refused(world, westfield) -> None:
    services, w = world
    data = {
        "educator": w.ana,
        "from": "2026-07-01",
        "to": "2027-06-30",
        "director_name": "D",
        "director_email": "d@x.org",
    }
    refused = westfield.post("/admin/hours/confirmations", data={**data, "csrf": "forged"})
    assert refused.status_code == 403 and "could not be verified" in refused.text
    # A token made for another admin's session does not pass either.
    other = client_for(services, BOTH_ADMIN)
    token = CSRF.findall(other.get("/admin/hours").text)[0]
    assert westfield.post("/admin/hours/confirmations", data={**data, "csrf": token}).status_code == 403
    with services.db.session() as session:
        assert session.query(HoursConfirmation).count() == 0


def test_the_confirmation_form_names_its_problems_and_refuses_an_educator_of_another_organisation(
    world, westfield
) -> None:
    _, w = world
    token = CSRF.findall(westfield.get("/admin/hours").text)[0]
    page = westfield.post(
        "/admin/hours/confirmations",
        data={
            "csrf": token,
            "educator": w.cara,
            "from": "2026-07-01",
            "to": "x",
            "director_name": "",
            "director_email": "",
        },
    )
    assert page.status_code == 422
    expected = ("Choose the educator", "The end of the period must be a date", "Enter the PD director", "email address")
    for words in expected:
        assert words in page.text
    assert "Cara Diaz" not in page.text
    nothing = westfield.post(
        "/admin/hours/confirmations",
        data={
            "csrf": token,
            "educator": w.ben,
            "from": "2026-07-01",
            "to": "2027-06-30",
            "director_name": "D",
            "director_email": "d@westfield.org",
        },
    )
    assert nothing.status_code == 422 and "nothing to confirm" in nothing.text


def _verify_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_the_director_gets_a_verifiable_confirmation(world, westfield) -> None:
    services, w = world
    token = CSRF.findall(westfield.get("/admin/hours").text)[0]
    sent = westfield.post(
        "/admin/hours/confirmations",
        data={
            "csrf": token,
            "educator": w.ana,
            "from": "2026-07-01",
            "to": "2027-06-30",
            "director_name": "Dr. Keith Wilson",
            "director_email": "kwilson@westfield.org",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/admin/hours?sent=")
    listed = westfield.get(sent.headers["location"]).text
    assert "emailed to Dr. Keith Wilson (kwilson@westfield.org)" in listed and "by pd@westfield.org" in listed

    [meta] = [m for m in services.mailer.list_messages() if m["kind"] == "hours_confirmation"]
    assert meta["to"] == "kwilson@westfield.org" and meta["reply_to"] == "credentials@openscied.org"
    assert meta["subject"] == "In-service hours of Ana Alvarez: 9 hours, 1 July 2026 to 30 June 2027"
    outbox = Path(services.mailer.folder)
    email = BytesParser(policy=policy.default).parsebytes((outbox / meta["eml"]).read_bytes())
    body = email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    for words in ("15 September 2026, 3 hours", "UDL Level 1", "2 November 2026, 3 hours", "Total: 9 hours"):
        assert words in body
    [url] = re.findall(r"https?://\S+/hours/confirmations/\S+", body)

    public = client_for(services, None)
    genuine = public.get(_verify_path(url))
    assert genuine.status_code == 200 and "Genuine confirmation of in-service hours" in genuine.text
    assert "Ana Alvarez" in genuine.text and "9 hours" in genuine.text and "CF-" in genuine.text

    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    refused = public.get(_verify_path(tampered))
    assert refused.status_code == 404 and "This confirmation is not valid" in refused.text
    assert "Ana Alvarez" not in refused.text
    unknown = public.get("/hours/confirmations/not-a-token")
    assert unknown.status_code == 404 and "not valid" in unknown.text

    with services.db.session() as session:
        row = session.query(HoursConfirmation).one()
        assert row.sent_by == WESTFIELD_ADMIN and row.sent_at == NOW and row.applicant_id == w.ana
        row.content = {**row.content, "lines": [{**row.content["lines"][0], "hours": 30.0}, *row.content["lines"][1:]]}
    changed = public.get(_verify_path(url))
    assert changed.status_code == 404 and "changed after it was sent" in changed.text
    # Another organisation's admin does not see it listed.
    assert "Ana Alvarez" not in client_for(services, HILLCREST_ADMIN).get("/admin/hours").text
