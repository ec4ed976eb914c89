"""Agreement numbers in words: Landis & Koch's kappa bands, Krippendorff's alpha thresholds, small samples."""

from __future__ import annotations

import pytest

from credflow.reviewers.explain import (
    MIN_SAMPLE,
    explain_agreement,
    explain_alpha,
    explain_kappa,
    explain_percent,
    explain_share,
    too_few,
)
from credflow.reviewers.rules import Rating, agreement_report


@pytest.mark.parametrize(
    ("kappa", "words"),
    [
        (-0.1, "Less agreement than chance alone would give"),
        (0.0, "No agreement beyond chance: chance alone would give as much (Landis & Koch: slight, 0.00–0.20)."),
        (0.05, "Slight agreement beyond chance (Landis & Koch: 0.00–0.20)."),
        (0.2, "Slight agreement"),
        (0.21, "Fair agreement beyond chance (Landis & Koch: 0.21–0.40)."),
        (0.4, "Fair agreement"),
        (0.55, "Moderate agreement beyond chance (Landis & Koch: 0.41–0.60)."),
        (0.62, "Substantial agreement beyond chance (Landis & Koch: 0.61–0.80)."),
        (0.8, "Substantial agreement"),
        (0.81, "Almost perfect agreement beyond chance (Landis & Koch: 0.81–1.00)."),
        (1.0, "Almost perfect agreement"),
    ],
)
def test_kappa_follows_landis_and_koch(kappa, words):
    explained = explain_kappa(kappa, 24)
    assert explained.sentence.startswith(words)
    assert explained.value == f"{kappa:.2f}"
    assert explained.warning is None
    assert explained.text().endswith("(n=24)")


def test_a_kappa_on_three_units_is_explained_and_flagged_as_too_few():
    explained = explain_kappa(0.62, 3)
    assert explained.text() == (
        "0.62: Substantial agreement beyond chance (Landis & Koch: 0.61–0.80). (n=3) "
        "Too few to trust: n=3 (at least 10 units are needed before this number means much)."
    )
    assert explain_kappa(0.62, MIN_SAMPLE).warning is None
    assert explain_kappa(0.62, MIN_SAMPLE - 1).warning is not None
    assert explain_kappa(0.62, 12, min_units=20).warning == too_few(12, min_units=20)


def test_undefined_kappa_and_alpha_say_why():
    assert explain_kappa(None, 4).value == "n/a"
    assert "every verdict was the same" in explain_kappa(None, 4).sentence
    assert "Nothing to compare" in explain_kappa(None, 0).sentence
    assert explain_kappa(None, 0).warning is None  # nothing to trust or distrust
    assert "all Met or all Not Yet" in explain_alpha(None, 6).sentence
    assert "no submission was scored on this by two reviewers" in explain_alpha(None, 0).sentence


@pytest.mark.parametrize(
    ("alpha", "words"),
    [
        (0.95, "Reliable"),
        (0.8, "Reliable"),
        (0.799, "Good enough for tentative conclusions only"),
        (0.667, "Good enough for tentative conclusions only"),
        (0.666, "Unreliable"),
        (-0.2, "Unreliable"),
    ],
)
def test_alpha_follows_krippendorffs_thresholds(alpha, words):
    assert explain_alpha(alpha, 30).sentence.startswith(words)


def test_percent_agreement_counts_units_and_warns_about_chance():
    explained = explain_percent(0.85, 20)
    assert explained.value == "85%"
    assert explained.sentence.startswith("Agreed on 17 of 20.")
    assert "chance" in explained.sentence
    assert explain_percent(None, 0).value == "n/a"
    assert explain_percent(0.5, 4, agreed=2).warning is not None


def test_a_share_below_the_threshold_is_drift_only_with_enough_units():
    drifting = explain_share(0.5, 12, agreed=6, threshold=0.8, drifting=True, against="the back-read")
    assert drifting.sentence == (
        "Agreed with the back-read on 6 of 12: below the 80% expected, over enough units to take seriously (drifting)."
    )
    few = explain_share(0.5, 4, agreed=2, threshold=0.8, drifting=False)
    assert "too few units to call it drift" in few.sentence and few.warning is not None
    fine = explain_share(0.9, 10, agreed=9, threshold=0.8, drifting=False)
    assert "at or above the 80% expected" in fine.sentence and fine.warning is None


def test_the_cli_report_explains_every_number():
    ratings = [Rating(f"s{i}", "c", r, i % 2 == 0 or r == "A") for i in range(3) for r in ("A", "B")]
    report = agreement_report(ratings)
    lines = explain_agreement(report)
    assert lines[0].startswith("percent agreement, all criteria: 67%: Agreed on 2 of 3.")
    assert any(line.startswith("krippendorff alpha, c: ") and "Too few to trust: n=3" in line for line in lines)
    assert any(line.startswith("cohen kappa, A / B: 0.00: No agreement beyond chance") for line in lines)
    assert sum(line.startswith("reviewer agreement, ") for line in lines) == 2
    assert all("(n=" in line for line in lines)


def test_a_high_percent_beside_a_low_kappa_is_pointed_out():
    assert "Yet they agreed on 88%" in explain_kappa(0.0, 8, percent=0.875).sentence
    assert "Yet" not in explain_kappa(0.0, 8, percent=0.5).sentence
    assert "Yet" not in explain_kappa(0.7, 20, percent=0.9).sentence
