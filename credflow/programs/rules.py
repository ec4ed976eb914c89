"""The program admin workspace's pure rules: program titles, hours filters and totals, badges held, confirmations.

No database, no services: the stage (:mod:`.stage`) reads the rows and these functions say what they mean.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from credflow.accounts.rules import EMAIL
from credflow.catalog.models import Credential
from credflow.formatting import long_date
from credflow.issuance.hours import HoursRecord
from credflow.issuance.rules import Pathway
from credflow.reports.rules import ReportScope

#: A pathway badge is "expiring soon" this many days before its end (Credly reminds 60 days before).
EXPIRING_SOON = timedelta(days=60)
#: Longest text accepted in a filter field (an organisation name is at most 200 characters).
MAX_FIELD = 200


def organisation_key(name: str) -> str:
    """An organisation name as compared: spacing and case do not matter (as in the report's scope)."""
    return " ".join(name.split()).casefold()


def program_titles(credentials: Mapping[str, Credential], pathways: Mapping[str, Pathway]) -> dict[str, str]:
    """Each program's title: the catalog's ``program_title``, else its pathway's title, else its id.

    Args:
        credentials: The catalog's micro-credentials by id.
        pathways: The pathways by id (a pathway's id may be its program's).

    Returns:
        Program id -> title, for every program of the catalog.
    """
    titles: dict[str, str] = {}
    for credential in sorted(credentials.values(), key=lambda c: c.id):
        if credential.program_title and credential.program not in titles:
            titles[credential.program] = credential.program_title
    for credential in credentials.values():
        if credential.program not in titles:
            pathway = pathways.get(credential.program)
            titles[credential.program] = pathway.title if pathway is not None else credential.program
    return titles


@dataclass(frozen=True)
class HoursLine:
    """One earned micro-credential's hours with whose they are and the program they count in."""

    applicant_id: str
    program: str
    record: HoursRecord


@dataclass(frozen=True)
class HoursQuery:
    """The hours page's filters: an organisation, a period (both ends included) and a micro-credential."""

    organisation: str | None = None
    start: date | None = None
    end: date | None = None
    credential: str | None = None

    def matches(self, line: HoursLine) -> bool:
        """Whether a line passes every filter that is set."""
        record = line.record
        if self.organisation is not None and organisation_key(record.organisation) != organisation_key(
            self.organisation
        ):
            return False
        if self.start is not None and record.earned_on < self.start:
            return False
        if self.end is not None and record.earned_on > self.end:
            return False
        return self.credential is None or record.credential_id == self.credential

    def params(self) -> dict[str, str]:
        """The filters as query parameters (for the download links), only those set."""
        found = {
            "organisation": self.organisation or "",
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "credential": self.credential or "",
        }
        return {key: value for key, value in found.items() if value}

    def describe(self, titles: Mapping[str, str]) -> str:
        """The filters in words ("all organisations, 1 September 2026 to 30 June 2027, every micro-credential")."""
        organisation = self.organisation or "all organisations"
        if self.start and self.end:
            period = f"{long_date(self.start)} to {long_date(self.end)}"
        elif self.start:
            period = f"from {long_date(self.start)}"
        elif self.end:
            period = f"up to {long_date(self.end)}"
        else:
            period = "any date"
        credential = titles.get(self.credential, self.credential) if self.credential else "every micro-credential"
        return f"{organisation}, {period}, {credential}"


class OutOfScope(Exception):
    """A filter names an organisation the asker may not see; the message says which (never its data)."""


@dataclass(frozen=True)
class ParsedQuery:
    """A hours query read from a request: the query, and each field's problem (empty when all is well)."""

    query: HoursQuery
    problems: dict[str, str] = field(default_factory=dict)


def parse_date(text: str, *, label: str) -> tuple[date | None, str | None]:
    """A ``YYYY-MM-DD`` date (blank: none), or the sentence saying what is wrong with it.

    Args:
        text: What was typed.
        label: The field's name in the sentence ("The start date").

    Returns:
        The date or None, and the problem or None.
    """
    text = text.strip()
    if not text:
        return None, None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text), None
    except ValueError:
        return None, f"{label} must be a date like 2026-09-01 (year, month, day)."


