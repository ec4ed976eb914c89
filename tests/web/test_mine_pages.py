"""The applicant's pages: My micro-credentials, one enrolment, its plan form and a result letter online."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from credflow.db.models import Decision, Enrolment, PlanTargetRow, Submission
from credflow.issuance.stage import issue_for_decision
from credflow.letters.stage import result_letter
from credflow.lifecycle import State
from credflow.submissions import transition
from tests.utils.builders import applicant
from tests.utils.identity import csrf_of, signed_in_client
from tests.utils.review_cycle import CRED, NOW, decided_submission, ready_submission
from web.app import create_app

EMAIL = applicant().email
LATER = NOW + timedelta(days=2)  # the pages' clock: two days after the decisions


def client_for(services, email: str = EMAIL) -> TestClient:
    """A browser signed in as ``email`` on an app whose clock is LATER."""
    return signed_in_client(services, email, now=lambda: LATER)


@pytest.fixture
def not_yet(services, tmp_path) -> str:
    """A decided "not yet" attempt (one criterion) of Ana's, with its letter's records."""
    return decided_submission(services, tmp_path, not_yet={"facilitator_moves": "not_yet"})


@pytest.fixture
def earned(services, tmp_path) -> tuple[str, str]:
    """An earned attempt of Ana's and its issued micro-credential badge."""
    sid = decided_submission(services, tmp_path)
    report = issue_for_decision(services, sid, today=NOW.date())
    assert report.micro is not None
    return sid, report.micro


@pytest.mark.parametrize(
    "path", ["/me/credentials", f"/me/credentials/{CRED}", f"/me/credentials/{CRED}/plan", "/me/submissions/x/letter"]
)
def test_signed_out_visitors_go_to_sign_in_and_back(services, path):
    response = TestClient(create_app(services, now=lambda: LATER)).get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=" + path.replace("/", "%2F"))


def test_someone_who_never_applied_gets_a_friendly_empty_state(services):
    page = client_for(services, "new.teacher@example.org").get("/me/credentials")
    assert page.status_code == 200
    assert "<h1>My micro-credentials</h1>" in page.text
    assert "You have not started a micro-credential yet." in page.text
    assert 'href="/credentials"' in page.text
    assert 'aria-current="page">My micro-credentials' in page.text  # the portal's section is marked


def test_a_not_yet_enrolment_shows_attempts_deadline_letter_and_resubmit_as_next(services, not_yet):
    page = client_for(services).get("/me/credentials")
    assert page.status_code == 200
    text = page.text
    assert "Preparing to Facilitate the Anchoring Phenomenon Routine" in text
    assert ">Not yet</span>" in text
    assert "Attempt 1 of 3" in text and "<dt>Attempts left</dt><dd>2</dd>" in text
    deadline = NOW.date() + timedelta(days=60)
    assert f"<dt>Resubmit by</dt><dd>{deadline:%A} {deadline.day} {deadline:%B %Y}</dd>" in text
    assert f'<a class="mine-button" href="/me/credentials/{CRED}/draft">Revise and resubmit' in text
    assert f'href="/me/submissions/{not_yet}/letter">Read your letter' in text
    assert f'href="/me/submissions/{not_yet}/letter">Attempt 1: Not yet' in text
    access = date(NOW.year + 3, NOW.month, NOW.day)
    assert f"<dt>Access ends</dt><dd>{access:%A} {access.day} {access:%B %Y}</dd>" in text


def test_an_earned_enrolment_leads_to_its_badge(services, earned):
    sid, badge_id = earned
    text = client_for(services).get("/me/credentials").text
    assert ">Earned</span>" in text
    assert "Attempts left" not in text  # an earned micro-credential has nothing left to attempt
    assert f'<a class="mine-button" href="/badges/{badge_id}">View your badge' in text
    assert f'href="/me/submissions/{sid}/letter"' in text
    assert "Revise and resubmit" not in text


def test_an_attempt_in_review_has_nothing_to_do_but_wait(services, tmp_path):
    ready_submission(services, tmp_path)
    text = client_for(services).get("/me/credentials").text
    assert ">In review</span>" in text and "We will email you the result." in text
    assert 'class="mine-button"' not in text  # no next step to take
    assert "Attempt 1 of 3" in text


