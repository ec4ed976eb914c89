"""The reviewer CLI: pool import/export, and scripted reviews with a link token."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import utcnow
from credflow.notifications.stage import review_link
from credflow.submissions import get_submission
from tests.utils.review_cycle import assignments_of, pool_yaml, ready_submission, review_scores

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def env(services, monkeypatch):
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    return services


def test_pool_import_export_and_a_scripted_review(env, tmp_path):
    # The CLI and the decision flow it runs read the wall clock, so this world is built on it too.
    services, now = env, utcnow()
    runner = CliRunner()
    pool = tmp_path / "pool.yaml"
    pool.write_text(pool_yaml(now.date()))
    imported = runner.invoke(app, ["reviewers", "import", str(pool)])
    assert imported.exit_code == 0 and "6 added" in imported.output
    exported = runner.invoke(app, ["reviewers", "export"])
    assert len(yaml.safe_load(exported.output)["reviewers"]) == 6

    sid = ready_submission(services, tmp_path, now=now)
    assign_reviewers(services, now=now)
    tokens = [review_link(services, a).rsplit("/", 1)[1] for a in assignments_of(services, sid)]
    shown = runner.invoke(app, ["review", "show", tokens[0]])
    assert shown.exit_code == 0 and "Applicant " in shown.output and "Ana Alvarez" not in shown.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"facilitator_moves": "not_yet"}))
    refused = runner.invoke(app, ["review", "submit", tokens[0], str(bad)])
    assert refused.exit_code == 2 and "choose Met or Not Yet" in refused.output

    scores = tmp_path / "scores.yaml"
    scores.write_text(yaml.safe_dump(review_scores(services)))
    for token in tokens:
        result = runner.invoke(app, ["review", "submit", token, str(scores)])
        assert result.exit_code == 0, result.output
    assert "is earned" in result.output
    with services.db.session() as session:
        assert get_submission(session, sid).state == "earned"
    again = runner.invoke(app, ["review", "submit", tokens[0], str(scores)])
    assert again.exit_code == 2 and "no longer active" in again.output
