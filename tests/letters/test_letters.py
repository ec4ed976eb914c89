"""Feedback letters: earned and Not Yet snapshots, escaping, anonymous reviewers, what to strengthen and when."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credflow.catalog import load_catalog
from credflow.catalog.models import Credential
from credflow.letters.rules import (
    BadgeLinks,
    CriterionResult,
    LetterInput,
    Outcome,
    PortalLinks,
    ReviewerComment,
    Verdict,
    criterion_results,
    render_letter,
)
from credflow.mail.base import Message

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "snapshots" / "letters"
SUBMISSION = "5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e01"
PORTAL = "https://credflow.example.org"
NOT_YET_KEYS = ("adults_reason_together", "evidence_based_reflection")


@dataclass
class FakeReview:
    """An assignment as the database holds it: the reviewer's identity travels with the scores."""

    id: str
    reviewer_name: str
    reviewer_email: str
    scores: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def credential() -> Credential:
    return load_catalog(ROOT / "rubrics").get("openscied-facilitating-discussions")


def _reviews(credential: Credential, not_yet: tuple[str, ...]) -> tuple[list[FakeReview], FakeReview | None]:
    """Two reviews (split on the first Not Yet criterion, settled by a lead) with comments."""
    first = FakeReview("rev-a1", "Margaret Okafor", "m.okafor@example.org")
    second = FakeReview("rev-b2", "Tomás Lindqvist", "tomas@example.org")
    lead = FakeReview("adj-c3", "Priya Raman", "priya@example.org") if not_yet else None
    for index, criterion in enumerate(credential.criteria):
        verdict = "not_yet" if criterion.key in not_yet else "met"
        first.scores[criterion.key] = {"verdict": verdict, "comment": f"Reviewer one on {criterion.title.lower()}."}
        split = bool(not_yet) and criterion.key == not_yet[0]
        second.scores[criterion.key] = {
            "verdict": "met" if split else verdict,
            "comment": "" if verdict == "met" and index % 2 else f"Second look at {criterion.title.lower()}.",
        }
        if split and lead is not None:
            lead.scores[criterion.key] = {
                "verdict": "not_yet",
                "comment": "Participants mostly answer the facilitator.\nPick a segment where they build on ideas.",
            }
    return [first, second], lead


def _letter(credential: Credential, outcome: Outcome, **overrides: Any) -> LetterInput:
    not_yet = NOT_YET_KEYS if outcome is Outcome.NOT_YET else ()
    reviews, lead = _reviews(credential, not_yet)
    decision = {c.key: {"verdict": "not_yet" if c.key in not_yet else "met"} for c in credential.criteria}
    values: dict[str, Any] = {
        "applicant_name": "Ana Alvarez",
        "credential": credential,
        "submission_id": SUBMISSION,
        "attempt": 1,
        "max_attempts": 3,
        "outcome": outcome,
        "criteria": criterion_results(credential, decision=decision, reviews=reviews, adjudication=lead),
        "portal": PortalLinks.of(PORTAL, credential_id=credential.id, submission_id=SUBMISSION),
    }
    if outcome is Outcome.EARNED:
        values["badge"] = BadgeLinks(
            verification_url="https://badges.example.org/verify/4b1e",
            json_url="https://badges.example.org/credentials/4b1e.json",
            png_url="https://badges.example.org/credentials/4b1e.png",
        )
        values["hours_confirmation"] = "CF-1A2B-3C4D"
    else:
        values["resubmit_by"] = date(2026, 6, 1)
    values.update(overrides)
    return LetterInput(**values)


def _render(letter: LetterInput) -> Message:
    return render_letter(letter, idempotency_key=f"result:{SUBMISSION}", to_email="ana@example.org")


