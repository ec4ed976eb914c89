"""The operators' alert webhook: only the automation's token is accepted, bad bodies are refused, one email per run."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from credflow.keyring import KeyRing
from credflow.services import build_services
from web.app import create_app
from web.ops import ALERT_PATH, alert_token

ALERT = {
    "flow_run_id": "0a1b2c3d-1111-2222-3333-444455556666",
    "flow_run_name": "decide-abc",
    "flow_name": "decide-submission",
    "state": "Crashed",
    "message": "the worker host was lost",
    "submission_id": "",
}


def _client(make_settings):
    services = build_services(make_settings(operator_email="ops@example.org"))
    return services, TestClient(create_app(services))


def _alerts(services) -> list[dict]:
    folder = services.settings.resolved_outbox_dir
    return [m for p in sorted(folder.glob("*.json")) if (m := json.loads(p.read_text()))["kind"] == "operator_alert"]


def test_an_alert_with_the_token_emails_the_operator_once(make_settings):
    services, client = _client(make_settings)
    headers = {"Authorization": f"Bearer {alert_token(services.settings.keyring)}"}
    for _ in range(2):  # the automation retries, or the hook reported the same run
        answer = client.post(ALERT_PATH, content=json.dumps(ALERT), headers=headers)
        assert answer.status_code == 202
    [message] = _alerts(services)
    assert message["idempotency_key"].endswith("flow run decide-abc (decide-submission, 0a1b2c3d) crashed")
    eml = (services.settings.resolved_outbox_dir / message["eml"]).read_text()
    assert "the worker host was lost" in eml and "ops@example.org" in eml


def test_alerts_without_the_token_or_with_a_bad_body_are_refused(make_settings):
    services, client = _client(make_settings)
    good = {"Authorization": f"Bearer {alert_token(services.settings.keyring)}"}
    assert client.post(ALERT_PATH, content=json.dumps(ALERT)).status_code == 403
    assert client.post(ALERT_PATH, content=json.dumps(ALERT), headers={"Authorization": "Bearer x"}).status_code == 403
    assert alert_token(KeyRing("another-secret-key-of-thirty-two-chars")) != good["Authorization"].split()[1]
    not_json = client.post(ALERT_PATH, content=b"{nope", headers=good)
    assert not_json.status_code == 422 and "not JSON" in not_json.text
    lacking = client.post(ALERT_PATH, content=json.dumps({"flow_run_id": "x"}), headers=good)
    assert lacking.status_code == 422 and "flow_run_name" in lacking.text
    assert _alerts(services) == []
