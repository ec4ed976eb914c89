"""Operators: a failed flow run emails the operator through the mailer; status shows age against the target."""

from __future__ import annotations

import pytest
from prefect import flow
from typer.testing import CliRunner

from cli.main import app
from credflow.errors import PermanentError
from credflow.mail.outbox import OutboxMailer
from credflow.services import build_services
from flows.alerts import email_operator_on_failure
from tasks.runtime import use_services
from tests.utils.builders import anchoring_request

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@flow(name="always-fails", on_failure=[email_operator_on_failure])
def always_fails(submission_id: str) -> None:
    """Fail like a permanent error in a stage would."""
    raise PermanentError("the catalog entry was removed")


def test_a_failed_run_emails_the_operator_once_per_run(make_settings, tmp_path):
    from credflow.intake.stage import submit

    services = build_services(make_settings(operator_email="ops@district.example.org"))
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    with use_services(services):
        for _ in range(2):
            with pytest.raises(PermanentError):
                always_fails(sid)
    alerts = [
        m
        for m in OutboxMailer(services.settings.resolved_outbox_dir, sender="x@x.org").list_messages()
        if m["kind"] == "operator_alert"
    ]
    assert len(alerts) == 2  # one per failed run, each naming the run
    assert all(m["to"] == "ops@district.example.org" and "failed" in m["subject"] for m in alerts)


def test_status_shows_age_against_the_decision_target(services, tmp_path, monkeypatch):
    from credflow.intake.stage import submit

    submit(services, anchoring_request(tmp_path))
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0 and "received" in result.output
    assert "0/5" in result.output  # business days waiting / the credential's decision target
