"""The draft pages: start, save over days, files (multipart and upload ids), Check my evidence, coach links, Apply."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cli import demo_evidence as ev
from credflow.db.models import Applicant, CoachLink, Draft, DraftFile, Enrolment, EvidenceItem, Submission
from credflow.lifecycle import State
from credflow.states import DraftState
from tests.utils import badfiles
from tests.utils.builders import applicant
from tests.utils.identity import session_cookie
from tests.utils.review_cycle import NOW, decided_submission
from web.api.uploads import UploadGrant, applicant_keys, issue_grant, sweep_abandoned_uploads
from web.app import create_app

CRED = "openscied-anchoring-phenomenon"
DRAFT = f"/me/credentials/{CRED}/draft"
FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def csrf(page: str) -> str:
    match = FIELD.search(page)
    assert match is not None, page
    return match.group(1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def started_calls() -> list[str]:
    return []


def browser(services, clock, email: str, started_calls: list[str] | None = None) -> TestClient:
    """A client signed in as ``email`` (a session made through a sign-in link)."""
    client = TestClient(
        create_app(services, now=clock, on_submitted=None if started_calls is None else started_calls.append)
    )
    name, value = session_cookie(services, email, now=clock())
    client.cookies.set(name, value)
    return client


def start(client: TestClient, *, name: str = "Ana Alvarez", org: str = "Riverside Unified"):
    page = client.get(f"/me/credentials/{CRED}/start")
    return client.post(
        f"/me/credentials/{CRED}/start",
        data={"csrf": csrf(page.text), "name": name, "organisation": org},
        follow_redirects=False,
    )


def add(client: TestClient, key: str, name: str, data: bytes, *, token: str | None = None):
    token = token or csrf(client.get(DRAFT).text)
    return client.post(
        f"{DRAFT}/files/{key}", data={"csrf": token, "upload_id": ""}, files={"file": (name, data, "application/pdf")}
    )


def save(client: TestClient, answers: dict[str, str], action: str = "save"):
    data = {"csrf": csrf(client.get(DRAFT).text), "action": action}
    data.update({f"answer__{k}": v for k, v in answers.items()})
    return client.post(DRAFT, data=data, follow_redirects=False)


def objects(services, prefix: str) -> list[Path]:
    root = services.settings.resolved_storage_dir / prefix
    return [p for p in root.iterdir() if p.is_file()] if root.is_dir() else []


def test_start_asks_who_you_are_then_makes_the_applicant_enrolment_and_draft(services, clock):
    client = browser(services, clock, "new@example.org")
    page = client.get(f"/me/credentials/{CRED}/start")
    assert page.status_code == 200 and 'name="organisation"' in page.text
    # The catalog's bare Start button (no name yet) gets the same question, not a refusal.
    asked = client.post(f"/me/credentials/{CRED}/start", data={"csrf": csrf(page.text)}, follow_redirects=False)
    assert asked.status_code == 200 and 'id="name"' in asked.text
    empty = start(client, name="  ")
    assert empty.status_code == 422 and "Enter your name" in empty.text and "Riverside Unified" in empty.text
    done = start(client)
    assert done.status_code == 303 and done.headers["location"] == DRAFT
    with services.db.session() as session:
        person = session.scalar(select(Applicant).where(Applicant.email == "new@example.org"))
        assert person is not None and person.organisation == "Riverside Unified"
        assert session.scalar(select(Enrolment.enrolled_on).where(Enrolment.applicant_id == person.id)) == NOW.date()
        assert session.scalar(select(func.count()).select_from(Draft)) == 1
    assert start(client).status_code == 303  # starting again opens the same draft
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 1


def test_start_refuses_an_unknown_credential_a_forged_form_and_a_missing_prerequisite(services, clock, monkeypatch):
    client = browser(services, clock, "new@example.org")
    assert client.get("/me/credentials/nope/start").status_code == 404
    assert client.post(f"/me/credentials/{CRED}/start", data={"csrf": "forged"}).status_code == 403
    assert TestClient(create_app(services, now=clock)).get(DRAFT, follow_redirects=False).status_code == 303

    token = csrf(client.get(f"/me/credentials/{CRED}/start").text)
    gated = services.catalog.get(CRED).model_copy(update={"prerequisites": ("openscied-supporting-coherence",)})
    monkeypatch.setitem(services.catalog.credentials, CRED, gated)
    page = client.get(f"/me/credentials/{CRED}/start")
    assert page.status_code == 403 and "Supporting Coherence in OpenSciEd PL" in page.text
    refused = client.post(
        f"/me/credentials/{CRED}/start", data={"csrf": token, "name": "Ana", "organisation": "Riverside"}
    )
    assert refused.status_code == 403 and "first" in refused.text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 0


def test_the_draft_keeps_answers_over_days_counts_words_and_renders_the_upload_markup(services, clock):
    client = browser(services, clock, "ana@example.org")
    start(client)
    page = client.get(DRAFT)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/drafts.js" defer></script>' in page.text
    assert client.get("/static/drafts.js").status_code == 200
    assert "0 words (150 to 600)" in page.text  # shown without JavaScript
    form = re.search(r'<form method="post" action="[^"]*/files/facilitation_plan"[^>]*>', page.text, re.S)
    assert form is not None
    for attribute in (
        'enctype="multipart/form-data"',
        'class="evidence-upload"',
        'data-requirement="facilitation_plan"',
        f'data-max-bytes="{25 * 1024 * 1024}"',
        'data-accept=".pdf,.docx,.pptx"',
        'data-kind="document"',
    ):
        assert attribute in form.group(0)
    assert '<label for="file-facilitation_plan">Add a file for Facilitation plan</label>' in page.text
    assert '<input type="hidden" name="upload_id" value="">' in page.text

    saved = save(client, {"routine_purpose": "Students meet the phenomenon first.", "reflection": ""})
    assert saved.status_code == 303
    clock.now = NOW + timedelta(days=3)  # another day, another browser
    later = browser(services, clock, "ana@example.org")
    page = later.get(DRAFT)
    assert "Students meet the phenomenon first." in page.text and "5 words (150 to 600)" in page.text

    bad = save(later, {"routine_purpose": "kept text\x00"})
    assert bad.status_code == 422 and "control characters" in bad.text and "kept text" in bad.text


def test_files_are_checked_for_kind_and_size_at_the_field_and_removed_with_their_bytes(make_settings, clock, tmp_path):
    from credflow.services import build_services

    services = build_services(make_settings(ingest_max_bytes=200_000))
    client = browser(services, clock, "ana@example.org")
    start(client)
    pdf = ev.pdf(tmp_path / "plan.pdf", "Plan").read_bytes()
    added = add(client, "facilitation_plan", "plan.pdf", pdf)
    assert added.status_code == 200 and "Added plan.pdf." in added.text
    assert len(objects(services, "drafts")) == 1

    wrong = add(client, "facilitation_plan", "notes.pdf", b"Plain notes, not a PDF at all.\n" * 20)
    assert wrong.status_code == 422  # judged by content, not by its name
    assert "'notes.pdf' is" in unescape(wrong.text) and "accepts PDF, DOCX, PPTX" in wrong.text
    big = add(client, "facilitation_plan", "huge.pdf", pdf + b"0" * 250_000)
    assert (
        big.status_code == 413
        and "'huge.pdf' is larger than" in unescape(big.text)
        and "nothing of it was kept" in big.text
    )
    assert add(client, "reflection", "r.pdf", pdf).status_code == 422  # a written answer takes no file
    assert len(objects(services, "drafts")) == 1

    with services.db.session() as session:
        file_id = session.scalar(select(DraftFile.id))
    assert client.get(f"{DRAFT}/files/{file_id}").content == pdf
    other = browser(services, clock, "dan@example.org")
    start(other, name="Dan Wu", org="Hillcrest")
    assert other.get(f"{DRAFT}/files/{file_id}").status_code == 404
    removed = other.post(f"{DRAFT}/files/{file_id}/remove", data={"csrf": csrf(other.get(DRAFT).text)})
    assert removed.status_code == 404 and len(objects(services, "drafts")) == 1
    gone = client.post(f"{DRAFT}/files/{file_id}/remove", data={"csrf": csrf(client.get(DRAFT).text)})
    assert gone.status_code == 200 and "Removed plan.pdf." in gone.text
    assert objects(services, "drafts") == []
    services.close()


def grant_for(services, email: str, key: str, data: bytes, *, requirement: str = "facilitation_plan") -> str:
    """An upload grant's id whose object (``uploads/<uuid>``) holds ``data``."""
    keys = services.settings.keyring
    grant = UploadGrant(
        upload_uuid=uuid.uuid4().hex,
        applicant=applicant_keys(keys, email)[0],
        credential_id=CRED,
        requirement_key=requirement,
        filename=key,
        content_type="application/pdf",
        max_bytes=25 * 1024 * 1024,
        expires=NOW + timedelta(hours=1),
    )
    import io

    services.store.put_stream(grant.key, io.BytesIO(data))
    return issue_grant(keys, grant)


