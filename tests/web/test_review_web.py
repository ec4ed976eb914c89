"""The reviewer web page: content, downloads, video ranges, CSRF, drafts, submit, decline and refused links."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from credflow.db.models import Assignment, utcnow
from credflow.keyring import KeyRing
from credflow.review.links import GRACE, issue_token
from credflow.review.rules import anonymous_id
from credflow.services import Services
from credflow.submissions import get_submission
from tests.utils.review_world import (
    PLAN_NAME,
    Applied,
    assign,
    assignment_row,
    make_clip,
    make_services,
    udl_submission,
)
from web import create_app
from web.ranges import ByteRange, RangeNotSatisfiable, parse_range

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 (not in the lock); its test client still works with httpx.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

CRITERIA = ("variability_analysed", "options_designed", "reflection_on_barriers")
HARDENING = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


@dataclass(frozen=True)
class World:
    services: Services
    main: Applied  # with a transcoded video
    other: Applied  # a second applicant, documents only


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    """Two submissions taken through intake, validation and transcoding once for the module."""
    folder = tmp_path_factory.mktemp("reviewweb")
    services = make_services(folder)
    main = udl_submission(services, folder, name="Ana Alvarez", clip=make_clip(folder))
    other = udl_submission(services, folder, name="Bo Brightwater")
    yield World(services, main, other)
    services.close()


class Clock:
    """A settable clock for the app (aware UTC)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or utcnow()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notified() -> list[str]:
    return []


@pytest.fixture
def client(world, clock, notified) -> Iterator[TestClient]:
    with TestClient(create_app(world.services, on_review_submitted=notified.append, now=clock)) as c:
        yield c


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no csrf field on the page"
    return match.group(1)


def _fieldset(html: str, key: str) -> str:
    match = re.search(rf'<fieldset[^>]*id="criterion-{key}".*?</fieldset>', html, re.S)
    assert match, f"no fieldset for {key}"
    return match.group(0)


def _all_met(csrf: str) -> dict[str, str]:
    return {"csrf": csrf, **{f"verdict__{key}": "met" for key in CRITERIA}}


def _assert_hardened(response) -> None:
    for name, value in HARDENING.items():
        assert response.headers[name] == value, name
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # Only this origin's scripts (/static/review.js: the rubric's keyboard shortcuts); nothing inline.
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def _assert_no_submission_data(html: str, world: World) -> None:
    sub = world.main
    with world.services.db.session() as session:
        anon = anonymous_id(get_submission(session, sub.submission_id))
    for secret in (anon, "Learner variability", "UDL Level 1", PLAN_NAME, "classroom.mp4", sub.applicant.name):
        assert secret not in html


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_page_shows_the_evidence_anonymised_and_the_rubric(world, client):
    link = assign(world.services, world.main.submission_id)
    page = client.get(link.path)
    assert page.status_code == 200
    html = page.text
    with world.services.db.session() as session:
        anon = anonymous_id(get_submission(session, world.main.submission_id))
    assert anon in html
    assert "UDL Level 1: Designing for Learner Variability" in html
    assert "Attempt</dt><dd>1 of 3" in html
    assert f"{link.due_at.day} {link.due_at:%B %Y}" in html
    # Never the applicant: not the name, the email, nor the organisation.
    applicant = world.main.applicant
    for identity in (applicant.name, applicant.email, "Alvarez", applicant.organisation):
        assert identity not in html
    # The answer that carries a script tag shows as text.
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html
    # The only script is this origin's shortcut file; the answer's tag is never live.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/review.js" defer>']
    # Documents are download links; the video plays the transcoded file with its poster.
    assert f'href="{link.path}/files/{world.main.plan_id}" download>plan é.pdf</a>' in html
    video = re.search(r"<video [^>]*>", html)
    assert video is not None
    tag = video.group(0)
    assert "controls" in tag and 'preload="metadata"' in tag
    assert f'poster="{link.path}/poster/{world.main.video_id}"' in tag
    assert f'src="{link.path}/video/{world.main.video_id}"' in tag
    # The rubric by section: titles, what Met looks like, Met / Not Yet and a comment each.
    for section in ("Overview questions", "Work examples and artifacts", "Reflection"):
        assert f"<h3>{section}</h3>" in html
    for key in CRITERIA:
        block = _fieldset(html, key)
        assert 'value="met"' in block and 'value="not_yet"' in block
        assert f'name="comment__{key}"' in block and "What Met looks like" in block
    assert "Identifies concrete barriers tied to learner variability" in html
    assert "A comment is <strong>required for Not Yet</strong>" in html
    assert ">Save draft</button>" in html and ">Submit review</button>" in html
    assert f'action="{link.path}/decline"' in html and 'name="reason"' in html
    _assert_hardened(page)
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and f"Path={link.path}" in cookie


