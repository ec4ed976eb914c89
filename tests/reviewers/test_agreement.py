"""Inter-rater agreement and calibration: textbook values, undefined cases, drift, gold thresholds, properties."""

from __future__ import annotations

import math
import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credflow.reviewers.rules import (
    AgreementReport,
    CalibrationResult,
    Rating,
    ReviewerAgreement,
    agreement_report,
    alpha_by_criterion,
    calibrate,
    pair_agreement,
    percent_agreement,
    reviewer_agreement,
)

TODAY = date(2025, 3, 14)


def table(criterion: str, rows: dict[str, str]) -> list[Rating]:
    """Ratings from a reliability table: reviewer -> one character per submission (1 Met, 0 Not Yet, . none)."""
    return [
        Rating(f"s{j:02d}", criterion, reviewer, cell == "1")
        for reviewer, cells in rows.items()
        for j, cell in enumerate(cells.split())
        if cell != "."
    ]


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section A: binary data,
# two observers, no missing data; alpha = 1 - (n - 1) * o01 / (n0 * n1) = 1 - 19 * 4 / (14 * 6) = 2/21.
KRIPPENDORFF_BINARY = table("c", {"A": "0 1 0 0 0 0 0 0 1 0", "B": "1 1 1 0 0 1 0 0 0 0"})


def test_krippendorff_binary_example_alpha_kappa_and_percent():
    assert alpha_by_criterion(KRIPPENDORFF_BINARY) == {"c": pytest.approx(2 / 21)}
    assert round(alpha_by_criterion(KRIPPENDORFF_BINARY)["c"] or 0.0, 3) == 0.095
    # Same 2x10 table: p_o = 6/10, p_e = 0.2 * 0.4 + 0.8 * 0.6 = 0.56, kappa = 0.04 / 0.44 = 1/11.
    [pair] = pair_agreement(KRIPPENDORFF_BINARY)
    assert (pair.reviewer_a, pair.reviewer_b, pair.units) == ("A", "B", 10)
    assert pair.percent == pytest.approx(0.6)
    assert pair.kappa == pytest.approx(1 / 11)
    assert percent_agreement(KRIPPENDORFF_BINARY) == pytest.approx(0.6)


def test_textbook_kappa_of_point_four():
    # The 2x2 table of Wikipedia's "Cohen's kappa": yes/yes 20, yes/no 5, no/yes 10, no/no 15 out of 50.
    # p_o = 35/50 = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.2 / 0.5 = 0.4.
    cells = [(True, True)] * 20 + [(True, False)] * 5 + [(False, True)] * 10 + [(False, False)] * 15
    ratings = [Rating(f"s{i}", "c", "A", a) for i, (a, _) in enumerate(cells)]
    ratings += [Rating(f"s{i}", "c", "B", b) for i, (_, b) in enumerate(cells)]
    [pair] = pair_agreement(ratings)
    assert (pair.reviewer_a, pair.reviewer_b, pair.units) == ("A", "B", 50)
    assert pair.percent == pytest.approx(0.7)
    assert pair.kappa == pytest.approx(0.4)


def test_alpha_with_three_reviewers_and_missing_scores():
    # s00: 1 1 0 (m = 3, pairs weighted 1/2), s01: 0 0, s02: 1 1, s03: a single unpairable score.
    # o11 = 1 + 2 = 3, o01 = o10 = 1, o00 = 2; n1 = 4, n0 = 3, n = 7: alpha = 1 - 6 * 1 / 12 = 0.5.
    ratings = table("c", {"r1": "1 0 . 1", "r2": "1 0 1 .", "r3": "0 . 1 ."})
    assert alpha_by_criterion(ratings) == {"c": pytest.approx(0.5)}
    assert percent_agreement(ratings) == pytest.approx(2 / 3)
    pairs = {(p.reviewer_a, p.reviewer_b): (p.units, p.percent) for p in pair_agreement(ratings)}
    assert pairs == {("r1", "r2"): (2, 1.0), ("r1", "r3"): (1, 0.0), ("r2", "r3"): (2, 0.5)}


