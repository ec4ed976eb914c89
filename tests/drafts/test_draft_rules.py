"""Drafts' pure rules: accept lists, word labels, answer and comment checks, coach link states, content hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credflow.catalog.models import EvidenceKind, EvidenceRequirement
from credflow.drafts.rules import (
    DraftRefused,
    accept_list,
    answer_problem,
    coach_days,
    coach_link_problem,
    comment_text,
    content_hash,
    file_refusal,
    kind_label,
    normal_answer,
    problems_by_requirement,
    words_label,
    wrong_kind,
)
from credflow.validation.rules import Problem

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PLAN = EvidenceRequirement(
    key="plan",
    kind=EvidenceKind.DOCUMENT,
    title="Plan",
    prompt="A plan.",
    max_count=2,
    formats=("pdf", "docx"),
    max_size_mb=25,
)
PHOTO = EvidenceRequirement(
    key="photo",
    kind=EvidenceKind.IMAGE,
    title="Photo",
    prompt="A photo.",
    min_count=0,
    max_count=3,
    formats=("jpeg", "png"),
    max_size_mb=15,
)
ESSAY = EvidenceRequirement(
    key="essay", kind=EvidenceKind.TEXT, title="Essay", prompt="Write.", min_words=3, max_words=5
)


def test_the_file_picker_offers_each_formats_usual_endings():
    assert accept_list(PLAN) == ".pdf,.docx"
    assert accept_list(PHOTO) == ".jpg,.jpeg,.png"


def test_what_a_requirement_takes_and_an_answers_words_read_in_words():
    assert kind_label(PLAN) == "PDF or DOCX, at most 25.0 MB each (1 to 2 files)"
    assert kind_label(PHOTO).endswith("(optional, up to 3 files)")
    assert words_label(ESSAY, "one two, three!") == "3 words (3 to 5)"
    assert words_label(ESSAY, "") == "0 words (3 to 5)"


def test_an_answer_with_control_characters_or_too_long_is_refused_but_line_breaks_are_fine():
    assert answer_problem("Essay", "line one\r\nline two\ttab") is None
    assert "U+0000" in (answer_problem("Essay", "a\x00b") or "")
    assert "characters long" in (answer_problem("Essay", "x" * 50_001) or "")
    assert normal_answer("a\r\nb\rc") == "a\nb\nc"


def test_a_file_is_refused_for_a_written_answer_an_unknown_key_or_a_full_requirement(services):
    credential = services.catalog.get("openscied-anchoring-phenomenon")
    assert "written answer" in (
        file_refusal(credential.requirement("reflection"), credential=credential, key="reflection", held=0) or ""
    )
    assert "asks for no file under 'nope'" in (file_refusal(None, credential=credential, key="nope", held=0) or "")
    plan = credential.requirement("facilitation_plan")
    assert file_refusal(plan, credential=credential, key="facilitation_plan", held=1) is None
    assert "remove or replace one first" in (
        file_refusal(plan, credential=credential, key="facilitation_plan", held=2) or ""
    )


def test_a_file_of_the_wrong_kind_is_named_with_what_the_requirement_accepts():
    assert wrong_kind(PLAN, filename="board.png", found="a PNG image", fmt="png") == (
        "'board.png' is a PNG image; 'Plan' accepts PDF, DOCX. Save or export it as one of those and add it again."
    )
    assert wrong_kind(PLAN, filename="plan.pdf", found="a PDF document", fmt="pdf") is None


def test_the_content_hash_ignores_order_and_changes_with_any_answer_or_file():
    one = content_hash({"a": "x", "b": "y"}, [("plan", "1" * 64), ("photo", "2" * 64)])
    assert one == content_hash({"b": "y", "a": "x"}, [("photo", "2" * 64), ("plan", "1" * 64)])
    assert one != content_hash({"a": "x", "b": "z"}, [("plan", "1" * 64), ("photo", "2" * 64)])
    assert one != content_hash({"a": "x", "b": "y"}, [("plan", "1" * 64), ("photo", "3" * 64)])


def test_problems_are_grouped_under_their_requirement_in_catalog_order(services):
    credential = services.catalog.get("openscied-anchoring-phenomenon")
    problems = [
        Problem("missing_answer", "reflection missing", "write it", "reflection"),
        Problem("executable", "'x.docx' is bad", "send another", "facilitation_plan", "x.docx"),
        Problem("unknown_answer", "odd", "drop it", "zzz"),
    ]
    groups = problems_by_requirement(credential, problems)
    assert [g.key for g in groups] == ["facilitation_plan", "reflection", None]
    assert groups[0].problems[0].file == "x.docx"


def test_coach_link_states_in_words_with_their_status():
    later = NOW + timedelta(days=14)
    assert coach_link_problem(found=True, revoked_at=None, expires_at=later, applied=False, now=NOW) is None
    unknown = coach_link_problem(found=False, revoked_at=None, expires_at=None, applied=False, now=NOW)
    assert unknown is not None and unknown.status == 404
    revoked = coach_link_problem(found=True, revoked_at=NOW, expires_at=later, applied=False, now=NOW)
    assert revoked is not None and revoked.status == 403 and "withdrew" in revoked.message
    expired = coach_link_problem(found=True, revoked_at=None, expires_at=later, applied=False, now=later)
    assert expired is not None and expired.status == 410 and "expired on 07 December 2026" in expired.message
    applied = coach_link_problem(found=True, revoked_at=None, expires_at=later, applied=True, now=NOW)
    assert applied is not None and applied.status == 410 and "applied" in applied.message


def test_coach_days_and_comments_are_checked():
    assert coach_days("") == 14 and coach_days(" 7 ") == 7
    for bad in ("0", "61", "two", "-3", "1.5"):
        with pytest.raises(DraftRefused, match="from 1 to 60"):
            coach_days(bad)
    assert comment_text("  Good start.\r\nAdd timings.  ") == "Good start.\nAdd timings."
    for bad, why in (("   ", "Write a comment"), ("x" * 5001, "limit is 5,000"), ("a\x07b", "control")):
        with pytest.raises(DraftRefused, match=why):
            comment_text(bad)