def test_documents_download_as_attachments_never_inline(world, client):
    link = assign(world.services, world.main.submission_id)
    response = client.get(f"{link.path}/files/{world.main.plan_id}")
    assert response.status_code == 200
    assert response.content == world.main.plan
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''plan%20%C3%A9.pdf" in response.headers["content-disposition"]
    _assert_hardened(response)


def test_only_evidence_of_the_assignments_submission_is_served(world, client):
    link = assign(world.services, world.main.submission_id)
    assert client.get(f"{link.path}/files/{world.other.plan_id}").status_code == 404
    assert client.get(f"{link.path}/files/nosuchfile").status_code == 404
    assert client.get(f"{link.path}/video/{world.main.plan_id}").status_code == 404  # a document has no video
    missing = client.get(f"{link.path}/poster/{world.other.plan_id}")
    assert missing.status_code == 404
    _assert_hardened(missing)


def test_the_video_is_served_with_byte_ranges(world, client):
    link = assign(world.services, world.main.submission_id)
    url = f"{link.path}/video/{world.main.video_id}"
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    body = whole.content
    size = len(body)
    assert int(whole.headers["content-length"]) == size > 1000
    assert body[4:8] == b"ftyp"
    _assert_hardened(whole)

    cases = {"bytes=0-99": (0, 99), "bytes=100-": (100, size - 1), "bytes=-50": (size - 50, size - 1)}
    cases[f"bytes=500-{size + 1000}"] = (500, size - 1)  # an end past the file is clamped
    for header, (start, end) in cases.items():
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(part.headers["content-length"]) == end - start + 1
        assert part.content == body[start : end + 1]
        _assert_hardened(part)

    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        refused = client.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{size}"

    poster = client.get(f"{link.path}/poster/{world.main.video_id}")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert poster.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", ByteRange(0, 0, 10)),
        ("bytes=2-", ByteRange(2, 9, 10)),
        ("bytes=-3", ByteRange(7, 9, 10)),
        ("bytes=-30", ByteRange(0, 9, 10)),  # a suffix longer than the object is all of it
        ("bytes=5-100", ByteRange(5, 9, 10)),
        ("bytes=0-1,4-5", None),  # several ranges: ignored, the whole object is sent
        ("items=0-1", None),  # another unit: ignored
        ("bytes=5-2", None),  # invalid: ignored
    ],
)
def test_range_headers_resolve_against_the_object_size(header, expected):
    assert parse_range(header, 10) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=11-20", "bytes=-0"])
def test_ranges_past_the_end_are_not_satisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 10)


