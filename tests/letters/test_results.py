"""Results: the letter after a decision (once), in-service hours, and badges for earned decisions."""

from __future__ import annotations

import pytest

from credflow.errors import TransientError
from credflow.issuance.stage import record_hours
from credflow.letters.stage import result_letter, send_result
from credflow.notifications.rules import Delivery
from tests.utils.review_cycle import decided_submission


def test_a_not_yet_letter_is_sent_once_with_the_deadline_and_what_to_strengthen(services, tmp_path):
    sid = decided_submission(services, tmp_path, {"reflection_on_learners": "not_yet"})
    message = result_letter(services, sid)
    assert message.kind == "result_not_yet"
    assert "Name a specific group of participants" in message.text  # the catalog's strengthen text
    assert "Reviewer 1" in message.text and "Rosa" not in message.text and "Sam" not in message.text
    assert send_result(services, sid).delivery is Delivery.SENT
    assert send_result(services, sid).delivery is Delivery.ALREADY_SENT
    assert len(list(services.settings.resolved_outbox_dir.glob("result-*.eml"))) == 1
    assert record_hours(services, sid) is None  # hours only for earned micro-credentials


def test_an_earned_letter_waits_for_its_badge(services, tmp_path):
    sid = decided_submission(services, tmp_path)
    hours = record_hours(services, sid)
    assert hours is not None and hours.hours == 3 and hours.confirmation.startswith("CF-")
    again = record_hours(services, sid)
    assert again is not None and again.id == hours.id  # one record per decision
    with pytest.raises(TransientError, match="not issued yet"):
        result_letter(services, sid)


def test_the_hours_report_is_a_csv_for_the_pd_office(services, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app

    sid = decided_submission(services, tmp_path)
    record_hours(services, sid)
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    result = CliRunner().invoke(app, ["report", "hours", "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, row = result.output.strip().splitlines()
    assert header.startswith("applicant_name,") and "hours" in header
    assert "Ana Alvarez" in row and ",3," in row and "CF-" in row
