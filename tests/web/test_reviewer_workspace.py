"""The reviewer workspace's pages: who may open them, the queue's groups, links to one's own reviews, calibration."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from credflow.db.models import Assignment, CalibrationRecord, GoldStandard, Reviewer
from credflow.review.links import issue_token
from credflow.review.stage import open_assignment
from credflow.reviewers.stage import import_gold
from tests.utils.identity import csrf_of, signed_in_client
from tests.utils.review_world import make_services
from tests.utils.reviewer_world import NOW, ROSA, SAM, UDL_CRITERIA, ReviewerWorld, build_reviewer_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for httpx2; its test client works with httpx
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[ReviewerWorld]:
    """Two pool reviewers, Rosa's four assignments and Sam's one, two UDL gold standards; built once."""
    folder = tmp_path_factory.mktemp("reviewerworkspace")
    services = make_services(folder)
    yield build_reviewer_world(services, folder)
    services.close()


def _client(world: ReviewerWorld, email: str | None) -> TestClient:
    return signed_in_client(world.services, email, now=lambda: NOW, follow_redirects=False)


@pytest.fixture
def rosa(world: ReviewerWorld) -> Iterator[TestClient]:
    with _client(world, ROSA) as client:
        yield client


@pytest.fixture
def sam(world: ReviewerWorld) -> Iterator[TestClient]:
    with _client(world, SAM) as client:
        yield client


def _review_links(html: str) -> list[str]:
    return re.findall(r'href="(/review/[^"/]+)"', html)


def _calibrated_on(world: ReviewerWorld, email: str) -> date | None:
    with world.services.db.session() as session:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.email == email))
        assert reviewer is not None
        return reviewer.calibrated_on


@pytest.mark.parametrize("path", ["/reviewer", "/reviewer/calibration", "/reviewer/calibration/x"])
def test_signed_out_visitors_are_sent_to_sign_in_and_back(world: ReviewerWorld, path: str) -> None:
    with _client(world, None) as client:
        answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=" + path.replace("/", "%2F")


def test_someone_signed_in_outside_the_pool_gets_a_clear_403(world: ReviewerWorld) -> None:
    with _client(world, "ana.alvarez@example.org") as client:
        for path in ("/reviewer", "/reviewer/calibration", f"/reviewer/calibration/{world.golds[0]}"):
            answer = client.get(path)
            assert answer.status_code == 403
            assert "You are not in the reviewer pool" in answer.text
            assert "ana.alvarez@example.org is not in the program" in answer.text
        posted = client.post(f"/reviewer/calibration/{world.golds[0]}", data={"verdict__options_designed": "met"})
        assert posted.status_code == 403


def test_the_queue_lists_the_reviewers_own_open_assignments_with_time_left(
    world: ReviewerWorld, rosa: TestClient
) -> None:
    page = rosa.get("/reviewer")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Your review queue</h1>" in html
    assert 'href="/reviewer" aria-current="page">Reviewing</a>' in html
    assert "due Tue 8 Dec, 1 business day left" in html
    assert "due Mon 14 Dec, 4 business days left" in html
    assert html.index("due Tue 8 Dec") < html.index("due Mon 14 Dec")  # soonest first
    assert "Submitted 4 December 2026" in html
    assert "Declined 3 December 2026" in html and "I coached this teacher last year" in html
    for name in world.applicants:
        assert name not in html  # applicants are anonymised, as on the review page
    links = _review_links(html)
    assert len(links) == 2
    opened = {open_assignment(world.services, link.removeprefix("/review/"), now=NOW).id for link in links}
    assert opened == {world.soon, world.later}
    for link in links:
        assert rosa.get(link).status_code == 200


def test_another_reviewers_assignment_is_never_shown_or_linked(world: ReviewerWorld, rosa: TestClient) -> None:
    with world.services.db.session() as session:
        sams = session.get_one(Assignment, world.sams)
        token = issue_token(
            world.services.settings.keyring, assignment_id=sams.id, nonce=sams.token_nonce or "", due_at=sams.due_at
        )
    html = rosa.get("/reviewer").text
    assert token not in html
    assert html.count("Start review") == 2  # Rosa's two, not Sam's on the same submission


def test_calibration_shows_per_credential_with_the_lapse_date(world: ReviewerWorld, rosa: TestClient) -> None:
    html = rosa.get("/reviewer").text
    assert "UDL Level 1: Designing for Learner Variability" in html
    assert "Calibrated on 20 December 2025; lapses on 20 December 2026 (in 13 days)." in html
    assert "Calibrate on a gold standard" in html and "(2 available)" in html
    # udl-level-2 has no gold standard loaded yet
    assert "No gold standard is loaded for this micro-credential yet" in html


def test_a_saved_draft_moves_to_drafts_with_its_progress(world: ReviewerWorld, rosa: TestClient) -> None:
    with world.services.db.session() as session:
        row = session.get_one(Assignment, world.submitted)
        reviewer_id, submission_id = row.reviewer_id, row.submission_id
        draft = Assignment(
            submission_id=submission_id,
            reviewer_id=reviewer_id,
            role="review",
            state="active",
            scores={"options_designed": {"verdict": "not_yet", "comment": "Name the guideline."}},
            assigned_at=NOW - timedelta(days=2),
            due_at=NOW + timedelta(days=3),
        )
        session.add(draft)
    try:
        html = rosa.get("/reviewer").text
        drafts = html[html.index('id="drafts-heading"') : html.index('id="history-heading"')]
        assert "Draft saved: 1 of 3 criteria scored." in drafts
        assert "Continue review" in drafts
        assert len(_review_links(html)) == 3
    finally:
        with world.services.db.session() as session:
            session.delete(session.get_one(Assignment, draft.id))


def _extra_assignment_link(world: ReviewerWorld, *, nonce: str) -> str:
    """The review link of one more active assignment of Rosa's, on the submission she already reviewed."""
    with world.services.db.session() as session:
        row = session.get_one(Assignment, world.submitted)
        extra = Assignment(
            submission_id=row.submission_id,
            reviewer_id=row.reviewer_id,
            role="review",
            state="active",
            token_nonce=nonce,
            assigned_at=NOW,
            due_at=NOW + timedelta(days=20),
        )
        session.add(extra)
        session.flush()
        extra_id, due = extra.id, extra.due_at
    return "/review/" + issue_token(world.services.settings.keyring, assignment_id=extra_id, nonce=nonce, due_at=due)


