"""The lead workspace over HTTP: who may open it, what waits for a lead, the back-read and agreement reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from credflow.services import Services
from tests.utils.identity import signed_in_client
from tests.utils.lead_world import LeadWorld, lead_world
from tests.utils.review_cycle import NOW
from tests.utils.review_world import make_services

LATER = NOW + timedelta(days=2)  # the pages' clock
PAGES = ["/lead", "/lead/backreads", "/lead/agreement"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[tuple[Services, LeadWorld]]:
    """One world for the module: the pages only read it."""
    folder = tmp_path_factory.mktemp("leadpages")
    services = make_services(folder)
    yield services, lead_world(services, folder)
    services.close()


@pytest.fixture
def services(built) -> Services:
    return built[0]


@pytest.fixture
def world(built) -> LeadWorld:
    return built[1]


def client_for(services, email: str | None) -> TestClient:
    """A browser on an app whose clock is LATER, signed in as ``email`` (signed out with None)."""
    return signed_in_client(services, email, now=lambda: LATER)


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_visitors_go_to_sign_in_and_non_leads_get_403(services, world, path):
    out = client_for(services, None).get(path, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == f"/sign-in?next={quote(path, safe='')}"
    for email in ("kim@review.org", "teacher.number1@example.org"):  # a reviewer, an applicant
        page = client_for(services, email).get(path)
        assert page.status_code == 403
        assert "This workspace is for lead reviewers" in page.text
        assert "Applicant " not in page.text and "Kim Wu" not in page.text


def test_a_lead_sees_their_own_waiting_work_with_links_and_the_count_across_leads(services, world):
    client = client_for(services, world.adjudication_lead)
    page = client.get("/lead")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Lead workspace</h1>" in text
    assert "Across all lead reviewers, 1 adjudication and 1 back-read are waiting." in text
    assert "Preparing to Facilitate the Anchoring Phenomenon Routine" in text
    assert "Facilitator moves are made visible" in text  # the split criterion to settle
    assert "days left" in text or "day left" in text
    links = [part.split('"', 1)[0] for part in text.split('href="/review/')[1:]]
    mine = 2 if world.backread_lead == world.adjudication_lead else 1
    assert len(links) == mine
    review = client.get(f"/review/{links[0]}")  # the link opens the review page of that adjudication
    assert review.status_code == 200 and "Adjudication" in review.text
    assert 'aria-current="page">Lead' in text  # the header marks the section

    other = "noor@review.org" if world.adjudication_lead == "ola@review.org" else "ola@review.org"
    theirs = client_for(services, other).get("/lead").text
    assert "No adjudication is waiting for you." in theirs
    assert "Across all lead reviewers, 1 adjudication and 1 back-read are waiting." in theirs


def test_the_back_read_report_flags_the_drifting_reviewer_with_words_and_sample_sizes(services, world):
    page = client_for(services, world.adjudication_lead).get("/lead/backreads")
    assert page.status_code == 200
    text = page.text
    assert "5 back-read decisions." in text
    assert "The back-read confirms the outcome (earned or not yet) of 4 of them." in text
    assert "Drifting: Kim Wu." in text
    assert "Agreed with the back-read on 6 of 12: below the 80% expected" in text
    assert "n=12" in text
    assert "Landis &amp; Koch" in text
    assert "Too few to trust: n=5" in text  # five decisions per criterion
    assert "The back-read would have changed the outcome." in text
    assert "Facilitator moves are made visible" in text


def test_the_back_read_report_filters_by_credential_and_period(services, world):
    client = client_for(services, world.adjudication_lead)
    start, end = (NOW - timedelta(days=9)).date(), NOW.date()
    page = client.get(f"/lead/backreads?from={start}&to={end}")
    assert page.status_code == 200 and "2 back-read decisions." in page.text
    assert "Drifting: Kim Wu." not in page.text
    other = client.get("/lead/backreads?credential=udl-level-1")
    assert other.status_code == 200 and "No back-read is complete for these decisions yet." in other.text
    assert '<option value="udl-level-1" selected>' in other.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "The &#39;from&#39; date must be a date like 2026-11-23: &#39;2026-13-01&#39; is not one."),
        ("to=yesterday", "The &#39;to&#39; date must be a date like 2026-11-23: &#39;yesterday&#39; is not one."),
        ("from=2026-11-20&to=2026-11-01", "The &#39;to&#39; date (2026-11-01) is before the &#39;from&#39; date"),
        ("credential=nope", "There is no micro-credential &#39;nope&#39;: choose one from the list."),
    ],
)
@pytest.mark.parametrize("path", ["/lead/backreads", "/lead/agreement"])
def test_bad_filters_get_a_422_naming_the_problem(services, world, path, query, message):
    page = client_for(services, world.adjudication_lead).get(f"{path}?{query}")
    assert page.status_code == 422
    assert "There is a problem with the filter" in page.text
    assert message in page.text
    assert "Fix the filter above to see the report." in page.text


def test_the_agreement_report_explains_each_number(services, world):
    page = client_for(services, world.adjudication_lead).get("/lead/agreement")
    assert page.status_code == 200
    text = page.text
    assert "Percent agreement, all criteria" in text
    assert "Krippendorff" in text and "Cohen&#39;s kappa" in text
    assert "Kim Wu and Rosa Diaz" in text
    assert "n=" in text and "Too few to trust" in text
    narrowed = client_for(services, world.adjudication_lead).get("/lead/agreement?credential=udl-level-1")
    assert "No review is submitted for these filters yet." in narrowed.text