def test_an_upload_id_is_moved_into_the_draft_only_for_its_applicant_and_requirement(services, clock, tmp_path):
    client = browser(services, clock, "ana@example.org")
    start(client)
    pdf = ev.pdf(tmp_path / "plan.pdf", "Plan").read_bytes()
    theirs = grant_for(services, "dan@example.org", "plan.pdf", pdf)
    token = csrf(client.get(DRAFT).text)
    refused = client.post(f"{DRAFT}/files/facilitation_plan", data={"csrf": token, "upload_id": theirs})
    assert refused.status_code == 403 and "issued to someone else" in refused.text
    elsewhere = grant_for(services, "ana@example.org", "plan.pdf", pdf, requirement="dqb_artifact")
    wrong = client.post(f"{DRAFT}/files/facilitation_plan", data={"csrf": token, "upload_id": elsewhere})
    assert wrong.status_code == 422 and "another requirement" in wrong.text
    forged = client.post(f"{DRAFT}/files/facilitation_plan", data={"csrf": token, "upload_id": "x" + theirs[1:]})
    assert forged.status_code == 403

    mine = grant_for(services, "ana@example.org", "plan.pdf", pdf)
    added = client.post(f"{DRAFT}/files/facilitation_plan", data={"csrf": token, "upload_id": mine})
    assert added.status_code == 200 and "Added plan.pdf." in added.text
    again = client.post(f"{DRAFT}/files/facilitation_plan", data={"csrf": token, "upload_id": mine})
    assert again.status_code == 200
    with services.db.session() as session:
        [row] = session.scalars(select(DraftFile)).all()
        assert row.object_key.startswith("drafts/") and row.size == len(pdf)
    # Moved, not copied: only the two refused uploads are left under uploads/.
    assert len(objects(services, "uploads")) == 2 and len(objects(services, "drafts")) == 1
    # Out of the uploads' sweep: however long the draft waits, its file stays.
    sweep_abandoned_uploads(services, now=NOW + timedelta(days=365))
    assert services.store.get_bytes(row.object_key) == pdf