def test_alpha_is_computed_per_criterion():
    ratings = KRIPPENDORFF_BINARY + table("d", {"A": "1 0 1 0", "B": "1 0 1 0"}) + table("e", {"A": "1 1", "B": "1 1"})
    assert alpha_by_criterion(ratings) == {"c": pytest.approx(2 / 21), "d": 1.0, "e": None}


def test_perfect_agreement_gives_kappa_one_and_alpha_one():
    ratings = table("c", {"A": "1 0 1 1 0", "B": "1 0 1 1 0"}) + table("d", {"A": "0 1", "B": "0 1"})
    [pair] = pair_agreement(ratings)
    assert (pair.units, pair.percent) == (7, 1.0)
    assert pair.kappa == pytest.approx(1.0)
    assert alpha_by_criterion(ratings) == {"c": pytest.approx(1.0), "d": pytest.approx(1.0)}
    assert percent_agreement(ratings) == 1.0


def test_kappa_is_none_when_both_reviewers_give_the_same_single_score():
    [pair] = pair_agreement(table("c", {"A": "1 1 1", "B": "1 1 1"}))
    assert (pair.percent, pair.kappa) == (1.0, None)
    [single] = pair_agreement(table("c", {"A": "0", "B": "0"}))
    assert (single.units, single.kappa) == (1, None)


def test_opposite_constant_reviewers_have_kappa_zero_and_percent_zero():
    [pair] = pair_agreement(table("c", {"A": "1 1 1", "B": "0 0 0"}))
    assert (pair.percent, pair.kappa) == (0.0, 0.0)


def test_alpha_is_none_without_variation_or_without_pairable_scores():
    assert alpha_by_criterion(table("c", {"A": "1 1 1", "B": "1 1 1"})) == {"c": None}
    # Every submission scored by one reviewer only: nothing to pair.
    assert alpha_by_criterion(table("c", {"A": "1 . 0", "B": ". 0 ."})) == {"c": None}
    # The only Not Yet is unpaired, so the pairable scores do not vary.
    assert alpha_by_criterion(table("c", {"A": "1 1 0", "B": "1 1 ."})) == {"c": None}
    assert alpha_by_criterion([]) == {}


def test_percent_agreement_is_none_without_co_scored_units():
    assert percent_agreement([]) is None
    assert percent_agreement(table("c", {"A": "1 . 0", "B": ". 0 ."})) is None


def test_pairs_are_sorted_and_only_co_scoring_pairs_appear():
    ratings = table("c", {"zoe": "1 0 . .", "amy": "1 1 . .", "kim": ". . 1 0", "bob": ". . 1 0"})
    assert [(p.reviewer_a, p.reviewer_b) for p in pair_agreement(reversed(ratings))] == [("amy", "zoe"), ("bob", "kim")]
    assert pair_agreement([]) == []


def test_duplicate_scores_count_once_and_conflicting_ones_are_refused():
    ratings = table("c", {"A": "1 0", "B": "1 1"})
    assert pair_agreement(ratings + ratings[:1]) == pair_agreement(ratings)
    with pytest.raises(ValueError, match="both Met and Not Yet"):
        percent_agreement([*ratings, Rating("s00", "c", "A", False)])


def _drift_ratings() -> list[Rating]:
    """A, B and C agree on everything; D, paired with each of them, scores every unit the other way."""
    ratings = []
    pairs = [("A", "B")] * 3 + [("A", "C")] * 3 + [("B", "C")] * 3 + [("A", "D"), ("B", "D"), ("C", "D")]
    for i, (first, second) in enumerate(pairs):
        for criterion, met in (("c1", i % 2 == 0), ("c2", i % 3 == 0)):
            ratings.append(Rating(f"s{i:02d}", criterion, first, met))
            ratings.append(Rating(f"s{i:02d}", criterion, second, met if second != "D" else not met))
    return ratings