def parse_hours_query(
    params: Mapping[str, str],
    *,
    organisations: Collection[str] | None,
    credentials: Mapping[str, str],
) -> ParsedQuery:
    """Read the hours filters from query parameters ``organisation``, ``from``, ``to`` and ``credential``.

    Args:
        params: The request's query parameters.
        organisations: The organisations the asker may see, or None for any (an operator).
        credentials: The micro-credentials the asker may filter by (id -> title).

    Returns:
        The query and the problems of the fields that cannot be read (dates, an unknown micro-credential).

    Raises:
        OutOfScope: the organisation is not one the asker may see.
    """
    problems: dict[str, str] = {}
    organisation = " ".join(params.get("organisation", "")[:MAX_FIELD].split()) or None
    if organisation is not None and organisations is not None:
        known = {organisation_key(name): name for name in organisations}
        if organisation_key(organisation) not in known:
            raise OutOfScope(f"{organisation!r} is not one of the organisations you look after.")
        organisation = known[organisation_key(organisation)]
    start, problem = parse_date(params.get("from", "")[:MAX_FIELD], label="The start date")
    if problem:
        problems["from"] = problem
    end, problem = parse_date(params.get("to", "")[:MAX_FIELD], label="The end date")
    if problem:
        problems["to"] = problem
    if start and end and start > end:
        problems["to"] = "The end date must be on or after the start date."
    credential = params.get("credential", "").strip()[:MAX_FIELD] or None
    if credential is not None and credential not in credentials:
        problems["credential"] = "Choose one of the micro-credentials of your programs."
        credential = None
    return ParsedQuery(HoursQuery(organisation=organisation, start=start, end=end, credential=credential), problems)


@dataclass(frozen=True)
class EducatorHours:
    """One educator's hours in a listing: how many micro-credentials and hours."""

    applicant_id: str
    name: str
    email: str
    organisation: str
    credentials: int
    hours: float


@dataclass(frozen=True)
class HoursTotals:
    """The totals of a hours listing: lines, hours, and per educator."""

    lines: int
    hours: float
    educators: tuple[EducatorHours, ...]


def hours_totals(lines: Iterable[HoursLine]) -> HoursTotals:
    """Add up a listing's hours, in all and per educator (educators by organisation, then name).

    Args:
        lines: The listing's lines.

    Returns:
        The totals.
    """
    per: dict[str, list[HoursLine]] = {}
    for line in lines:
        per.setdefault(line.applicant_id, []).append(line)
    educators = tuple(
        sorted(
            (
                EducatorHours(
                    applicant_id=applicant_id,
                    name=found[0].record.applicant_name,
                    email=found[0].record.applicant_email,
                    organisation=found[0].record.organisation,
                    credentials=len(found),
                    hours=sum(line.record.hours for line in found),
                )
                for applicant_id, found in per.items()
            ),
            key=lambda e: (e.organisation.casefold(), e.name.casefold(), e.email),
        )
    )
    return HoursTotals(
        lines=sum(e.credentials for e in educators), hours=sum(e.hours for e in educators), educators=educators
    )


def hours_text(hours: float) -> str:
    """Hours as people read them: "3 hours", "1 hour", "1.5 hours"."""
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


class BadgeStanding(StrEnum):
    """Where a pathway badge held stands today."""

    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    PERMANENT = "permanent"

    @property
    def label(self) -> str:
        """The standing in words."""
        return STANDING_LABELS[self]


STANDING_LABELS: dict[BadgeStanding, str] = {
    BadgeStanding.VALID: "Valid",
    BadgeStanding.EXPIRING: "Expires soon",
    BadgeStanding.EXPIRED: "Expired",
    BadgeStanding.PERMANENT: "Never expires",
}


def badge_standing(valid_until: datetime | None, *, now: datetime) -> BadgeStanding:
    """A badge's standing at ``now``: never expiring, expired, expiring within 60 days, or valid."""
    if valid_until is None:
        return BadgeStanding.PERMANENT
    if valid_until <= now:
        return BadgeStanding.EXPIRED
    if valid_until - now <= EXPIRING_SOON:
        return BadgeStanding.EXPIRING
    return BadgeStanding.VALID


@dataclass(frozen=True)
class HeldBadge:
    """A pathway badge an educator holds (its latest credential), with its expiry and standing."""

    applicant_id: str
    educator: str
    organisation: str
    program: str
    badge_id: str
    name: str
    valid_from: date
    valid_until: date | None  # the first day it is no longer valid
    standing: BadgeStanding


def overdue(*, business_days: int, target: int) -> bool:
    """Whether undecided work has waited longer than its decision target (both in business days)."""
    return business_days > target


# -- the director's confirmation -------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationLine:
    """One micro-credential a confirmation lists: its title, the day it was earned, its hours and code."""

    credential_id: str
    credential_title: str
    earned_on: date
    hours: float
    code: str