def test_a_returned_attempt_costs_nothing_and_leads_back_to_the_draft(services, tmp_path):
    sid = ready_submission(services, tmp_path)
    with services.db.session() as session:  # as if the pre-assessor had returned it
        session.execute(update(Submission).where(Submission.id == sid).values(state="returned", problems=[{"m": 1}]))
    text = client_for(services).get("/me/credentials").text
    assert ">Returned to you</span>" in text and "costs no attempt" in text
    assert "<dt>Attempts left</dt><dd>3</dd>" in text
    assert f'href="/me/credentials/{CRED}/draft">Fix your evidence' in text


def test_a_closed_chain_points_at_its_letter_and_coaching(services, not_yet):
    with services.db.session() as session:
        transition(session, session.get_one(Submission, not_yet), State.CLOSED, actor="test", now=NOW)
    text = client_for(services).get("/me/credentials").text
    assert ">Closed</span>" in text and "coaching" in text
    assert f'<a class="mine-button" href="/me/submissions/{not_yet}/letter">Read your letter' in text


def test_the_detail_page_lists_the_attempts_with_dates_and_letters(services, not_yet):
    page = client_for(services).get(f"/me/credentials/{CRED}")
    assert page.status_code == 200
    text = page.text
    assert "<h2>Attempts</h2>" in text and "<h3>Attempt 1</h3>" in text
    assert f"<dt>Submitted</dt><dd>{NOW:%A} {NOW.day} {NOW:%B %Y}</dd>" in text
    assert "<dt>Result</dt><dd>Not yet</dd>" in text
    assert f'<a href="/me/submissions/{not_yet}/letter">Read the letter of attempt 1</a>' in text
    assert "You have not set any target dates." in text
    assert f'href="/me/credentials/{CRED}/plan">Set your target dates' in text
    assert '<a class="mine-link" href="/me/cohorts">Your cohorts</a>' in text  # where consent is given


def test_another_applicants_enrolment_and_letter_are_not_found(services, not_yet):
    other = client_for(services, "someone.else@example.org")
    assert other.get(f"/me/credentials/{CRED}").status_code == 404
    assert other.get(f"/me/credentials/{CRED}/plan").status_code == 404
    letter = other.get(f"/me/submissions/{not_yet}/letter")
    assert letter.status_code == 404 and "Facilitator" not in letter.text
    mine = client_for(services)
    assert mine.get("/me/credentials/not-a-credential").status_code == 404
    assert mine.get("/me/submissions/0000000000/letter").status_code == 404


def test_the_letter_online_says_what_the_email_says_and_ends_with_revise_and_resubmit(services, not_yet):
    page = client_for(services).get(f"/me/submissions/{not_yet}/letter")
    assert page.status_code == 200
    text = page.text.replace("&#39;", "'").replace("&#34;", '"')
    email = result_letter(services, not_yet).text
    credential = services.catalog.get(CRED)
    for criterion in credential.criteria:
        assert criterion.title in text and criterion.met in text
        assert (criterion.strengthen in text) == (criterion.key == "facilitator_moves")
        assert (criterion.strengthen in email) == (criterion.key == "facilitator_moves")
    assert "Reviewer 1:" in text and "add timings" in text and "add timings" in email
    assert "<h1>Your result: not yet</h1>" in text
    resubmit = f'<a class="mine-button" href="/me/credentials/{CRED}/draft">Revise and resubmit</a>'
    assert resubmit in text
    assert text.index(resubmit) > text.index(credential.criteria[-1].title)  # the letter ends with it


def test_an_earned_letter_online_gives_the_badge_and_hours(services, earned):
    sid, badge_id = earned
    text = client_for(services).get(f"/me/submissions/{sid}/letter").text
    assert "<h1>You earned Preparing to Facilitate the Anchoring Phenomenon Routine</h1>" in text
    assert f'href="/badges/{badge_id}">View and share your badge' in text
    assert f'href="/badges/{badge_id}/credential.json"' in text
    assert "Revise and resubmit" not in text


