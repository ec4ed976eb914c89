"""The HTTP intake: an OpenAPI schema, multipart submissions (idempotent with the token), 403 for another applicant."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.testclient import TestClient

from cli import demo_evidence as ev
from cli.launch import process_in_background
from tests.utils.builders import anchoring_answers
from tests.utils.identity import bearer
from web.app import create_app


def _post(client: TestClient, tmp_path, *, email: str, key: str | None = None, auth: dict[str, str] | None = None):
    import json

    plan = ev.pdf(tmp_path / f"{email}.pdf", "Plan").read_bytes()
    return client.post(
        "/api/submissions",
        data={
            "name": "Ana Alvarez",
            "email": email,
            "organisation": "Riverside Unified",
            "credential_id": "openscied-anchoring-phenomenon",
            "answers": json.dumps(anchoring_answers()),
            "requirement_keys": ["facilitation_plan"],
        },
        files=[("files", ("plan.pdf", plan, "application/pdf"))],
        headers={**({"Idempotency-Key": key} if key else {}), **(auth or {})},
    )


def test_the_intake_api_is_documented_idempotent_and_private(services, tmp_path):
    started: list[str] = []
    client = TestClient(create_app(services, on_submitted=started.append))
    schema = client.get("/api/openapi.json").json()
    assert {"/submissions", "/submissions/{submission_id}"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/submissions"]

    first = _post(client, tmp_path, email="ana@example.org", key="k1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["state"] == "received" and started == [body["submission_id"]]
    assert "applicant_token" not in body  # a token comes only from a verified address (sign-in)
    ana = bearer(services, "ana@example.org")
    again = _post(client, tmp_path, email="ana@example.org", key="k1", auth=ana)
    assert again.json()["submission_id"] == body["submission_id"] and again.json()["created"] is False
    assert started == [body["submission_id"]]  # the flow starts once
    unproven = _post(client, tmp_path, email="ana@example.org", key="k1")
    assert unproven.status_code == 401 and body["submission_id"] not in unproven.text and "/sign-in" in unproven.text

    mine = client.get(f"/api/submissions/{body['submission_id']}", headers=ana)
    assert mine.status_code == 200 and mine.json()["attempt"] == 1
    _post(client, tmp_path, email="bo@example.org")
    theirs = client.get(f"/api/submissions/{body['submission_id']}", headers=bearer(services, "bo@example.org"))
    assert theirs.status_code == 403 and "not yours" in theirs.text
    assert client.get(f"/api/submissions/{body['submission_id']}").status_code == 401
    forged = client.get(f"/api/submissions/{body['submission_id']}", headers={"Authorization": "Bearer forged.token"})
    assert forged.status_code == 401

    refused = client.post(
        "/api/submissions",
        data={"name": "A", "email": "a@example.org", "organisation": "O", "credential_id": "nope"},
    )
    assert refused.status_code == 409 and "no micro-credential 'nope'" in refused.text


def test_resubmission_over_http_carries_unchanged_files_and_refuses_others(services, tmp_path):
    import json

    from sqlalchemy import select

    from credflow.db.models import EvidenceItem
    from credflow.lifecycle import State
    from credflow.submissions import get_submission, transition

    client = TestClient(create_app(services))
    first = _post(client, tmp_path, email="ana@example.org").json()
    sid, token = first["submission_id"], bearer(services, "ana@example.org")["Authorization"].removeprefix("Bearer ")
    with services.db.session() as session:
        sub = get_submission(session, sid)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
            transition(session, sub, state, actor="t")
        sha = session.scalars(select(EvidenceItem.sha256).where(EvidenceItem.submission_id == sid)).one()
    intruder = bearer(services, "bo@example.org")["Authorization"].removeprefix("Bearer ")
    refused = client.post(f"/api/submissions/{sid}/resubmit", headers={"Authorization": f"Bearer {intruder}"})
    assert refused.status_code == 403
    unchanged = client.post(  # the previous answers (the default) and the same file: nothing to review again
        f"/api/submissions/{sid}/resubmit",
        headers={"Authorization": f"Bearer {token}"},
        data={"carry_over": [f"facilitation_plan:{sha}"]},
    )
    assert unchanged.status_code == 409 and "nothing changed" in unchanged.text

    answers = {"routine_purpose": ev.words(220), "reflection": ev.words(320)}
    again = client.post(
        f"/api/submissions/{sid}/resubmit",
        headers={"Authorization": f"Bearer {token}"},
        data={"answers": json.dumps(answers), "carry_over": [f"facilitation_plan:{sha}"]},
    )
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["attempt"] == 2 and body["created"] is True
    with services.db.session() as session:
        [item] = get_submission(session, body["submission_id"]).evidence
        assert item.sha256 == sha and item.requirement_key == "facilitation_plan"


def test_http_intake_submissions_are_handed_to_the_workers(services, monkeypatch, tmp_path):
    import flows.background as background

    given: list[Any] = []
    monkeypatch.setattr(background, "_give", lambda svc, handed: given.append(handed))
    on = dataclasses.replace(services, settings=services.settings.model_copy(update={"deployments": True}))
    client = TestClient(create_app(on, on_submitted=process_in_background(on)))
    created = _post(client, tmp_path, email="ana@example.org")
    assert created.status_code == 201, created.text
    [handed] = given
    assert handed.kind == "submission" and handed.submission_id == created.json()["submission_id"]


def test_keys_the_credential_does_not_ask_for_are_refused_before_anything_is_stored(services, tmp_path):
    import json

    from sqlalchemy import func, select

    from credflow.db.models import Submission

    client = TestClient(create_app(services))
    plan = ev.pdf(tmp_path / "plan.pdf", "Plan").read_bytes()
    base = {
        "name": "Ana Alvarez",
        "email": "ana@example.org",
        "organisation": "Riverside Unified",
        "credential_id": "openscied-anchoring-phenomenon",
    }
    wrong_file = client.post(
        "/api/submissions",
        data={**base, "answers": json.dumps(anchoring_answers()), "requirement_keys": ["plan"]},
        files=[("files", ("plan.pdf", plan, "application/pdf"))],
    )
    assert wrong_file.status_code == 422
    detail = wrong_file.json()["detail"]
    assert "no file is asked for under 'plan'" in detail and "facilitation_plan" in detail  # the allowed keys
    misspelt = {**anchoring_answers(), "reflecton": "x"}
    wrong_answer = client.post(
        "/api/submissions",
        data={**base, "answers": json.dumps(misspelt), "requirement_keys": ["facilitation_plan"]},
        files=[("files", ("plan.pdf", plan, "application/pdf"))],
    )
    assert wrong_answer.status_code == 422 and "did you mean 'reflection'?" in wrong_answer.json()["detail"]
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
    root = services.settings.resolved_storage_dir
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