def test_check_my_evidence_names_a_bad_file_and_spends_nothing(services, clock, tmp_path):
    client = browser(services, clock, "ana@example.org")
    start(client)
    save(client, {"routine_purpose": ev.words(200), "reflection": ev.words(20)})
    macro = badfiles.macro_docx(tmp_path, "plan-with-macros.docx").read_bytes()
    assert add(client, "facilitation_plan", "plan-with-macros.docx", macro).status_code == 200
    checked = save(client, {"reflection": ev.words(20)}, action="check")
    assert checked.status_code == 200 and "<h1>Check my evidence</h1>" in checked.text
    assert '<strong class="bad-file">plan-with-macros.docx</strong>: The Word document contains macros' in checked.text
    assert "The answer to 'Reflection' has 20 words; it needs at least 200." in unescape(checked.text)
    assert "problems to fix before you apply" in checked.text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
    again = client.post(f"{DRAFT}/check", data={"csrf": csrf(client.get(DRAFT).text)})
    assert again.status_code == 200 and "plan-with-macros.docx" in again.text


def test_a_coach_link_shows_the_draft_takes_comments_and_stops_when_withdrawn_or_expired(services, clock, tmp_path):
    client = browser(services, clock, "ana@example.org")
    start(client)
    save(client, {"routine_purpose": "Why the routine matters."})
    add(client, "facilitation_plan", "plan.pdf", ev.pdf(tmp_path / "p.pdf", "Plan").read_bytes())
    token = csrf(client.get(DRAFT).text)
    bad = client.post(f"{DRAFT}/coach", data={"csrf": token, "coach_email": "not an address", "days": "14"})
    assert bad.status_code == 422 and "email address" in bad.text
    made = client.post(f"{DRAFT}/coach", data={"csrf": token, "coach_email": "Coach@Example.org", "days": "14"})
    assert made.status_code == 201 and "emailed to coach@example.org" in made.text
    url = re.search(r'id="coach-link">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    path = url.removeprefix(services.settings.public_url)
    [eml] = services.settings.resolved_outbox_dir.glob("coach_invite*.eml")
    assert url in eml.read_text()
    with services.db.session() as session:
        link = session.scalar(select(CoachLink))
        assert link is not None and path.rsplit("/", 1)[1] not in link.token_hash  # only the digest is kept

    coach = TestClient(create_app(services, now=clock))  # no account, no session
    page = coach.get(path)
    assert page.status_code == 200 and "Why the routine matters." in page.text and "plan.pdf" in page.text
    file_url = re.search(r'href="(/coach/[^"]+/files/[^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert coach.get(file_url).content.startswith(b"%PDF")
    empty = coach.post(path, data={"csrf": csrf(page.text), "comment": "  "})
    assert empty.status_code == 422 and "Write a comment" in empty.text
    sent = coach.post(
        path, data={"csrf": csrf(page.text), "comment": "Add timings to the plan."}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert "Add timings to the plan." in client.get(DRAFT).text  # the applicant reads it on the draft page

    clock.now = NOW + timedelta(days=14)
    expired = coach.get(path)
    assert expired.status_code == 410 and "expired" in expired.text and "Why the routine" not in expired.text
    clock.now = NOW
    other = browser(services, clock, "dan@example.org")
    start(other, name="Dan Wu", org="Hillcrest")
    assert other.post(f"{DRAFT}/coach/{link.id}/revoke", data={"csrf": csrf(other.get(DRAFT).text)}).status_code == 404
    client.post(f"{DRAFT}/coach/{link.id}/revoke", data={"csrf": csrf(client.get(DRAFT).text)})
    withdrawn = coach.get(path)
    assert withdrawn.status_code == 403 and "withdrew" in withdrawn.text
    assert coach.get("/coach/unknown-token").status_code == 404


def test_apply_confirms_first_submits_once_and_starts_the_flow(services, clock, tmp_path, started_calls):
    client = browser(services, clock, "ana@example.org", started_calls)
    start(client)
    save(client, {"routine_purpose": ev.words(200), "reflection": ev.words(300, seed=2)})
    add(client, "facilitation_plan", "plan.pdf", ev.pdf(tmp_path / "p.pdf", "Plan").read_bytes())
    go = save(client, {}, action="apply")
    assert go.status_code == 303 and go.headers["location"] == f"{DRAFT}/apply"
    confirm = client.get(f"{DRAFT}/apply")
    assert confirm.status_code == 200 and "Do not apply until you are ready" in confirm.text
    token = csrf(confirm.text)
    done = client.post(f"{DRAFT}/apply", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.post(f"{DRAFT}/apply", data={"csrf": token}, follow_redirects=False).status_code == 303
    with services.db.session() as session:
        [sub] = session.scalars(select(Submission)).all()
        draft = session.scalar(select(Draft))
        assert draft is not None and draft.state == DraftState.APPLIED and draft.submission_id == sub.id
        assert [e.original_name for e in sub.evidence] == ["plan.pdf"]
    assert started_calls == [sub.id]
    assert objects(services, "drafts") == []  # the submission holds its own copy
    page = client.get(DRAFT)
    assert "Your application is in" in page.text and sub.id[:8] in page.text


def test_after_not_yet_the_draft_is_prefilled_keeps_files_and_refuses_identical_content(services, clock, tmp_path):
    sid = decided_submission(services, tmp_path, not_yet={"purpose_explained": "not_yet"})
    with services.db.session() as session:
        assert session.get_one(Submission, sid).state == State.NOT_YET
        stored = session.scalar(select(func.count()).select_from(EvidenceItem))
    clock.now = NOW + timedelta(days=2)
    client = browser(services, clock, applicant().email)
    page = client.get(DRAFT)
    assert page.status_code == 200 and "revises attempt 1" in page.text
    assert "kept (from attempt 1)" in page.text and "plan.pdf" in page.text
    assert objects(services, "drafts") == [] and objects(services, "uploads") == []

    confirm = client.get(f"{DRAFT}/apply")
    same = client.post(f"{DRAFT}/apply", data={"csrf": csrf(confirm.text)})
    assert same.status_code == 409 and "Nothing changed" in same.text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1

    with services.db.session() as session:
        answers = dict(session.get_one(Submission, sid).answers)
    save(client, {"routine_purpose": answers["routine_purpose"] + " The driving question board steers the unit."})
    done = client.post(f"{DRAFT}/apply", data={"csrf": csrf(client.get(f"{DRAFT}/apply").text)}, follow_redirects=False)
    assert done.status_code == 303
    with services.db.session() as session:
        new = session.scalar(select(Submission).where(Submission.previous_id == sid))
        assert new is not None and new.attempt == 2
        old_sha = session.scalar(select(EvidenceItem.sha256).where(EvidenceItem.submission_id == sid))
        assert [e.sha256 for e in new.evidence] == [old_sha]  # kept, carried over by hash
        assert session.scalar(select(func.count()).select_from(EvidenceItem)) == stored + 1
    assert objects(services, "drafts") == [] and objects(services, "uploads") == []  # never uploaded again
