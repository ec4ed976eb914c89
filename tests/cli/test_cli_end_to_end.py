"""`credflow submit --json` as a user runs it: a real process, the same submission twice is one id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli import demo_evidence as ev
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _credflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=240
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDFLOW_")}
    env.update(
        CREDFLOW_DATA_DIR=str(tmp_path / "data"),
        CREDFLOW_CATALOG_DIR=str(ROOT / "rubrics"),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),  # the session's test server: no second server start-up
    )
    return env


def test_submit_json_twice_returns_the_same_submission(tmp_path, cli_env):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"routine_purpose": ev.words(200), "reflection": ev.words(300)}))
    plan = ev.pdf(tmp_path / "My Plan.pdf", "Facilitation plan")
    args = [
        "submit",
        "--name", "Ana Alvarez",
        "--email", "Ana.Alvarez@Example.org",
        "--organisation", "Riverside Unified",
        "--credential", "openscied-anchoring-phenomenon",
        "--answers", str(answers),
        "--evidence", f"facilitation_plan={plan}",
        "--json",
    ]  # fmt: skip
    first = _credflow(args, cli_env)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["state"] == "awaiting_review" and result["created"] is True and result["attempt"] == 1
    assert len(result["submission_id"]) == 32 and result["problems"] == []

    again = _credflow(args, cli_env)
    assert again.returncode == 0, again.stderr
    repeat = json.loads(again.stdout)
    assert repeat["submission_id"] == result["submission_id"] and repeat["created"] is False
    assert repeat["state"] == "awaiting_review"
    outbox = list((tmp_path / "data" / "outbox").glob("*.eml"))
    assert len(outbox) == 1


def test_submit_reports_refusals_and_returned_problems(tmp_path, cli_env):
    refused = _credflow(
        ["submit", "--name", "A", "--email", "a@example.org", "--organisation", "O", "--credential", "nope"], cli_env
    )
    assert refused.returncode == 2 and "no micro-credential 'nope'" in refused.stderr
    bad_evidence = _credflow(
        ["submit", "--name", "A", "--email", "a@example.org", "--organisation", "O", "--credential", "udl-level-1",
         "--evidence", "udl_lesson_plan"],
        cli_env,
    )  # fmt: skip
    assert bad_evidence.returncode == 2 and "use KEY=PATH" in bad_evidence.stderr
    returned = _credflow(
        ["submit", "--name", "A", "--email", "a@example.org", "--organisation", "O", "--credential", "udl-level-1",
         "--json"],
        cli_env,
    )  # fmt: skip
    payload = json.loads(returned.stdout)
    assert payload["state"] == "returned"
    assert {p["code"] for p in payload["problems"]} == {"missing_evidence", "missing_answer"}