def test_posts_without_the_matching_csrf_token_are_refused(world, client):
    link = assign(world.services, world.main.submission_id)
    other = assign(world.services, world.main.submission_id)
    csrf = _csrf(client.get(link.path).text)
    other_csrf = _csrf(client.get(other.path).text)  # valid, but bound to the other assignment

    for action in ("draft", "submit", "decline"):
        missing = client.post(f"{link.path}/{action}", data={**_all_met(""), "reason": "busy"})
        assert missing.status_code == 403, action
        assert "This form could not be sent" in missing.text and "could not be verified" in missing.text
        _assert_hardened(missing)
    wrong = client.post(f"{link.path}/submit", data=_all_met(other_csrf))
    assert wrong.status_code == 403
    # A page of another site cannot make the browser send the cookie; the field alone is not enough.
    cookieless = TestClient(client.app)
    assert cookieless.post(f"{link.path}/submit", data=_all_met(csrf)).status_code == 403
    assert assignment_row(world.services, link.assignment_id).state == "active"
    assert assignment_row(world.services, link.assignment_id).scores == {}


def test_only_bounded_url_encoded_forms_are_read(world, client):
    link = assign(world.services, world.main.submission_id)
    csrf = _csrf(client.get(link.path).text)
    as_json = client.post(f"{link.path}/submit", json=_all_met(csrf))
    assert as_json.status_code == 415
    huge = client.post(f"{link.path}/draft", data={"csrf": csrf, "comment__options_designed": "x" * (2 << 20)})
    assert huge.status_code == 413
    assert assignment_row(world.services, link.assignment_id).scores == {}


