"""The plan's pure rules: which reminder is due on which day, and how target dates are checked."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from credflow.plans.rules import PlanRequirement, PlanTarget, check_plan, due_reminders, reminder_due, reminder_key

TARGET = date(2026, 12, 10)


def target(reminded_on: date | None = None, *, open_: bool = True, when: date = TARGET) -> PlanTarget:
    return PlanTarget("t1", "cred", "reflection", when, reminded_on=reminded_on, open=open_)


@pytest.mark.parametrize(
    ("days_before", "expected"),
    [(30, None), (8, None), (7, 7), (5, 7), (2, 7), (1, 1), (0, 1), (-1, None)],
)
def test_the_reminder_due_depends_on_the_days_left(days_before, expected):
    due = reminder_due(target(), TARGET - timedelta(days=days_before))
    assert (due.days_before if due else None) == expected
    if due:
        assert due.days_left == days_before


def test_each_reminder_goes_out_once_and_the_one_day_reminder_follows_the_seven_day_one():
    sent_on = TARGET - timedelta(days=7)
    for days in (7, 6, 3, 2):  # the 7-day reminder went out: nothing more until the eve
        assert reminder_due(target(sent_on), TARGET - timedelta(days=days)) is None
    eve = reminder_due(target(sent_on), TARGET - timedelta(days=1))
    assert eve is not None and eve.days_before == 1
    assert reminder_due(target(TARGET - timedelta(days=1)), TARGET) is None  # the eve's covers the day itself


def test_a_missed_seven_day_reminder_is_sent_late_but_never_after_the_eve_begins():
    late = reminder_due(target(), TARGET - timedelta(days=4))  # the sweep did not run for three days
    assert late is not None and late.days_before == 7
    eve = reminder_due(target(), TARGET - timedelta(days=1))
    assert eve is not None and eve.days_before == 1  # the nearer one only, not both


def test_closed_plans_and_past_targets_get_no_reminder():
    assert reminder_due(target(open_=False), TARGET - timedelta(days=1)) is None
    assert reminder_due(target(), TARGET + timedelta(days=1)) is None


def test_keys_differ_by_reminder_and_by_date_so_a_changed_date_is_reminded_again():
    keys = {reminder_key("t1", TARGET, 7), reminder_key("t1", TARGET, 1), reminder_key("t1", TARGET + timedelta(1), 7)}
    assert len(keys) == 3 and all(key.startswith("plan_reminder:t1:") for key in keys)


def test_due_reminders_lists_the_soonest_first():
    soon = PlanTarget("a", "cred", "plan", TARGET - timedelta(days=3))
    later = PlanTarget("b", "cred", "video", TARGET)
    far = PlanTarget("c", "cred", "essay", TARGET + timedelta(days=30))
    today = TARGET - timedelta(days=5)
    assert [r.target.id for r in due_reminders([later, far, soon], today)] == ["a", "b"]


REQUIREMENTS = [PlanRequirement("plan", "Facilitation plan"), PlanRequirement("video", "Discussion video")]
TODAY = date(2026, 11, 25)
ENDS = date(2029, 11, 23)


def check(**fields: str):
    return check_plan({f"target__{k}": v for k, v in fields.items()}, REQUIREMENTS, today=TODAY, access_ends=ENDS)


def test_valid_dates_are_read_and_an_empty_one_clears_its_target():
    checked = check(plan="2026-11-25", video="")
    assert checked.ok and checked.dates == {"plan": TODAY, "video": None}
    assert check(plan="2029-11-23").dates["plan"] == ENDS  # the access window's last day is allowed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-11-24", "is in the past: choose today (25 November 2026) or a later day."),
        ("2029-11-24", "is after your access ends on 23 November 2029"),
        ("20291124", "is not a date"),
        ("next week", "is not a date"),
        ("2026-02-30", "is not a date"),
    ],
)
def test_bad_dates_are_refused_naming_the_requirement_and_the_problem(value, message):
    checked = check(plan=value, video="2027-01-01")
    assert not checked.ok and list(checked.problems) == ["plan"]
    assert checked.problems["plan"].startswith("The target date for Facilitation plan")
    assert message in checked.problems["plan"]


def test_fields_of_unknown_requirements_are_ignored():
    assert check(plan="2027-01-01", nonsense="x").dates == {"plan": date(2027, 1, 1), "video": None}