def test_drift_flags_the_reviewer_who_disagrees_systematically():
    report = agreement_report(_drift_ratings())
    shares = {r.reviewer_id: (r.units, r.agreed) for r in report.reviewers}
    assert shares == {"A": (14, 12), "B": (14, 12), "C": (14, 12), "D": (6, 0)}
    assert report.drifting == ["D"]
    assert report.units == 24
    assert report.percent == pytest.approx(18 / 24)
    # Too few units to judge: D scored only 6.
    assert agreement_report(_drift_ratings(), min_units=7).drifting == []
    assert agreement_report(_drift_ratings(), drift_threshold=0.9).drifting == ["A", "B", "C", "D"]


def test_reviewer_agreement_follows_the_majority_of_the_others_and_skips_ties():
    # s00: A and B say Met, C says Not Yet; s01: everyone agrees.
    result = reviewer_agreement([*table("c", {"A": "1 0", "B": "1 0", "C": "0 0"}), Rating("s02", "c", "E", True)])
    assert result == [
        ReviewerAgreement("A", 1, 1, 1.0),  # s00 skipped: B and C split
        ReviewerAgreement("B", 1, 1, 1.0),
        ReviewerAgreement("C", 2, 1, 0.5),
        ReviewerAgreement("E", 0, 0, None),  # scored alone
    ]


def test_report_rows_and_text_table():
    report = agreement_report(_drift_ratings() + table("solo", {"A": "1"}))
    rows = report.to_rows()
    assert all(len(row) == len(AgreementReport.COLUMNS) for row in rows)
    assert rows[0] == ("percent agreement", "all criteria", "24", "75.0%", "")
    assert ("krippendorff alpha", "solo", "0", "n/a", "no unit scored by 2+ reviewers") in rows
    assert ("reviewer agreement", "D", "6", "0.0%", "DRIFTING") in rows
    assert ("reviewer agreement", "A", "14", "85.7%", "") in rows
    assert [row[1] for row in rows if row[0] == "cohen kappa"] == ["A / B", "A / C", "A / D", "B / C", "B / D", "C / D"]
    text = report.render_text()
    lines = text.splitlines()
    assert lines[0].split() == list(AgreementReport.COLUMNS)
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[-1] == "drifting (agreement < 70.0% over >= 5 units): D"
    empty = agreement_report([])
    assert (empty.percent, empty.pairs, empty.alpha, empty.drifting) == (None, [], {}, [])
    assert empty.render_text().endswith("units): none")


@pytest.mark.parametrize("kwargs", [{"drift_threshold": 1.5}, {"drift_threshold": -0.1}, {"min_units": 0}])
def test_report_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        agreement_report([], **kwargs)


GOLD = {f"g{i:02d}": {f"c{k}": (i + k) % 2 == 0 for k in range(5)} for i in range(20)}  # 100 gold criteria
GOLD_UNITS = sorted((s, c) for s, criteria in GOLD.items() for c in criteria)


def _scores(agree: int, *, score: int = 100, reviewer: str = "rev") -> list[Rating]:
    """The reviewer scores the first ``score`` gold criteria, agreeing with gold on the first ``agree``."""
    return [
        Rating(s, c, reviewer, GOLD[s][c] if n < agree else not GOLD[s][c])
        for n, (s, c) in enumerate(GOLD_UNITS[:score])
    ]


def test_calibration_at_exactly_eighty_percent_passes():
    assert calibrate(_scores(80), GOLD, today=TODAY) == CalibrationResult("rev", 100, 80, 0.8, True, TODAY, [])
    small = {"g": {"a": True, "b": True, "c": False, "d": False, "e": True}}
    four_of_five = [Rating("g", c, "rev", met) for c, met in small["g"].items()]
    four_of_five[0] = Rating("g", "a", "rev", False)
    assert calibrate(four_of_five, small, today=TODAY).calibrated_on == TODAY


def test_calibration_at_seventy_nine_percent_fails():
    result = calibrate(_scores(79), GOLD, today=TODAY)
    assert (result.agreed, result.share, result.calibrated, result.calibrated_on) == (79, 0.79, False, None)