def test_a_draft_is_saved_and_shown_prefilled(world, client, notified):
    link = assign(world.services, world.main.submission_id)
    csrf = _csrf(client.get(link.path).text)
    form = {
        "csrf": csrf,
        "verdict__options_designed": "not_yet",
        "comment__options_designed": "Name the guideline behind each option & <why>.",
    }
    saved = client.post(f"{link.path}/draft", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{link.path}?saved=1"
    _assert_hardened(saved)
    page = client.get(saved.headers["location"])
    assert "Draft saved." in page.text
    block = _fieldset(page.text, "options_designed")
    assert re.search(r'value="not_yet" required checked', block)
    assert "Name the guideline behind each option &amp; &lt;why&gt;.</textarea>" in block
    assert "checked" not in _fieldset(page.text, "variability_analysed")
    row = assignment_row(world.services, link.assignment_id)
    assert row.state == "active"
    assert row.scores == {
        "options_designed": {"verdict": "not_yet", "comment": "Name the guideline behind each option & <why>."}
    }
    assert notified == []  # a draft is not a review


def test_not_yet_without_a_comment_is_refused_next_to_the_criterion(world, client, notified):
    link = assign(world.services, world.main.submission_id)
    csrf = _csrf(client.get(link.path).text)
    form = {
        **_all_met(csrf),
        "verdict__reflection_on_barriers": "not_yet",
        "comment__variability_analysed": "Concrete barriers, well described.",
    }
    refused = client.post(f"{link.path}/submit", data=form)
    assert refused.status_code == 422
    block = _fieldset(refused.text, "reflection_on_barriers")
    assert "a comment is required for Not Yet" in block and "has-problem" in block
    assert "a comment is required" not in _fieldset(refused.text, "options_designed")
    # What the reviewer typed is kept.
    assert 'value="not_yet" required checked' in block
    assert "Concrete barriers, well described.</textarea>" in _fieldset(refused.text, "variability_analysed")
    assert 'href="#criterion-reflection_on_barriers"' in refused.text  # the summary links to it
    _assert_hardened(refused)
    assert assignment_row(world.services, link.assignment_id).state == "active"
    assert notified == []

    # A criterion left unscored is named too.
    del form["verdict__options_designed"]
    form["comment__reflection_on_barriers"] = "Say which barrier you will remove next time."
    unscored = client.post(f"{link.path}/submit", data=form)
    assert unscored.status_code == 422
    assert "choose Met or Not Yet" in _fieldset(unscored.text, "options_designed")


def _close_other_assignments(world: World, keep: str) -> None:
    """Earlier tests of the module leave assignments open on the shared submission; withdraw them."""
    with world.services.db.session() as session:
        for row in session.query(Assignment).filter(
            Assignment.submission_id == world.main.submission_id, Assignment.state == "active", Assignment.id != keep
        ):
            row.state = "withdrawn"


def test_the_decision_starts_after_the_last_open_verdict_only(world, client, notified):
    first = assign(world.services, world.main.submission_id)
    _close_other_assignments(world, keep=first.assignment_id)
    second = assign(world.services, world.main.submission_id)
    for link, expected in ((first, []), (second, [world.main.submission_id])):
        done = client.post(f"{link.path}/submit", data=_all_met(_csrf(client.get(link.path).text)))
        assert done.status_code == 200 and "Review submitted" in done.text
        assert notified == expected  # one decision run per submission, not one per review


def test_a_final_submit_records_the_review_and_closes_the_link(world, client, notified):
    link = assign(world.services, world.main.submission_id)
    _close_other_assignments(world, keep=link.assignment_id)
    csrf = _csrf(client.get(link.path).text)
    form = {**_all_met(csrf), "comment__options_designed": "Clear options under each principle."}
    done = client.post(f"{link.path}/submit", data=form)
    assert done.status_code == 200 and "Review submitted" in done.text
    _assert_hardened(done)
    assert notified == [world.main.submission_id]
    row = assignment_row(world.services, link.assignment_id)
    assert row.state == "submitted" and row.token_nonce is None
    assert row.scores["options_designed"] == {"verdict": "met", "comment": "Clear options under each principle."}

    again = client.get(link.path)
    assert again.status_code == 403 and "no longer active" in again.text
    _assert_no_submission_data(again.text, world)
    _assert_hardened(again)
    assert client.post(f"{link.path}/submit", data=form).status_code == 403
    assert client.get(f"{link.path}/files/{world.main.plan_id}").status_code == 403
    assert client.get(f"{link.path}/video/{world.main.video_id}").status_code == 403
    assert notified == [world.main.submission_id]


def test_declining_needs_a_reason_and_closes_the_link(world, client, notified):
    link = assign(world.services, world.main.submission_id)
    csrf = _csrf(client.get(link.path).text)
    blank = client.post(f"{link.path}/decline", data={"csrf": csrf, "reason": "   "})
    assert blank.status_code == 422
    assert re.search(r'id="problem-reason">say why you decline', blank.text)
    assert assignment_row(world.services, link.assignment_id).state == "active"

    done = client.post(f"{link.path}/decline", data={"csrf": csrf, "reason": "I coach this teacher."})
    assert done.status_code == 200 and "You declined this assignment" in done.text
    assert notified == [world.main.submission_id]
    row = assignment_row(world.services, link.assignment_id)
    assert (row.state, row.decline_reason, row.token_nonce) == ("declined", "I coach this teacher.", None)
    assert client.get(link.path).status_code == 403


def test_a_failing_callback_does_not_fail_the_reviewer(world, caplog):
    def broken(submission_id: str) -> None:
        raise RuntimeError("aggregation is down")

    link = assign(world.services, world.main.submission_id)
    _close_other_assignments(world, keep=link.assignment_id)
    with TestClient(create_app(world.services, on_review_submitted=broken)) as client:
        csrf = _csrf(client.get(link.path).text)
        done = client.post(f"{link.path}/submit", data=_all_met(csrf))
    assert done.status_code == 200 and "Review submitted" in done.text
    assert "on_review_submitted failed" in caplog.text


def _forged(world: World, link) -> str:
    return issue_token(
        KeyRing("another-secret-another-secret-1234"), assignment_id=link.assignment_id, nonce="x", due_at=link.due_at
    )


def _tampered(world: World, link) -> str:
    return link.token[:-3] + ("AAA" if not link.token.endswith("AAA") else "BBB")


def _revoked(world: World, link) -> str:
    with world.services.db.session() as session:
        session.get_one(Assignment, link.assignment_id).token_nonce = "rotated-by-reassignment"
    return link.token


def _other_assignment(world: World, link) -> str:
    # A genuine token of another assignment, carrying this one's id: the nonce does not match.
    other = assign(world.services, world.other.submission_id)
    nonce = assignment_row(world.services, other.assignment_id).token_nonce
    assert nonce is not None
    return issue_token(
        world.services.settings.keyring, assignment_id=link.assignment_id, nonce=nonce, due_at=link.due_at
    )


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (_forged, "not valid"),
        (_tampered, "not valid"),
        (_revoked, "no longer active"),
        (_other_assignment, "no longer active"),
    ],
    ids=["forged", "tampered", "revoked", "other-assignment"],
)
def test_bad_links_get_403_and_no_submission_data(world, client, make_token, message):
    link = assign(world.services, world.main.submission_id)
    token = make_token(world, link)
    for path in ("", f"/files/{world.main.plan_id}", f"/video/{world.main.video_id}"):
        response = client.get(f"/review/{token}{path}")
        assert response.status_code == 403, path
        assert message in response.text and "This review link cannot be opened" in response.text
        _assert_no_submission_data(response.text, world)
        _assert_hardened(response)
    assert client.post(f"/review/{token}/decline", data={"csrf": "x", "reason": "r"}).status_code == 403