def test_the_review_page_and_its_thank_you_lead_back_to_the_queue(world: ReviewerWorld, rosa: TestClient) -> None:
    link = _extra_assignment_link(world, nonce="n" * 32)
    page = rosa.get(link)
    assert '<a href="/reviewer">Your review queue</a>' in page.text
    assert 'id="shortcut-hint" hidden' in page.text and 'src="/static/review.js"' in page.text
    form = {"csrf": csrf_of(page.text), **{f"verdict__{key}": "met" for key in UDL_CRITERIA}}
    done = rosa.post(link + "/submit", data=form)
    assert done.status_code == 200 and "Review submitted" in done.text
    assert "You can close this page" not in done.text
    assert 'href="/reviewer">Back to your queue</a>' in done.text
    assert "Next in your queue" in done.text and "due Tue 8 Dec, 1 business day left" in done.text
    next_link = re.search(r'<a class="done-button" href="(/review/[^"]+)"', done.text)
    assert next_link and open_assignment(world.services, next_link.group(1)[8:], now=NOW).id == world.soon


def test_a_link_opened_signed_out_keeps_the_old_thank_you(world: ReviewerWorld) -> None:
    link = _extra_assignment_link(world, nonce="m" * 32)
    with _client(world, None) as client:
        page = client.get(link)
        assert "Your review queue" not in page.text
        done = client.post(link + "/decline", data={"csrf": csrf_of(page.text), "reason": "Away that week."})
    assert done.status_code == 200 and "You declined this assignment" in done.text
    assert "Back to your queue" not in done.text and "sign in</a> to see your review queue" in done.text


def test_the_calibration_list_shows_the_gold_standards_of_the_reviewers_credentials(
    world: ReviewerWorld, rosa: TestClient
) -> None:
    html = rosa.get("/reviewer/calibration").text
    assert "<h1>Calibrate on a gold standard</h1>" in html
    assert "UDL gold 1: Grade 7 ratios" in html and "UDL gold 2: Grade 4 reading" in html
    assert f'href="/reviewer/calibration/{world.golds[0]}"' in html
    assert "at least 80% of its criteria" in html


