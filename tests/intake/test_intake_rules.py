"""Intake's pure rules, without a database: the attempt count reads any object shaped like a submission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from credflow.catalog import load_catalog
from credflow.errors import IntakeRefused
from credflow.intake.rules import next_attempt
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
