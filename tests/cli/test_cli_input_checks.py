"""What the CLI refuses before doing anything: unknown keys, YAML slips, unknown option values, nothing changed."""

from __future__ import annotations

import io

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import demo_evidence as ev
from cli.main import app
from credflow.db.models import Assignment, Submission, utcnow
from credflow.intake.rules import IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.notifications.stage import review_link
from credflow.submissions import get_submission, transition
from tests.utils.builders import anchoring_answers, applicant
from tests.utils.review_cycle import assignments_of, load_pool, pool_yaml, ready_submission

SUBMIT = ["submit", "--name", "Ana Alvarez", "--email", "ana@example.org", "--organisation", "Riverside Unified"]


@pytest.fixture
def env(services, monkeypatch):
    """The services the CLI builds from the environment are these (same folders)."""
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    return services


def _stored_files(services) -> list:
    return [p for p in services.settings.resolved_storage_dir.rglob("*") if p.is_file()]


def _submissions(services) -> int:
    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


def test_a_wrong_evidence_key_is_refused_before_anything_is_stored_naming_the_keys(env, tmp_path):
    video = tmp_path / "lesson.mp4"
    video.write_bytes(b"\0" * 1_000_000)
    refused = CliRunner().invoke(app, [*SUBMIT, "--credential", "udl-level-1", "-e", f"video={video}"])
    assert refused.exit_code == 2
    assert "no file is asked for under 'video' (did you mean 'classroom_video'?)" in refused.output
    assert "the files are: udl_lesson_plan, classroom_video" in refused.output
    assert "see `credflow catalog show udl-level-1`" in refused.output
    assert _stored_files(env) == [] and _submissions(env) == 0


def test_a_misspelt_answer_key_is_refused_before_anything_is_stored(env, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"learner_variabilty": "words", "reflection": "words"}))
    plan = ev.pdf(tmp_path / "plan.pdf", "Plan")
    refused = CliRunner().invoke(
        app, [*SUBMIT, "--credential", "udl-level-1", "--answers", str(answers), "-e", f"udl_lesson_plan={plan}"]
    )
    assert refused.exit_code == 2
    assert "no question 'learner_variabilty' (did you mean 'learner_variability'?)" in refused.output
    assert "the questions are: learner_variability, reflection" in refused.output
    assert _stored_files(env) == [] and _submissions(env) == 0


def test_yaml_slips_are_reported_by_line_and_column(env, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("learner_variability: 'the quote\nreflection: is never closed\n")
    refused = CliRunner().invoke(app, [*SUBMIT, "--credential", "udl-level-1", "--answers", str(answers)])
    assert refused.exit_code == 2
    assert f"answers file {answers} line 3, column 1: the quote opened at line 1, column 22 is never closed" in (
        " ".join(refused.output.split())
    )

    pool = tmp_path / "pool.yaml"
    pool.write_text("reviewers:\n  - name: Rosa Diaz\n    email: rosa@review.org: lead\n")
    refused = CliRunner().invoke(app, ["reviewers", "import", str(pool)])
    assert refused.exit_code == 2
    assert f"{pool} line 3, column 27: a colon and a space inside a value" in " ".join(refused.output.split())


def test_catalog_check_locates_a_yaml_slip(tmp_path):
    (tmp_path / "broken.yaml").write_text("id: broken\nevidence: [a, b\n")
    checked = CliRunner().invoke(app, ["catalog", "check", str(tmp_path)])
    assert checked.exit_code == 1
    assert "broken.yaml: line 3, column 1: the file ends before every [ or { is closed (the one at line 2" in (
        " ".join(checked.output.split())
    )


def test_review_verdicts_are_read_in_any_case_and_the_help_shows_the_scores_file(env, tmp_path):
    services, now = env, utcnow()  # the link's expiry is read against the wall clock
    load_pool(services, pool_yaml(now.date()))
    sid = ready_submission(services, tmp_path, now=now)
    from credflow.assignment.stage import assign_reviewers

    assign_reviewers(services, now=now)
    assignment = assignments_of(services, sid)[0]
    token = review_link(services, assignment).rsplit("/", 1)[1]
    scores = tmp_path / "scores.yaml"
    scores.write_text("purpose_explained: Met\nfacilitator_moves: {verdict: Not Yet, comment: add timings}\n")
    saved = CliRunner().invoke(app, ["review", "draft", token, str(scores)])
    assert saved.exit_code == 0, saved.output
    with services.db.session() as session:
        stored = session.get_one(Assignment, assignment.id).scores
    assert stored["purpose_explained"]["verdict"] == "met" and stored["facilitator_moves"]["verdict"] == "not_yet"

    scores.write_text("purpose_explained: {verdict: Met\n")
    refused = CliRunner().invoke(app, ["review", "draft", token, str(scores)])
    assert refused.exit_code == 2 and f"{scores} line 2, column 1:" in " ".join(refused.output.split())

    shown = CliRunner().invoke(app, ["review", "submit", "--help"])
    assert "The scores file is YAML (or JSON) mapping each criterion key" in " ".join(shown.output.split())
    assert "verdict: Not Yet" in shown.output and "comment:" in shown.output


@pytest.mark.parametrize(
    ("command", "choices"),
    [(["report", "hours"], "'table', 'csv', 'xlsx'"), (["report", "programs"], "'table', 'csv'")],
)
def test_an_option_with_a_fixed_set_of_values_refuses_any_other(env, command, choices):
    refused = CliRunner().invoke(app, [*command, "--format", "pdf"])
    words = " ".join(refused.output.replace("│", " ").split())
    assert refused.exit_code == 2 and f"'pdf' is not one of {choices}" in words
    accepted = CliRunner().invoke(app, [*command, "--format", "CSV"])
    assert accepted.exit_code == 0 and accepted.output.count(",") >= 5  # a CSV header, not a table


def test_resubmitting_the_same_content_is_refused_saying_nothing_changed(env, tmp_path):
    services, now = env, utcnow()  # the CLI resubmits at the wall clock; the window is counted from now
    plan = ev.pdf(tmp_path / "plan.pdf", "Plan")
    request = IntakeRequest(
        applicant=applicant(),
        credential_id="openscied-anchoring-phenomenon",
        answers=anchoring_answers(),
        uploads=[Upload("facilitation_plan", "plan.pdf", io.BytesIO(plan.read_bytes()))],
    )
    first = submit(services, request, now=now).submission_id
    with services.db.session() as session:
        sub = get_submission(session, first)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
            transition(session, sub, state, actor="test", now=now)

    refused = CliRunner().invoke(app, ["resubmit", first, "-e", f"facilitation_plan={plan}"])
    assert refused.exit_code == 2
    assert f"nothing changed: the answers and every file are the same as in attempt 1 (submission {first})" in (
        " ".join(refused.output.split())
    )
    with services.db.session() as session:
        assert get_submission(session, first).state == "not_yet"
    assert _submissions(services) == 1
