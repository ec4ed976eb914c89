"""Business days for deadlines and SLAs: weekends, the configured public holidays and each issuer's closures.

Every due date, reminder and business-day count in credflow goes through a :class:`BusinessCalendar`:
Monday to Friday, minus the public holidays of one country (and optionally one subdivision) from the
``holidays`` package, with observed days included (Independence Day on a Saturday is observed on the
Friday before), minus the closures an issuer declares in ``<catalog>/closures/<issuer>.yaml``.
A day is judged by its UTC date, as every stored instant is UTC.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

import holidays

DEFAULT_COUNTRY = "US"
_DAY = timedelta(days=1)
#: A business-day walk longer than this has met a calendar with no business days at all.
_MAX_CLOSED_RUN = 366


class CalendarError(ValueError):
    """A holiday region credflow cannot use (unknown country or subdivision)."""


def check_region(country: str, subdivision: str | None) -> None:
    """Fail with a message naming the problem when ``holidays`` knows no such country or subdivision."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CalendarError(f"unknown holidays country {country!r}; use an ISO 3166-1 alpha-2 code such as US or GB")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12]) + (", …" if len(supported[country]) > 12 else "")
        raise CalendarError(f"unknown subdivision {subdivision!r} of {country}; known: {known or 'none'}")


@cache
def _public_holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    # One table per region and process; it fills in years lazily as dates are looked up.
    return holidays.country_holidays(country, subdiv=subdivision, observed=True)


@dataclass(frozen=True, order=True)
class Closure:
    """Days an issuer is closed (inclusive), with the reason shown to operators."""

    first: date
    last: date
    reason: str

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls within the closure."""
        return self.first <= day <= self.last


@dataclass(frozen=True)
class BusinessCalendar:
    """Monday to Friday, minus public holidays of one region and an issuer's closures."""

    country: str | None = DEFAULT_COUNTRY  # None: weekends only
    subdivision: str | None = None
    closures: tuple[Closure, ...] = field(default=())

    def closed_because(self, day: date) -> str | None:
        """Why ``day`` is not a business day ("weekend", the holiday's or closure's name), or None when it is one."""
        if day.weekday() >= 5:
            return "weekend"
        if self.country is not None:
            name = _public_holidays(self.country, self.subdivision).get(day)
            if name:
                return str(name)
        for closure in self.closures:
            if closure.covers(day):
                return closure.reason
        return None

    def is_business_day(self, day: date) -> bool:
        """Whether work counts on ``day``."""
        return self.closed_because(day) is None

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` business days after ``start`` (before it when negative), time of day kept.

        Raises:
            CalendarError: the calendar has a year without a business day (closures cover everything).
        """
        current, step, remaining, closed_run = start, (1 if days >= 0 else -1), abs(days), 0
        while remaining:
            current += step * _DAY
            if self.is_business_day(current.date()):
                remaining, closed_run = remaining - 1, 0
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise CalendarError(f"no business day within a year of {start.date()}: check the closures")
        return current

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Whole business days from ``start`` to ``end`` (negative when ``end`` is earlier).

        Counts the business days among the dates after ``start``'s up to ``end``'s, where a day counts
        once its moment (``start``'s time of day on that date) is reached by ``end``.
        """
        if end < start:
            return -self.business_days_between(end, start)
        count, current = 0, start + _DAY
        while current <= end:
            if self.is_business_day(current.date()):
                count += 1
            current += _DAY
        return count


@dataclass(frozen=True)
class Calendars:
    """The business calendar of each issuer: the configured region plus that issuer's closures."""

    country: str | None = DEFAULT_COUNTRY
    subdivision: str | None = None
    closures: Mapping[str, tuple[Closure, ...]] = field(default_factory=dict)

    def for_issuer(self, issuer_id: str) -> BusinessCalendar:
        """The calendar an issuer's deadlines and SLAs are counted in (an issuer without closures gets the region's)."""
        return BusinessCalendar(self.country, self.subdivision, self.closures.get(issuer_id, ()))

    @property
    def region(self) -> BusinessCalendar:
        """The region's calendar without any issuer's closures (for counts not tied to one issuer)."""
        return BusinessCalendar(self.country, self.subdivision)


def anniversary(day: date, years: int = 1) -> date:
    """The same date ``years`` later; 29 February becomes 1 March in a year without one.

    1 March rather than 28 February: whatever lasts "a year" from a leap day then lasts a whole year,
    never a day less.
    """
    year = day.year + years
    if day.month == 2 and day.day == 29 and not _gregorian.isleap(year):
        return date(year, 3, 1)
    return day.replace(year=year)