def assert_snapshot(name: str, actual: str) -> None:
    """Compare with tests/snapshots/letters/<name>; UPDATE_SNAPSHOTS=1 rewrites it instead."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.exists(), f"missing snapshot {path}; run the tests with UPDATE_SNAPSHOTS=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} changed; if intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff"


@pytest.mark.parametrize("outcome", list(Outcome), ids=lambda o: o.value)
def test_letters_match_their_snapshots(credential, outcome):
    message = _render(_letter(credential, outcome))
    assert message.kind == f"result_{outcome.value}"
    assert message.to_name == "Ana Alvarez"
    assert_snapshot(f"{outcome.value}.html", message.html)
    assert_snapshot(f"{outcome.value}.txt", message.text)


def test_subjects_say_the_result(credential):
    earned = _render(_letter(credential, Outcome.EARNED))
    not_yet = _render(_letter(credential, Outcome.NOT_YET))
    assert earned.subject == 'You earned "Facilitating OpenSciEd Discussions"'
    assert not_yet.subject == 'Your result for "Facilitating OpenSciEd Discussions": not yet, 2 criteria to strengthen'


def test_applicant_and_reviewer_text_is_escaped_in_html(credential):
    hostile = "<script>alert('x')</script>"
    letter = _letter(credential, Outcome.NOT_YET, applicant_name=f"Ana {hostile}")
    criteria = tuple(
        CriterionResult(
            r.criterion, r.verdict, (ReviewerComment.by_reviewer(1, f'<img src=x onerror="go()"> {hostile}'),)
        )
        for r in letter.criteria
    )
    message = _render(_letter(credential, Outcome.NOT_YET, applicant_name=f"Ana {hostile}", criteria=criteria))
    assert "<script" not in message.html and "<img" not in message.html
    assert "Dear Ana &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;," in message.html
    assert "&lt;img src=x onerror=&#34;go()&#34;&gt;" in message.html
    assert f"Dear Ana {hostile}," in message.text  # plain text shows what was typed


def test_reviewers_appear_only_by_position(credential):
    for outcome in Outcome:
        message = _render(_letter(credential, outcome))
        for part in (message.text, message.html, message.subject):
            for leaked in (
                "Okafor",
                "Margaret",
                "Lindqvist",
                "Tomás",
                "Priya",
                "Raman",
                "okafor@",
                "tomas@",
                "priya@",
                "rev-a1",
                "adj-c3",
            ):
                assert leaked not in part
        assert "Reviewer 1:" in message.text and "Reviewer 2:" in message.text
    not_yet = _render(_letter(credential, Outcome.NOT_YET))
    assert not_yet.text.count("Lead reviewer:") == 1  # only the split criterion was adjudicated
    assert "Lead reviewer:</span> Participants mostly answer the facilitator.<br>Pick a segment" in not_yet.html


def test_not_yet_letter_lists_exactly_the_not_yet_criteria_with_strengthen_text_and_deadline(credential):
    letter = _letter(credential, Outcome.NOT_YET)
    message = _render(letter)
    assert [r.criterion.key for r in letter.not_yet] == list(NOT_YET_KEYS)
    for part in (message.text, message.html.replace("&#39;", "'")):
        for criterion in credential.criteria:
            expected = 1 if criterion.key in NOT_YET_KEYS else 0
            assert part.count(criterion.strengthen) == expected, criterion.key
            assert criterion.met in part  # what reviewers looked for, on every criterion
        assert "Monday 1 June 2026" in part
        assert f"{PORTAL}/me/credentials/openscied-facilitating-discussions/draft" in part  # revise in the portal
        assert f"{PORTAL}/me/submissions/{SUBMISSION}/letter" in part  # the letter online
        assert "credflow resubmit" not in part  # never a terminal command
        assert "files you don't change are carried over" in part
        assert "2 attempts left" in part
    summary = message.text.split("TO STRENGTHEN\n", 1)[1].split("\n\n", 1)[0]
    assert summary.splitlines() == [
        "  - Participants reason together",
        "  - Reflection grounded in the video",
        "Deadline to submit again: Monday 1 June 2026.",
    ]


def test_sections_follow_the_rubric(credential):
    text = _render(_letter(credential, Outcome.EARNED)).text
    positions = [text.index(section.title.upper()) for section in credential.rubric]
    assert positions == sorted(positions)
    for section, start in zip(credential.rubric, positions, strict=True):
        for criterion in section.criteria:
            assert text.index(f"* {criterion.title}: Met") > start


def test_last_attempt_offers_coaching_not_a_resubmit_link(credential):
    message = _render(_letter(credential, Outcome.NOT_YET, attempt=3, resubmit_by=None))
    assert "This was your last attempt (3 of 3)" in message.text
    assert "coaching conversation" in message.html
    for part in (message.text, message.html):
        assert "/draft" not in part and "Revise and resubmit" not in part
        assert f"{PORTAL}/me/submissions/{SUBMISSION}/letter" in part


def test_earned_letter_gives_badge_links_and_in_service_hours(credential):
    message = _render(_letter(credential, Outcome.EARNED))
    for url in ("verify/4b1e", "4b1e.json", "4b1e.png"):
        assert 'href="https://badges.example.org/' in message.html and url in message.html
        assert url in message.text
    assert "3 in-service hours; forward this email to your PD director as confirmation." in message.text
    assert "Confirmation: CF-1A2B-3C4D" in message.text
    assert "How to strengthen" not in message.text and "How to strengthen" not in message.html


def test_letter_input_refuses_contradictions(credential):
    earned = _letter(credential, Outcome.EARNED)
    with pytest.raises(ValueError, match="contradicts"):
        _letter(credential, Outcome.NOT_YET, criteria=earned.criteria)
    with pytest.raises(ValueError, match="missing \\['talk_moves_visible'\\]"):
        _letter(
            credential,
            Outcome.EARNED,
            criteria=tuple(r for r in earned.criteria if r.criterion.key != "talk_moves_visible"),
        )
    with pytest.raises(ValueError, match="resubmission deadline"):
        _letter(credential, Outcome.NOT_YET, resubmit_by=None)
    with pytest.raises(ValueError, match="badge links"):
        _letter(credential, Outcome.EARNED, badge=None)
    with pytest.raises(ValueError, match="verification_url must be an http"):
        BadgeLinks("javascript:alert(1)", "https://x.example/a.json", "https://x.example/a.png")
    assert all(r.verdict is Verdict.MET for r in earned.criteria)
