"""What the CLI prints: rich markup is never shown raw nor read from people's text; status is for a terminal."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import utcnow
from credflow.decision.stage import aggregate
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.notifications.stage import review_link
from credflow.review.stage import submit_review
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers, anchoring_request, applicant
from tests.utils.review_cycle import assignments_of, load_pool, pool_yaml, review_scores

# Text that rich would take for markup: printed as typed, it shows these exact characters.
MARKUP = "[bold]not bold[/] and [red]not red[/red]"


@pytest.fixture
def env(services, monkeypatch):
    """The services the CLI builds from the environment are these (same folders)."""
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    return services


def _in_review(services, tmp_path, now) -> str:
    """An anchoring submission whose answer holds rich markup, assigned to two reviewers at ``now``."""
    load_pool(services, pool_yaml(now.date()))
    answers = anchoring_answers()
    answers["reflection"] = f"{MARKUP} {answers['reflection']}"
    sid = submit(services, anchoring_request(tmp_path, who=applicant(), answers=answers), now=now).submission_id
    assert run_validation(services, sid, now=now).state is State.AWAITING_REVIEW
    assign_reviewers(services, now=now)
    return sid


def test_review_show_prints_titles_styled_and_answers_as_written(env, tmp_path):
    # The CLI reads the wall clock (link expiry), so this world is built on it too.
    services, now = env, utcnow()
    sid = _in_review(services, tmp_path, now)
    token = review_link(services, assignments_of(services, sid)[0]).rsplit("/", 1)[1]
    shown = CliRunner().invoke(app, ["review", "show", token])
    assert shown.exit_code == 0, shown.output
    assert "[bold]" not in shown.output.replace(MARKUP, "")  # titles were printed as "[bold]Reflection[/]"
    assert "\nReflection\n" in shown.output and "\nPurpose of the routine\n" in shown.output
    assert MARKUP in shown.output


def test_status_is_rendered_for_a_terminal_with_reviewers_by_role_and_name(env, tmp_path):
    services, now = env, utcnow()
    sid = _in_review(services, tmp_path, now)
    for assignment in assignments_of(services, sid):
        submit_review(services, assignment.id, review_scores(services, {"purpose_explained": "not_yet"}), now=now)
    assert aggregate(services, sid, now=now).state is State.NOT_YET
    reviewers = [(a.reviewer.name, a.reviewer_id) for a in assignments_of(services, sid)]

    shown = CliRunner().invoke(app, ["status", sid[:8]])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    for markdown in ("\\_", "**", "`", "|---", "# "):
        assert markdown not in out
    assert "not yet: purpose_explained" in out  # was "not\_yet=['purpose\_explained'\]"
    for number, (name, reviewer_id) in enumerate(reviewers, start=1):
        assert f"reviewer {number} ({name})" in out
        assert reviewer_id not in out
    assert "state not_yet since" in out and "Ana Alvarez (Riverside Unified)" in out


def test_an_error_quoting_what_was_typed_prints_it_literally(env, tmp_path):
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4\n")
    args = ["submit", "--name", "A", "--email", "a@example.org", "--organisation", "O", "--credential", "udl-level-1"]
    # Unclosed or stray markup used to be read by rich: "[/]" raised MarkupError, "[bold]" vanished.
    for key in ("[/]", "[bold]plan"):
        refused = CliRunner().invoke(app, [*args, "--evidence", f"{key}={plan}"])
        assert refused.exit_code == 2, refused.output
        assert f"no file is asked for under '{key}'" in refused.output


def test_a_file_name_with_brackets_is_printed_as_it_is(env, tmp_path):
    pool = tmp_path / "pool [old].yaml"  # rich would drop "[old]" as an unknown style
    pool.write_text(pool_yaml(utcnow().date()))
    imported = CliRunner().invoke(app, ["reviewers", "import", str(pool)])
    assert imported.exit_code == 0, imported.output
    assert f"{pool}: 6 added" in imported.output


def test_reviewers_are_labelled_by_role_in_the_order_they_were_assigned():
    from datetime import timedelta
    from types import SimpleNamespace

    from cli.submissions import reviewer_labels

    now = utcnow()

    def made(aid, rid, name, role, minutes):
        reviewer = SimpleNamespace(name=name)
        return SimpleNamespace(
            id=aid, reviewer_id=rid, reviewer=reviewer, role=role, assigned_at=now + timedelta(minutes=minutes)
        )

    by_assignment, by_reviewer = reviewer_labels(
        [
            made("a3", "r3", "Ola Berg", "adjudication", 9),
            made("a2", "r2", "Sam Iyer", "review", 1),
            made("a1", "r1", "Rosa Diaz", "review", 0),
            made("a4", "r4", "Kim Wu", "review", 5),  # a replacement after a decline
        ]
    )
    assert by_assignment == {
        "a1": "reviewer 1 (Rosa Diaz)",
        "a2": "reviewer 2 (Sam Iyer)",
        "a4": "reviewer 3 (Kim Wu)",
        "a3": "lead adjudicator (Ola Berg)",
    }
    assert by_reviewer["r3"] == "lead adjudicator (Ola Berg)"
