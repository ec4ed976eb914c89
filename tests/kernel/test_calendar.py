"""Business days: US holidays (observed days too), a subdivision's, an issuer's closures from YAML, anniversaries."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from credflow.calendar import BusinessCalendar, CalendarError, Calendars, Closure, anniversary
from credflow.catalog.loader import check_catalog
from credflow.errors import ConfigurationError
from credflow.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
US = BusinessCalendar("US")
WEEKENDS_ONLY = BusinessCalendar(None)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("assigned", "due", "weekends_only", "holiday"),
    [
        # Monday before Thanksgiving (Thursday 26 November 2026): due Tuesday 1 December, not Monday 30.
        pytest.param(at(2026, 11, 23), at(2026, 12, 1), at(2026, 11, 30), date(2026, 11, 26), id="thanksgiving"),
        # Christmas on a Friday: due Tuesday 29 December, not Monday 28.
        pytest.param(at(2026, 12, 21), at(2026, 12, 29), at(2026, 12, 28), date(2026, 12, 25), id="christmas"),
        # 4 July 2026 is a Saturday, observed on Friday 3 July: due Tuesday 7 July, not Monday 6.
        pytest.param(at(2026, 6, 29), at(2026, 7, 7), at(2026, 7, 6), date(2026, 7, 3), id="3-july-observed"),
        # Martin Luther King Jr. Day, Monday 19 January 2026: due Thursday 22, not Wednesday 21.
        pytest.param(at(2026, 1, 14), at(2026, 1, 22), at(2026, 1, 21), date(2026, 1, 19), id="mlk-day"),
    ],
)
def test_a_review_due_across_a_holiday_falls_a_business_day_later(assigned, due, weekends_only, holiday):
    assert US.add_business_days(assigned, 5) == due
    assert WEEKENDS_ONLY.add_business_days(assigned, 5) == weekends_only
    assert not US.is_business_day(holiday) and WEEKENDS_ONLY.is_business_day(holiday)
    assert US.business_days_between(assigned, due) == 5
    assert US.add_business_days(due, -5) == assigned


def test_the_reason_a_day_is_closed_is_named():
    assert US.closed_because(date(2026, 7, 3)) == "Independence Day (observed)"
    assert US.closed_because(date(2026, 1, 19)) == "Martin Luther King Jr. Day"
    assert US.closed_because(date(2026, 11, 28)) == "weekend"
    assert US.closed_because(date(2026, 11, 27)) is None  # the day after Thanksgiving is no federal holiday


def test_a_subdivision_adds_its_own_holidays():
    california = BusinessCalendar("US", "CA")
    assert california.closed_because(date(2026, 11, 27)) == "Day After Thanksgiving"
    assert california.add_business_days(at(2026, 11, 23), 5) == at(2026, 12, 2)


def test_counts_keep_the_time_of_day_and_are_negative_backwards():
    start = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    assert US.add_business_days(start, 1) == datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    assert US.business_days_between(start, datetime(2026, 11, 27, 17, 29, tzinfo=UTC)) == 0
    assert US.business_days_between(at(2026, 12, 1), at(2026, 11, 23)) == -5
    assert US.add_business_days(start, 0) == start


def test_an_issuers_closures_count_for_that_issuer_only():
    closures = (Closure(date(2026, 12, 28), date(2026, 12, 31), "Winter break"),)
    calendars = Calendars("US", None, {"openscied": closures})
    openscied, other = calendars.for_issuer("openscied"), calendars.for_issuer("digital-promise")
    assert openscied.closed_because(date(2026, 12, 30)) == "Winter break"
    # 22, 23, 24; Christmas Friday 25, the break 28-31, New Year's Day Friday 1; 4, 5: due Tuesday 5 January 2027.
    assert openscied.add_business_days(at(2026, 12, 21), 5) == at(2027, 1, 5)
    assert other.add_business_days(at(2026, 12, 21), 5) == at(2026, 12, 29)
    assert calendars.region == BusinessCalendar("US")


def test_a_calendar_with_no_business_day_fails_instead_of_looping():
    closed = BusinessCalendar("US", None, (Closure(date(2026, 1, 1), date(2030, 1, 1), "closed"),))
    with pytest.raises(CalendarError, match="no business day within a year"):
        closed.add_business_days(at(2026, 3, 2), 1)


def test_the_shipped_closures_file_is_read_with_the_catalog():
    catalog, problems = check_catalog(ROOT / "rubrics")
    assert problems == []
    calendars = Calendars("US", None, catalog.closures)
    openscied = calendars.for_issuer("openscied")
    assert openscied.closed_because(date(2027, 11, 26)) == "Day after Thanksgiving (office closed)"
    assert openscied.closed_because(date(2027, 7, 28)) == "Summer facilitator institute (the review team is away)"
    # Friday 23 July 2027 + 1 business day: Monday 26 for everyone else, Monday 2 August for OpenSciEd.
    assert openscied.add_business_days(at(2027, 7, 23), 1) == at(2027, 8, 2)
    assert calendars.for_issuer("cast-learning-designed").add_business_days(at(2027, 7, 23), 1) == at(2027, 7, 26)


def test_services_count_each_credential_in_its_issuers_calendar(services):
    openscied = services.calendar_for("openscied-anchoring-phenomenon")
    assert openscied.add_business_days(at(2027, 11, 22), 5) == at(2027, 12, 1)  # Thanksgiving and the day after
    assert services.calendar_for("udl-level-1").add_business_days(at(2027, 11, 22), 5) == at(2027, 11, 30)


def test_the_region_comes_from_the_settings(make_settings):
    from credflow.services import build_services

    settings = make_settings(holidays_country="gb", holidays_subdivision="SCT")
    assert (settings.holidays_country, settings.holidays_subdivision) == ("GB", "SCT")
    services = build_services(settings)
    try:
        calendar = services.calendar_for("udl-level-1")
        assert calendar.is_business_day(date(2026, 11, 26))  # no Thanksgiving in Scotland
        assert calendar.closed_because(date(2026, 11, 30)) == "Saint Andrew's Day"
    finally:
        services.close()
    assert make_settings(holidays_country="none").holidays_country is None


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"holidays_country": "XX"}, "unknown holidays country 'XX'"),
        ({"holidays_subdivision": "ZZ"}, "unknown subdivision 'ZZ' of US"),
        ({"holidays_country": "none", "holidays_subdivision": "CA"}, "SUBDIVISION needs CREDFLOW_HOLIDAYS_COUNTRY"),
    ],
)
def test_an_unknown_region_fails_at_start_naming_the_setting(values, problem):
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(**values)


def _catalog_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    for path in (ROOT / "rubrics").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "closures").mkdir()
    for name, text in files.items():
        (folder / "closures" / name).write_text(text)
    return folder


def test_bad_closures_are_reported_by_file_and_field(tmp_path):
    folder = _catalog_with(
        tmp_path,
        {
            "openscied.yaml": """
closures:
  - {from: 2026-12-31, to: 2026-12-28, reason: Winter break}
  - {date: 2026-12-24}
  - {date: 2026-12-24, from: 2026-12-24, to: 2026-12-25, reason: Both}
  - {from: 2026-12-24, reason: No end}
""",
            "nobody.yaml": "closures: []\n",
            "digital-promise.yaml": "closures: [\n",
        },
    )
    _, problems = check_catalog(folder)
    messages = " | ".join(str(p) for p in problems)
    assert "nobody.yaml: (file): names no issuer of the catalog; known: cast-learning-designed" in messages
    assert "closures[0]" in messages and "to (2026-12-28) is before from (2026-12-31)" in messages
    assert "closures[1].reason" in messages
    assert "give either date, or from and to, not both" in messages
    assert "give a date, or both from and to" in messages
    assert any(p.file.name == "digital-promise.yaml" for p in problems)


def test_calibration_style_anniversaries():
    assert anniversary(date(2027, 3, 11)) == date(2028, 3, 11)  # across 29 February 2028: not 365 days
    assert anniversary(date(2028, 2, 29)) == date(2029, 3, 1)  # a whole year, never a day less
    assert anniversary(date(2028, 2, 29), 4) == date(2032, 2, 29)
