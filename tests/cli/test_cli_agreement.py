"""``credflow report agreement``: the table is followed by every number in words, with its sample size."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from credflow.assignment.stage import assign_reviewers
from credflow.review.stage import submit_review
from tests.utils.review_cycle import NOW, assignments_of, load_pool, ready_submission, review_scores


def test_the_agreement_report_explains_its_numbers_and_flags_small_samples(services, tmp_path, monkeypatch):
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    first, second = assignments_of(services, sid)
    submit_review(services, first.id, review_scores(services), now=NOW)
    submit_review(services, second.id, review_scores(services, {"facilitator_moves": "not_yet"}), now=NOW)

    result = CliRunner().invoke(app, ["report", "agreement"])
    assert result.exit_code == 0, result.output
    table, _, words = result.output.partition("What the numbers mean:")
    assert "krippendorff alpha" in table
    assert "- percent agreement, all criteria: 75%: Agreed on 3 of 4." in words
    assert "Too few to trust: n=4 (at least 10 units" in words
    assert "Landis & Koch" in words or "every verdict was the same" in words

    fewer = CliRunner().invoke(app, ["report", "agreement", "--min-sample", "3"])
    assert fewer.exit_code == 0
    overall = next(line for line in fewer.output.splitlines() if line.startswith("- percent agreement"))
    assert overall.endswith("(n=4)")  # 4 units are enough when 3 are asked for
    assert "Too few to trust: n=1 (at least 3 units" in fewer.output  # one unit per criterion is not