def test_a_resubmitted_letter_no_longer_offers_to_resubmit(services, not_yet):
    with services.db.session() as session:
        transition(session, session.get_one(Submission, not_yet), State.RESUBMITTED, actor="test", now=NOW)
    text = client_for(services).get(f"/me/submissions/{not_yet}/letter").text
    assert "Revise and resubmit" not in text
    assert "resubmission window for this attempt has ended" in text or "You resubmitted" in text


def _plan_post(client: TestClient, **dates: str):
    form = client.get(f"/me/credentials/{CRED}/plan")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), **{f"target__{key}": value for key, value in dates.items()}}
    return client.post(f"/me/credentials/{CRED}/plan", data=data, follow_redirects=False)


def _stored(services) -> dict[str, date]:
    with services.db.session() as session:
        return {row.requirement_key: row.target_date for row in session.scalars(select(PlanTargetRow))}


def test_the_plan_form_saves_target_dates_and_the_detail_page_shows_them(services, not_yet):
    client = client_for(services)
    form = client.get(f"/me/credentials/{CRED}/plan").text
    for key in ("routine_purpose", "facilitation_plan", "dqb_artifact", "reflection"):
        assert f'<label class="field" for="target__{key}">' in form
        assert f'type="date" class="mine-date" id="target__{key}" name="target__{key}"' in form
    saved = _plan_post(client, facilitation_plan="2026-12-10", reflection="2027-01-05")
    assert saved.status_code == 303 and saved.headers["location"] == f"/me/credentials/{CRED}?plan=saved#plan"
    assert _stored(services) == {"facilitation_plan": date(2026, 12, 10), "reflection": date(2027, 1, 5)}
    detail = client.get(saved.headers["location"]).text
    assert "Your plan is saved." in detail
    assert "<td>Facilitation plan</td><td>Thursday 10 December 2026</td>" in detail
    cleared = _plan_post(client, facilitation_plan="", reflection="2027-01-05")
    assert cleared.status_code == 303 and _stored(services) == {"reflection": date(2027, 1, 5)}


def test_the_plan_form_refuses_past_dates_dates_after_access_and_non_dates_keeping_what_was_stored(services, not_yet):
    client = client_for(services)
    assert _plan_post(client, reflection="2027-01-05").status_code == 303
    refused = _plan_post(client, facilitation_plan="2026-11-01", reflection="2031-01-01", dqb_artifact="soon")
    assert refused.status_code == 422
    text = refused.text
    assert "There are 3 problems with your dates" in text
    assert "is in the past: choose today (25 November 2026) or a later day." in text
    assert "is after your access ends on 23 November 2029" in text
    assert "is not a date: enter it as year-month-day" in text
    assert 'value="soon"' in text and 'aria-invalid="true"' in text  # what was typed, marked at its field
    assert _stored(services) == {"reflection": date(2027, 1, 5)}  # nothing stored is lost


def test_a_plan_post_without_its_form_token_is_refused(services, not_yet):
    client = client_for(services)
    client.get(f"/me/credentials/{CRED}/plan")
    refused = client.post(f"/me/credentials/{CRED}/plan", data={"target__reflection": "2027-01-05"})
    assert refused.status_code == 403 and _stored(services) == {}


def test_a_changed_date_is_reminded_afresh(services, not_yet):
    client = client_for(services)
    _plan_post(client, reflection="2026-12-01")
    with services.db.session() as session:
        row = session.scalar(select(PlanTargetRow))
        assert row is not None
        row.reminded_at = LATER
    _plan_post(client, reflection="2026-12-01")  # unchanged: still reminded
    with services.db.session() as session:
        assert session.scalar(select(PlanTargetRow.reminded_at)) is not None
    _plan_post(client, reflection="2026-12-03")
    with services.db.session() as session:
        assert session.scalar(select(PlanTargetRow.reminded_at)) is None


def test_enrolments_are_read_from_the_records(services, not_yet):
    with services.db.session() as session:  # the fixture's records the page reads, so the asserts above mean something
        assert session.scalar(select(Decision.outcome).where(Decision.submission_id == not_yet)) == "not_yet"
        assert session.scalar(select(Enrolment.credential_id)) == CRED
