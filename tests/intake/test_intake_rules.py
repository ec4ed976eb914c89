"""Intake's pure rules, without a database: the attempt count reads any object shaped like a submission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credflow.catalog import load_catalog
from credflow.errors import IntakeRefused
from credflow.intake.rules import IntakeInvalid, check_keys, next_attempt, parse_answers, same_content
from tests.conftest import ROOT

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Latest:
    id: str
    state: str
    attempt: int
    state_since: datetime


@pytest.fixture(scope="module")
def credential():
    return load_catalog(ROOT / "rubrics").get("openscied-facilitating-discussions")


def test_a_first_submission_is_attempt_one_and_a_correction_keeps_its_number(credential) -> None:
    assert next_attempt(None, credential, now=NOW) == 1
    assert next_attempt(Latest("s1", "returned", 2, NOW), credential, now=NOW) == 2


def test_after_not_yet_the_next_attempt_counts_within_the_window(credential) -> None:
    assert next_attempt(Latest("s1", "not_yet", 1, NOW - timedelta(days=1)), credential, now=NOW) == 2
    late = NOW - timedelta(days=credential.resubmission_window_days + 1)
    with pytest.raises(IntakeRefused, match="resubmission window"):
        next_attempt(Latest("s1", "not_yet", 1, late), credential, now=NOW)
    with pytest.raises(IntakeRefused, match="attempts"):
        next_attempt(Latest("s1", "not_yet", credential.max_attempts, NOW), credential, now=NOW)


def test_an_earned_or_running_chain_takes_no_new_attempt(credential) -> None:
    with pytest.raises(IntakeRefused, match="already earned"):
        next_attempt(Latest("s1", "earned", 1, NOW), credential, now=NOW)
    with pytest.raises(IntakeRefused, match="wait for its result"):
        next_attempt(Latest("s1", "in_review", 1, NOW), credential, now=NOW)


def test_keys_the_credential_does_not_ask_for_are_refused_naming_the_allowed_ones(credential) -> None:
    check_keys(credential, answers=["discussion_context", "reflection"], files=["discussion_video"])
    with pytest.raises(IntakeInvalid) as refused:
        check_keys(credential, answers=["reflecton"], files=["video", "reflection"])
    message = str(refused.value)
    assert "no file is asked for under 'video' (did you mean 'discussion_video'?)" in message
    assert "the files are: discussion_video, discussion_plan" in message
    assert "'reflection' is a written answer, not a file" in message
    assert "no question 'reflecton' (did you mean 'reflection'?)" in message
    assert "the questions are: discussion_context, reflection" in message


def test_an_answers_file_that_is_not_yaml_is_located_by_line_and_column() -> None:
    text = "discussion_context: fine\nreflection: 'never closed\nmore words\n"
    with pytest.raises(IntakeInvalid) as refused:
        parse_answers(text, source="answers.yaml", yaml_too=True)
    assert str(refused.value) == "answers.yaml line 4, column 1: the quote opened at line 2, column 13 is never closed"
    with pytest.raises(IntakeInvalid, match=r"^answers line 1, column 16: not JSON: Expecting value"):
        parse_answers('{"reflection": }', source="answers")


def test_a_resubmission_is_the_same_content_only_with_equal_answers_and_the_same_bytes_per_key() -> None:
    same: dict[str, Any] = {"before_answers": {"reflection": "a"}, "before_files": [("plan", "s1"), ("photo", "s2")]}
    assert same_content({"reflection": "a"}, [("photo", "s2"), ("plan", "s1")], **same)
    assert not same_content({"reflection": "b"}, [("photo", "s2"), ("plan", "s1")], **same)
    assert not same_content({"reflection": "a"}, [("photo", "s3"), ("plan", "s1")], **same)
    assert not same_content({"reflection": "a"}, [("plan", "s1")], **same)
    assert not same_content({"reflection": "a"}, [("plan", "s2"), ("photo", "s1")], **same)