def test_an_expired_link_gets_403(world, client, clock):
    link = assign(world.services, world.main.submission_id)
    assert client.get(link.path).status_code == 200
    clock.at = link.due_at + GRACE + timedelta(minutes=1)
    expired = client.get(link.path)
    assert expired.status_code == 403 and "has expired" in expired.text
    _assert_no_submission_data(expired.text, world)


def test_an_adjudicator_sees_only_the_split_criteria_and_anonymous_reviews(world, client, tmp_path: Path):
    applied = udl_submission(world.services, tmp_path, name="Cy Castillo")
    sid = applied.submission_id
    now = utcnow()
    first = {key: {"verdict": "met", "comment": ""} for key in CRITERIA}
    first["options_designed"]["comment"] = "FIRST-REVIEWER-COMMENT"
    second = {key: {"verdict": "met", "comment": ""} for key in CRITERIA}
    second["options_designed"] = {"verdict": "not_yet", "comment": "SECOND-REVIEWER-COMMENT"}
    r1 = assign(world.services, sid, state="submitted", scores=first, completed_at=now, reviewer_name="Pat Quinn")
    r2 = assign(
        world.services,
        sid,
        state="submitted",
        scores=second,
        completed_at=now + timedelta(minutes=1),
        reviewer_name="Lee Morgan",
    )
    lead = assign(world.services, sid, role="adjudication", criteria=["options_designed"], reviewer_name="Lou Lead")

    html = client.get(lead.path).text
    assert "Split criteria" in html and "Adjudication" in html
    assert 'id="criterion-options_designed"' in html
    assert "criterion-variability_analysed" not in html and "criterion-reflection_on_barriers" not in html
    block = _fieldset(html, "options_designed")
    assert "<strong>Reviewer 1</strong>: Met" in block and "FIRST-REVIEWER-COMMENT" in block
    assert "<strong>Reviewer 2</strong>: Not Yet" in block and "SECOND-REVIEWER-COMMENT" in block
    for name in (r1.reviewer_name, r2.reviewer_name, "Pat", "Morgan"):
        assert name not in html

    # A reviewer of the same submission never sees the others' scores.
    reviewer = assign(world.services, sid)
    review_html = client.get(reviewer.path).text
    assert "FIRST-REVIEWER-COMMENT" not in review_html and "SECOND-REVIEWER-COMMENT" not in review_html
    assert "Reviewer 1" not in review_html

    # The adjudicator scores the split criterion only.
    csrf = _csrf(html)
    done = client.post(f"{lead.path}/submit", data={"csrf": csrf, "verdict__options_designed": "met"})
    assert done.status_code == 200 and "Adjudication submitted" in done.text
    assert assignment_row(world.services, lead.assignment_id).scores == {
        "options_designed": {"verdict": "met", "comment": ""}
    }
