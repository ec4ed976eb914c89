"""Findings 2 and 4 as an attacker tries them: another's email gets no token, changes nothing; reports are closed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cli import demo_evidence as ev
from credflow.accounts.grants import add_grant
from credflow.db.models import Applicant, Submission
from credflow.keyring import Purpose
from credflow.lifecycle import State
from credflow.submissions import get_submission, transition
from tests.utils.builders import anchoring_answers
from tests.utils.identity import bearer, verified_person
from web.app import create_app

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
VICTIM = "ana@example.org"
LINK = re.compile(r"/sign-in/([A-Za-z0-9_.\-]+)")
FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def client(services) -> TestClient:
    return TestClient(create_app(services, now=lambda: NOW))


def _send(client: TestClient, tmp_path, *, email: str, name: str, org: str, key: str | None = None, auth=None):
    plan = ev.pdf(tmp_path / f"{name}.pdf", "Plan").read_bytes()
    return client.post(
        "/api/submissions",
        data={
            "name": name,
            "email": email,
            "organisation": org,
            "credential_id": "openscied-anchoring-phenomenon",
            "answers": json.dumps(anchoring_answers()),
            "requirement_keys": ["facilitation_plan"],
        },
        files=[("files", ("plan.pdf", plan, "application/pdf"))],
        headers={**({"Idempotency-Key": key} if key else {}), **(auth or {})},
    )


def _victim(services, client, tmp_path) -> str:
    sent = _send(client, tmp_path, email=VICTIM, name="Ana Alvarez", org="Riverside Unified", key="ana-1")
    assert sent.status_code == 201, sent.text
    return str(sent.json()["submission_id"])


def _applicant(services) -> tuple[str, str, int]:
    with services.db.session() as session:
        ana = session.scalars(select(Applicant).where(Applicant.email == VICTIM)).one()
        count = session.scalar(select(func.count()).select_from(Submission)) or 0
        return ana.name, ana.organisation, count


def test_another_persons_email_gets_no_token_and_changes_nothing(services, client, tmp_path):
    sid = _victim(services, client, tmp_path)
    before = _applicant(services)
    assert (
        "applicant_token"
        not in client.get("/api/openapi.json").json()["components"]["schemas"]["SubmissionOut"]["properties"]
    )
    for key in (None, "ana-1"):  # a fresh send, and a replay of the victim's own idempotency key
        forged = _send(client, tmp_path, email=VICTIM.upper(), name="Mallory", org="Evil Corp", key=key)
        assert forged.status_code == 401 and "/sign-in" in forged.text
        assert sid not in forged.text and "token" not in forged.json() and "submission_id" not in forged.json()
    with_own_token = _send(
        client, tmp_path, email=VICTIM, name="Mallory", org="Evil Corp", auth=bearer(services, "mallory@evil.example")
    )
    assert with_own_token.status_code == 403 and sid not in with_own_token.text
    assert _applicant(services) == before == ("Ana Alvarez", "Riverside Unified", 1)


def test_refusals_do_not_name_another_persons_submissions(services, client, tmp_path):
    sid = _victim(services, client, tmp_path)
    with services.db.session() as session:
        sub = get_submission(session, sid)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.EARNED):
            transition(session, sub, state, actor="t")
    earned = _send(client, tmp_path, email=VICTIM, name="Mallory", org="Evil Corp")
    assert earned.status_code == 401 and sid not in earned.text and "earned" not in earned.text
    mallory = bearer(services, "mallory@evil.example")
    for attempt in (
        client.get(f"/api/submissions/{sid}", headers=mallory),
        client.post(f"/api/submissions/{sid}/resubmit", headers=mallory),
    ):
        assert attempt.status_code == 403 and "earned" not in attempt.text
    own = _send(
        client, tmp_path, email=VICTIM, name="Ana Alvarez", org="Riverside Unified", auth=bearer(services, VICTIM)
    )
    assert own.status_code == 409 and "already earned" in own.text  # her own refusal may name her own work


def test_old_unexpiring_applicant_tokens_and_forged_ones_count_for_nothing(services, client, tmp_path):
    sid = _victim(services, client, tmp_path)
    with services.db.session() as session:
        applicant_id = get_submission(session, sid).applicant_id
    serializer = services.settings.keyring.serializer(Purpose.APPLICANT_TOKEN)
    for token in (serializer.dumps({"applicant": applicant_id}), serializer.dumps({"t": "0" * 32}), "x" * 5000):
        answer = client.get(f"/api/submissions/{sid}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401 and "Ana" not in answer.text
    verified_person(services, VICTIM)
    assert client.get(f"/api/submissions/{sid}", headers=bearer(services, VICTIM, now=NOW)).status_code == 200


def _sign_in(client: TestClient, services, email: str) -> None:
    page = client.get("/sign-in")
    client.post("/sign-in", data={"email": email, "csrf": FIELD.findall(page.text)[0]})
    outbox = services.settings.resolved_outbox_dir
    newest = max(outbox.glob("sign_in*.eml"), key=lambda p: p.stat().st_mtime_ns)
    body = BytesParser(policy=policy.default).parsebytes(newest.read_bytes()).get_body(preferencelist=("plain",))
    assert body is not None
    token = LINK.findall(body.get_content())[0]
    confirm = client.get(f"/sign-in/{token}")
    client.post(f"/sign-in/{token}", data={"csrf": FIELD.findall(confirm.text)[0]})


def test_reports_are_closed_signed_out_and_scoped_signed_in(services, client, tmp_path):
    _send(client, tmp_path, email=VICTIM, name="Ana Alvarez", org="Riverside Unified")
    _send(client, tmp_path, email="dan@example.org", name="Dan Wu", org="Hillcrest")
    for path in ("/reports/programs", "/reports/programs.csv"):
        closed = client.get(path, follow_redirects=False)
        assert closed.status_code == 303 and closed.headers["location"].startswith("/sign-in?next=")
        followed = client.get(path)
        assert VICTIM not in followed.text and "Ana Alvarez" not in followed.text and "Sign in" in followed.text

    _sign_in(client, services, "dan@example.org")  # an applicant, nothing more
    assert client.get("/me").status_code == 200
    assert client.get("/reports/programs.csv").status_code == 403

    admin = TestClient(create_app(services, now=lambda: NOW))
    add_grant(services, "pd@hillcrest.example", organisations=("Hillcrest",))
    _sign_in(admin, services, "pd@hillcrest.example")
    csv_text = admin.get("/reports/programs.csv").text
    assert "Dan Wu" in csv_text and "Ana Alvarez" not in csv_text and VICTIM not in csv_text
    page = admin.get("/reports/programs").text
    assert "Dan Wu" in page and "Ana Alvarez" not in page and "Riverside" not in page


def test_a_grant_alone_gives_nothing_without_the_link(services, client):
    add_grant(services, "op@example.org", operator=True)
    # Knowing the operator's address is not enough: the cookie is what counts, and only the link makes one.
    client.cookies.set("credflow_session", "op@example.org")
    assert client.get("/reports/programs", follow_redirects=False).status_code == 303
    asked = client.post(
        "/sign-in", data={"email": "op@example.org", "csrf": FIELD.findall(client.get("/sign-in").text)[0]}
    )
    assert asked.status_code == 200 and client.get("/reports/programs", follow_redirects=False).status_code == 303