def test_a_reviewer_calibrates_in_the_browser_and_a_retake_is_practice(world: ReviewerWorld, sam: TestClient) -> None:
    gold = world.golds[0]
    form_page = sam.get(f"/reviewer/calibration/{gold}")
    assert form_page.status_code == 200
    assert "My 28 learners read at levels" in form_page.text  # the gold's written answer
    assert "UDL lesson plan (PDF, 3 pages)" in form_page.text  # its files, in words
    assert "Why gold scored it so" not in form_page.text  # no answers before scoring
    csrf = csrf_of(form_page.text)

    forged = sam.post(f"/reviewer/calibration/{gold}", data={"csrf": "forged", "verdict__options_designed": "met"})
    assert forged.status_code == 403 and "could not be verified" in forged.text

    partial = sam.post(f"/reviewer/calibration/{gold}", data={"csrf": csrf, "verdict__variability_analysed": "met"})
    assert partial.status_code == 422
    assert "Nothing was recorded" in partial.text and "choose Met or Not Yet" in partial.text
    assert 'value="met" required checked' in partial.text  # the choice made is kept

    right = {"csrf": csrf, "verdict__variability_analysed": "met", "verdict__options_designed": "not_yet",
             "verdict__reflection_on_barriers": "met"}  # fmt: skip
    posted = sam.post(f"/reviewer/calibration/{gold}", data=right)
    assert posted.status_code == 303
    result = sam.get(posted.headers["location"])
    assert result.status_code == 200
    assert "You are calibrated" in result.text and "3 of 3" in result.text
    assert "lapses on 7 December 2027" in result.text
    assert "the plan names no guideline for any option" in result.text  # the gold comment
    assert _calibrated_on(world, SAM) == NOW.date()

    # Once the gold verdicts have been seen, the same gold standard again is practice.
    with world.services.db.session() as session:
        session.get_one(
            Reviewer, session.scalar(select(Reviewer.id).where(Reviewer.email == SAM))
        ).calibrated_on = date(2026, 9, 1)
    again = sam.post(f"/reviewer/calibration/{gold}", data=right)
    practice = sam.get(again.headers["location"]).text
    assert "Practice: your calibration is unchanged" in practice
    assert _calibrated_on(world, SAM) == date(2026, 9, 1)
    assert "Practise again" in sam.get("/reviewer/calibration").text

    # Disagreeing on the other gold standard: recorded, not calibrated.
    second = world.golds[1]
    csrf2 = csrf_of(sam.get(f"/reviewer/calibration/{second}").text)
    wrong = {"csrf": csrf2, **{f"verdict__{key}": "met" for key in UDL_CRITERIA}}
    failed = sam.get(sam.post(f"/reviewer/calibration/{second}", data=wrong).headers["location"]).text
    assert "Not calibrated yet" in failed and "2 of 3" in failed and "80% needed" in failed
    assert "the barriers are described as deficits" in failed
    assert _calibrated_on(world, SAM) == date(2026, 9, 1)


def test_gold_standards_and_results_outside_the_reviewers_reach_are_404(world: ReviewerWorld, rosa: TestClient) -> None:
    assert rosa.get("/reviewer/calibration/not-a-gold").status_code == 404
    with world.services.db.session() as session:
        import_gold(
            session,
            "gold: [{name: openscied gold, credential: openscied-anchoring-phenomenon, scores: {"
            "purpose_explained: true, plan_models_routine: true, facilitator_moves: false, "
            "reflection_on_learners: true}}]",
            catalog=world.services.catalog,
        )
        uncertified = session.scalar(select(GoldStandard.id).where(GoldStandard.name == "openscied gold"))
        someone = Reviewer(email="ty@review.org", name="Ty Okafor", organisation="Eastside")
        session.add(someone)
        session.flush()
        theirs = CalibrationRecord(reviewer_id=someone.id, gold_id=world.golds[0], scores={}, agreed=0, total=3, at=NOW)
        session.add(theirs)
        session.flush()
        theirs_id = theirs.id
    answer = rosa.get(f"/reviewer/calibration/{uncertified}")
    assert answer.status_code == 404 and "No such gold standard of yours" in answer.text
    assert rosa.post(f"/reviewer/calibration/{uncertified}", data={"csrf": "x"}).status_code == 404
    assert rosa.get(f"/reviewer/calibration/{world.golds[0]}/result/{theirs_id}").status_code == 404  # not hers
    assert rosa.get(f"/reviewer/calibration/{world.golds[0]}/result/nothing").status_code == 404
