"""The review's pure rules: verdicts as people write them, and what a final review needs."""

from __future__ import annotations

import pytest

from credflow.catalog import load_catalog
from credflow.review.rules import ScoringError, Verdict, check_scores, parse_verdict
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("written", "verdict"),
    [
        ("met", Verdict.MET),
        ("Met", Verdict.MET),
        (" MET ", Verdict.MET),
        ("not_yet", Verdict.NOT_YET),
        ("Not Yet", Verdict.NOT_YET),
        ("not yet", Verdict.NOT_YET),
        ("not-yet", Verdict.NOT_YET),
        ("NOT_YET", Verdict.NOT_YET),
        ("Not  Yet", Verdict.NOT_YET),
        ("yes", None),
        ("notyet", None),
        ("", None),
    ],
)
def test_verdicts_are_read_in_any_case_and_with_spaces_or_hyphens(written, verdict) -> None:
    assert parse_verdict(written) == verdict


def test_scores_are_stored_in_the_canonical_words_and_others_refused() -> None:
    criteria = load_catalog(ROOT / "rubrics").get("openscied-anchoring-phenomenon").criteria
    keys = [c.key for c in criteria]
    written = ["Met", "Not Yet", "not-yet", "MET"]
    scores = {key: {"verdict": verdict, "comment": "add timings"} for key, verdict in zip(keys, written, strict=True)}
    clean = check_scores(criteria, scores, final=True)
    assert [clean[key]["verdict"] for key in keys] == ["met", "not_yet", "not_yet", "met"]
    with pytest.raises(ScoringError, match="the verdict must be Met or Not Yet, not 'maybe'"):
        check_scores(criteria, {keys[0]: {"verdict": "maybe"}}, final=False)
