"""The reviewer workspace's pure rules: time left in business days, the queue's groups, calibration per credential."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from credflow.calendar import BusinessCalendar
from credflow.review.workspace import AssignmentFacts, calibration_status, group, short_day, time_left

US = BusinessCalendar("US")
MON = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 7 December 2026


def _facts(state: str = "active", **values: object) -> AssignmentFacts:
    base = AssignmentFacts(
        id="a",
        role="review",
        state=state,
        credential_id="udl-level-1",
        credential_title="UDL Level 1",
        applicant="Applicant ABC123",
        attempt=1,
        assigned_at=MON - timedelta(days=1),
        due_at=MON + timedelta(days=3),
        completed_at=None,
        scored=0,
        criteria=3,
        decline_reason=None,
        nonce="n" if state == "active" else None,
    )
    return replace(base, **values)  # type: ignore[arg-type]


def test_time_left_counts_business_days_in_words() -> None:
    assert time_left(MON + timedelta(days=1), now=MON, calendar=US).text == "due Tue 8 Dec, 1 business day left"
    assert time_left(MON + timedelta(days=3), now=MON, calendar=US).text == "due Thu 10 Dec, 3 business days left"
    # The weekend does not count: Monday 14 December at 08:00 is 4 business days from Monday 09:00.
    assert time_left(MON + timedelta(days=7, hours=-1), now=MON, calendar=US).text == (
        "due Mon 14 Dec, 4 business days left"
    )


def test_holidays_do_not_count_as_time_left() -> None:
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Thanksgiving is Thursday 26 November
    left = time_left(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), now=wednesday, calendar=US)
    assert left.text == "due Mon 30 Nov, 2 business days left"  # Friday and Monday
    assert time_left(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), now=wednesday, calendar=BusinessCalendar(None)).text == (
        "due Mon 30 Nov, 3 business days left"
    )


def test_the_last_day_and_overdue_are_marked() -> None:
    today = time_left(MON.replace(hour=17), now=MON, calendar=US)
    assert (today.text, today.soon, today.overdue) == ("due today at 17:00 UTC", True, False)
    friday = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    over_weekend = time_left(datetime(2026, 12, 14, 9, 0, tzinfo=UTC), now=friday, calendar=US)
    assert over_weekend.text == "due Mon 14 Dec, less than a business day left" and over_weekend.soon
    late = time_left(MON - timedelta(hours=2), now=MON, calendar=US)
    assert (late.text, late.overdue) == ("was due Mon 7 Dec at 07:00 UTC, overdue", True)
    assert not time_left(MON + timedelta(days=3), now=MON, calendar=US).soon


def test_a_date_in_another_year_shows_its_year() -> None:
    assert short_day(date(2027, 1, 4), today=date(2026, 12, 30)) == "Mon 4 Jan 2027"
    assert short_day(date(2026, 12, 31), today=date(2026, 12, 30)) == "Thu 31 Dec"


def test_assignments_are_grouped_into_queue_drafts_history_and_declines() -> None:
    later = _facts(id="later", due_at=MON + timedelta(days=5))
    sooner = _facts(id="sooner", due_at=MON + timedelta(days=1))
    draft = _facts(id="draft", scored=1)
    done_old = _facts("submitted", id="old", completed_at=MON - timedelta(days=9))
    done_new = _facts("submitted", id="new", completed_at=MON - timedelta(days=2))
    withdrawn = _facts("withdrawn", id="gone", completed_at=MON - timedelta(days=5))
    declined = _facts("declined", id="no", decline_reason="Conflict", completed_at=MON)
    groups = group([later, done_old, draft, sooner, withdrawn, declined, done_new])
    assert [a.id for a in groups.queue] == ["sooner", "later"]
    assert [a.id for a in groups.drafts] == ["draft"]
    assert [a.id for a in groups.history] == ["new", "gone", "old"]
    assert [a.id for a in groups.declines] == ["no"]
    assert not done_new.has_draft  # a closed assignment's scores are no draft


def test_calibration_status_says_when_it_lapses() -> None:
    status = calibration_status(
        credential_id="udl-level-1", title="UDL", calibrated_on=date(2026, 3, 11), today=date(2026, 12, 7), golds=2
    )
    assert status.calibrated and not status.soon
    assert status.text == "Calibrated on 11 March 2026; lapses on 11 March 2027."
    near = calibration_status(
        credential_id="c", title="C", calibrated_on=date(2025, 12, 20), today=date(2026, 12, 7), golds=0
    )
    assert near.soon and near.text.endswith("(in 13 days).")
    on_the_day = calibration_status(
        credential_id="c", title="C", calibrated_on=date(2025, 12, 7), today=date(2026, 12, 7), golds=0
    )
    assert not on_the_day.calibrated and on_the_day.text.startswith("Lapsed on 7 December 2026")
    leap = calibration_status(
        credential_id="c", title="C", calibrated_on=date(2028, 2, 29), today=date(2029, 2, 28), golds=0
    )
    assert leap.calibrated and leap.lapses_on == date(2029, 3, 1)
    never = calibration_status(credential_id="c", title="C", calibrated_on=None, today=date(2026, 12, 7), golds=1)
    assert not never.calibrated and never.lapses_on is None and never.text.startswith("Not calibrated")
