"""The back-read report's maths: decision vs back-read per criterion and per reviewer, drift, filters, small samples."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from credflow.leads.rules import BackreadCase, BackreadFilter, Tally, backread_report, time_left

CRITERIA = ("a", "b", "c", "d")


def case(
    n: int,
    *,
    decision: str = "mmmm",
    backread: str = "mmmm",
    originals: dict[str, str] | None = None,
    credential: str = "cred",
    decided_on: date = date(2026, 11, 2),
) -> BackreadCase:
    """A case from letter strings (m Met, n Not Yet, one per criterion a-d); originals: reviewer -> letters."""

    def verdicts(letters: str) -> dict[str, str]:
        return {c: {"m": "met", "n": "not_yet"}[x] for c, x in zip(CRITERIA, letters, strict=True) if x != "."}

    return BackreadCase(
        submission_id=f"s{n:02d}",
        credential_id=credential,
        decided_on=decided_on,
        decision=verdicts(decision),
        backread=verdicts(backread),
        originals={who: verdicts(letters) for who, letters in (originals or {}).items()},
        backreader="lead",
    )


def test_tally_kappa_matches_the_textbook_point_four():
    # Wikipedia's "Cohen's kappa": yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o 0.7, p_e 0.5, kappa 0.4.
    pairs = [(True, True)] * 20 + [(True, False)] * 5 + [(False, True)] * 10 + [(False, False)] * 15
    tally = Tally.of(pairs)
    assert (tally.units, tally.agreed, tally.share) == (50, 35, 0.7)
    assert tally.kappa == pytest.approx(0.4)
    assert Tally.of([(True, True)] * 3).kappa is None  # one and the same verdict: undefined
    assert Tally.of([(True, False), (True, False)]).kappa == 0.0
    assert Tally.of([]) == Tally(0, 0, None, None)


def test_per_criterion_and_overall_agreement_of_the_decision_with_the_back_read():
    cases = [
        case(1, decision="mmmm", backread="mmmm"),
        case(2, decision="mmmn", backread="mmmn"),
        case(3, decision="mmmm", backread="mmnm"),  # the back-read would have made it Not Yet
        case(4, decision="nmmm", backread="mmmm"),  # ... and this one earned
    ]
    report = backread_report(cases)
    assert report.decisions == 4
    assert (report.overall.units, report.overall.agreed) == (16, 14)
    assert report.outcomes_agreed == 2
    by = {c.criterion: c.tally for c in report.criteria}
    assert [(c.credential_id, c.criterion) for c in report.criteria] == [("cred", c) for c in CRITERIA]
    assert (by["a"].units, by["a"].agreed, by["b"].agreed, by["c"].agreed) == (4, 3, 4, 3)
    assert by["b"].kappa is None
    assert [(d.submission_id, d.criteria, d.outcome_changes) for d in report.disagreements] == [
        ("s04", ("a",), True),
        ("s03", ("c",), True),
    ]
    assert not any(c.drifting for c in report.criteria)  # 4 units: too few to flag


def test_a_reviewer_who_keeps_disagreeing_with_the_back_read_drifts_and_one_with_few_units_does_not():
    cases = [case(i, decision="mmmm", backread="mmmm", originals={"rosa": "mmmm", "kim": "nnmm"}) for i in range(3)] + [
        case(9, originals={"lee": "nnnn"})
    ]
    report = backread_report(cases)
    by = {r.reviewer_id: r for r in report.reviewers}
    assert [r.reviewer_id for r in report.reviewers] == ["kim", "lee", "rosa"]
    assert (by["kim"].decisions, by["kim"].tally.units, by["kim"].tally.agreed) == (3, 12, 6)
    assert by["kim"].drifting
    assert not by["lee"].drifting  # 0 of 4: far below, but only 4 units
    assert not by["rosa"].drifting and by["rosa"].tally.share == 1.0
    assert report.drifting_reviewers == ["kim"]
    assert backread_report(cases, min_units=4).drifting_reviewers == ["kim", "lee"]
    assert backread_report(cases, drift_threshold=0.5).drifting_reviewers == []


def test_an_adjudicators_verdicts_count_only_on_the_criteria_they_settled_and_blank_back_reads_are_skipped():
    report = backread_report([case(1, backread="mm.m", originals={"ola": "n..."})])
    assert report.overall.units == 3  # criterion c not back-read
    assert [(r.reviewer_id, r.tally.units, r.tally.agreed) for r in report.reviewers] == [("ola", 1, 0)]


def test_filters_by_credential_and_period_inclusive():
    cases = [
        case(1, credential="x", decided_on=date(2026, 10, 31)),
        case(2, credential="x", decided_on=date(2026, 11, 1)),
        case(3, credential="y", decided_on=date(2026, 11, 15)),
        case(4, credential="x", decided_on=date(2026, 11, 30)),
        case(5, credential="x", decided_on=date(2026, 12, 1)),
    ]
    november = BackreadFilter(start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert backread_report(cases, where=november).decisions == 3
    assert backread_report(cases, where=BackreadFilter(credential="x", start=date(2026, 11, 1))).decisions == 3
    assert backread_report(cases, where=BackreadFilter(credential="y")).decisions == 1
    assert backread_report(cases, where=BackreadFilter(credential="z")).overall.share is None


def test_an_empty_report_and_bad_settings():
    empty = backread_report([])
    assert (empty.decisions, empty.criteria, empty.reviewers, empty.disagreements) == (0, [], [], [])
    with pytest.raises(ValueError):
        backread_report([], drift_threshold=1.2)
    with pytest.raises(ValueError):
        backread_report([], min_units=0)


@pytest.mark.parametrize(
    ("due", "text"),
    [
        (datetime(2026, 11, 27, 13, 0, tzinfo=UTC), "2 days 4 hours left"),
        (datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "1 day left"),
        (datetime(2026, 11, 25, 14, 0, tzinfo=UTC), "5 hours left"),
        (datetime(2026, 11, 25, 9, 20, tzinfo=UTC), "20 minutes left"),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "overdue by 1 day"),
        (datetime(2026, 11, 25, 8, 0, tzinfo=UTC), "overdue by 1 hour"),
    ],
)
def test_time_left(due, text):
    assert time_left(due, datetime(2026, 11, 25, 9, 0, tzinfo=UTC)) == text