def test_missing_gold_criteria_count_as_disagreement():
    result = calibrate(_scores(79, score=79), GOLD, today=TODAY)
    assert (result.criteria_scored, result.agreed, result.share, result.calibrated) == (79, 79, 0.79, False)
    assert result.missing == GOLD_UNITS[79:]
    nothing = calibrate([], GOLD, today=TODAY, reviewer_id="rev")
    assert (nothing.criteria_scored, nothing.share, nothing.calibrated, len(nothing.missing)) == (0, 0.0, False, 100)


def test_calibration_ignores_non_gold_ratings_and_honours_the_threshold():
    extra = [Rating("live-1", "c0", "rev", True), Rating("g00", "not-a-gold-criterion", "rev", True)]
    result = calibrate(_scores(90) + extra, GOLD, today=TODAY, threshold=0.9)
    assert (result.criteria_scored, result.agreed, result.calibrated) == (100, 90, True)
    assert not calibrate(_scores(89), GOLD, today=TODAY, threshold=0.9).calibrated


@pytest.mark.parametrize(
    ("ratings", "gold", "kwargs", "message"),
    [
        (_scores(80), {}, {}, "no scored criterion"),
        (_scores(80), {"g00": {}}, {}, "no scored criterion"),
        (_scores(80), GOLD, {"threshold": 0.0}, "threshold"),
        (_scores(80), GOLD, {"threshold": 1.2}, "threshold"),
        ([], GOLD, {}, "exactly one reviewer, found: none"),
        (_scores(80) + _scores(80, reviewer="other"), GOLD, {}, "found: other, rev"),
        (_scores(80), GOLD, {"reviewer_id": "someone-else"}, "found: rev, someone-else"),
    ],
)
def test_calibration_refuses_inputs_it_cannot_judge(ratings, gold, kwargs, message):
    with pytest.raises(ValueError, match=message):
        calibrate(ratings, gold, today=TODAY, **kwargs)


REVIEWERS = [f"r{i}" for i in range(4)]
rating_sets = st.dictionaries(
    keys=st.tuples(st.integers(0, 5), st.sampled_from(["c1", "c2"]), st.sampled_from(REVIEWERS)),
    values=st.booleans(),
    max_size=40,
).map(lambda scores: [Rating(f"s{s}", c, r, met) for (s, c, r), met in scores.items()])


def _relabel(ratings: list[Rating], order: list[str]) -> list[Rating]:
    mapping = dict(zip(REVIEWERS, order, strict=True))
    return [Rating(r.submission_id, r.criterion, mapping[r.reviewer_id], r.met) for r in ratings]


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-12))


@settings(max_examples=60, deadline=None)
@given(rating_sets, st.permutations(REVIEWERS), st.randoms(use_true_random=False))
def test_percent_agreement_is_a_share_and_ignores_reviewer_order(ratings, order, rnd: random.Random):
    percent = percent_agreement(ratings)
    assert percent is None or 0.0 <= percent <= 1.0
    shuffled = _relabel(ratings, order)
    rnd.shuffle(shuffled)
    assert percent_agreement(shuffled) == percent
    # Pair statistics do not depend on which reviewer of the pair comes first.
    mapping = dict(zip(REVIEWERS, order, strict=True))
    before = {frozenset((mapping[p.reviewer_a], mapping[p.reviewer_b])): p for p in pair_agreement(ratings)}
    after = {frozenset((p.reviewer_a, p.reviewer_b)): p for p in pair_agreement(shuffled)}
    assert before.keys() == after.keys()
    for key, pair in before.items():
        assert 0.0 <= pair.percent <= 1.0
        assert (after[key].units, after[key].percent) == (pair.units, pair.percent)
        assert _same(after[key].kappa, pair.kappa)


@settings(max_examples=100, deadline=None)
@given(rating_sets, st.permutations(REVIEWERS))
def test_alpha_is_invariant_to_relabelling_reviewers(ratings, order):
    before = alpha_by_criterion(ratings)
    after = alpha_by_criterion(_relabel(ratings, order))
    assert before.keys() == after.keys()
    assert all(_same(before[c], after[c]) for c in before)
    assert all(a is None or -1.0 <= a <= 1.0 for a in before.values())