@dataclass(frozen=True)
class ConfirmationContent:
    """What a confirmation of hours says, as sent: whose hours, the period, each line, to whom and by whom."""

    educator_name: str
    educator_email: str
    organisation: str
    start: date
    end: date
    lines: tuple[ConfirmationLine, ...]
    director_name: str
    director_email: str
    sent_by: str
    sent_at: datetime

    @property
    def total_hours(self) -> float:
        """The hours of every line."""
        return sum(line.hours for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        """The content as JSON values (dates as ISO strings), as it is stored."""
        return {
            "educator_name": self.educator_name,
            "educator_email": self.educator_email,
            "organisation": self.organisation,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "lines": [
                {
                    "credential_id": line.credential_id,
                    "credential_title": line.credential_title,
                    "earned_on": line.earned_on.isoformat(),
                    "hours": line.hours,
                    "code": line.code,
                }
                for line in self.lines
            ],
            "director_name": self.director_name,
            "director_email": self.director_email,
            "sent_by": self.sent_by,
            "sent_at": self.sent_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfirmationContent:
        """The content from its stored JSON (see :meth:`to_json`).

        Raises:
            KeyError, TypeError, ValueError: the JSON is not a confirmation's.
        """
        return cls(
            educator_name=str(data["educator_name"]),
            educator_email=str(data["educator_email"]),
            organisation=str(data["organisation"]),
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            lines=tuple(
                ConfirmationLine(
                    credential_id=str(line["credential_id"]),
                    credential_title=str(line["credential_title"]),
                    earned_on=date.fromisoformat(line["earned_on"]),
                    hours=float(line["hours"]),
                    code=str(line["code"]),
                )
                for line in data["lines"]
            ),
            director_name=str(data["director_name"]),
            director_email=str(data["director_email"]),
            sent_by=str(data["sent_by"]),
            sent_at=datetime.fromisoformat(data["sent_at"]),
        )


def content_digest(data: Mapping[str, Any]) -> str:
    """The sha256 (hex) of a confirmation's stored JSON, canonical (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def confirmation_lines(lines: Iterable[HoursLine], *, start: date, end: date) -> tuple[ConfirmationLine, ...]:
    """The lines of a confirmation: the educator's hours earned in the period (both ends included), oldest first."""
    kept = sorted(
        (line.record for line in lines if start <= line.record.earned_on <= end),
        key=lambda r: (r.earned_on, r.credential_title),
    )
    return tuple(
        ConfirmationLine(
            credential_id=record.credential_id,
            credential_title=record.credential_title,
            earned_on=record.earned_on,
            hours=record.hours,
            code=record.confirmation,
        )
        for record in kept
    )


# -- scope -----------------------------------------------------------------------------------


def organisation_choices(scope: ReportScope, seen: Iterable[str]) -> tuple[str, ...]:
    """The organisations an admin may filter by: their grant's, else those of the educators they see.

    Args:
        scope: The asker's scope.
        seen: The organisations of the educators in that scope.

    Returns:
        Names, each once (whatever its case and spacing), sorted.
    """
    names = scope.organisations if scope.organisations and not scope.all_rows else seen
    unique: dict[str, str] = {}
    for name in sorted(names):  # sorted: the same spelling wins every time
        unique.setdefault(organisation_key(name), " ".join(name.split()))
    return tuple(sorted(unique.values(), key=str.casefold))


def narrowed(scope: ReportScope, organisation: str | None) -> ReportScope:
    """The scope kept to one organisation (already checked to be within it); unchanged without one."""
    if organisation is None:
        return scope
    return ReportScope(organisations=frozenset({organisation}), programs=scope.programs)


# -- the confirmation form -------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationRequest:
    """A checked confirmation form: whose hours, which period, and the director it goes to."""

    applicant_id: str
    start: date
    end: date
    director_name: str
    director_email: str


@dataclass(frozen=True)
class CheckedConfirmation:
    """The confirmation form read: the request when every field is right, else each field's problem."""

    request: ConfirmationRequest | None
    problems: dict[str, str]


def check_confirmation_form(form: Mapping[str, str], *, educators: Collection[str]) -> CheckedConfirmation:
    """Read the director's confirmation form: ``educator``, ``from``, ``to``, ``director_name``, ``director_email``.

    Args:
        form: The posted fields.
        educators: The applicant ids the admin may confirm hours for.

    Returns:
        The request, or the problem of each field (in the form's order).
    """
    problems: dict[str, str] = {}
    applicant_id = form.get("educator", "").strip()
    if applicant_id not in educators:
        problems["educator"] = "Choose the educator whose hours to confirm."
    start, problem = parse_date(form.get("from", "")[:MAX_FIELD], label="The start of the period")
    if problem or start is None:
        problems["from"] = problem or "Enter the start of the period, like 2026-09-01."
    end, problem = parse_date(form.get("to", "")[:MAX_FIELD], label="The end of the period")
    if problem or end is None:
        problems["to"] = problem or "Enter the end of the period, like 2027-06-30."
    if start and end and start > end:
        problems["to"] = "The end of the period must be on or after its start."
    director_name = " ".join(form.get("director_name", "").split())
    if not director_name:
        problems["director_name"] = "Enter the PD director's name."
    elif len(director_name) > 200:
        problems["director_name"] = "The director's name has at most 200 characters."
    director_email = form.get("director_email", "").strip().lower()
    if not EMAIL.match(director_email) or len(director_email) > 320:
        problems["director_email"] = "Enter the director's email address, like name@example.org."
    if problems or start is None or end is None:
        return CheckedConfirmation(None, problems)
    return CheckedConfirmation(
        ConfirmationRequest(
            applicant_id=applicant_id,
            start=start,
            end=end,
            director_name=director_name,
            director_email=director_email,
        ),
        {},
    )
