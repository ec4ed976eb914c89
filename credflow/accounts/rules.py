"""The pure rules of accounts: addresses, roles, report scopes, expiry and where a sign-in may lead.

No database, no services: every function here is tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from credflow.reports.rules import ReportScope

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
#: Longest address accepted (RFC 5321's path limit).
MAX_EMAIL = 320
#: Where a sign-in leads when it names nowhere (or somewhere not allowed).
HOME = "/me"


class Role(StrEnum):
    """What a signed-in person may be; one person may hold several."""

    APPLICANT = "applicant"
    REVIEWER = "reviewer"
    LEAD = "lead"
    PROGRAM_ADMIN = "program_admin"
    OPERATOR = "operator"

    @property
    def label(self) -> str:
        """The role as the home page names it."""
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.APPLICANT: "Applicant",
    Role.REVIEWER: "Reviewer",
    Role.LEAD: "Lead reviewer",
    Role.PROGRAM_ADMIN: "Program admin",
    Role.OPERATOR: "Operator",
}


class AddressError(ValueError):
    """An address that is not an email address; the message says why."""


def normalise_email(text: str) -> str:
    """The address as stored: trimmed and lower-cased.

    Raises:
        AddressError: empty, too long or not an email address.
    """
    email = text.strip().lower()
    if not email:
        raise AddressError("Enter your email address.")
    if len(email) > MAX_EMAIL:
        raise AddressError(f"An email address has at most {MAX_EMAIL} characters.")
    if not EMAIL.match(email) or any(ord(ch) < 32 or ord(ch) == 127 for ch in email):
        raise AddressError("Enter an email address like name@example.org.")
    return email


def digest(secret: str) -> str:
    """The sha256 (hex) under which a secret (a link nonce, a session id) is stored: the secret never is."""
    return hashlib.sha256(secret.encode()).hexdigest()


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (no scheme, host or ``//``), else the home page."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return HOME
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in path):
        return HOME
    return path


@dataclass(frozen=True)
class Grant:
    """A program admin's or operator's grant as stored (by email; it counts once the address signed in)."""

    email: str
    operator: bool = False
    organisations: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        """Whether the grant makes a program admin (it names an organisation or a program)."""
        return bool(self.organisations or self.programs)

    def merged(self, *, operator: bool, organisations: tuple[str, ...], programs: tuple[str, ...]) -> Grant:
        """This grant widened by another ``admins add`` (an operator stays one; names are not repeated)."""
        return Grant(
            email=self.email,
            operator=self.operator or operator,
            organisations=tuple(dict.fromkeys((*self.organisations, *organisations))),
            programs=tuple(dict.fromkeys((*self.programs, *programs))),
        )

    def scope(self) -> ReportScope:
        """What the grant lets its holder see in the program report."""
        if self.operator:
            return ReportScope.everything()
        return ReportScope(organisations=frozenset(self.organisations), programs=frozenset(self.programs))


@dataclass(frozen=True)
class Identity:
    """A signed-in person: their verified address, what they are, and what reports they may see."""

    person_id: str
    email: str
    roles: frozenset[Role]
    applicant_id: str | None = None
    reviewer_name: str | None = None
    grant: Grant | None = None

    @property
    def may_see_reports(self) -> bool:
        """Program admins and operators may open the program report."""
        return bool(self.roles & {Role.PROGRAM_ADMIN, Role.OPERATOR})

    def report_scope(self) -> ReportScope:
        """The rows of the program report this person may see (none without a grant)."""
        return self.grant.scope() if self.grant is not None else ReportScope()


def roles_of(*, applicant: bool, reviewer: bool, lead: bool, grant: Grant | None) -> frozenset[Role]:
    """The roles a verified address holds.

    Anyone who verified an address may apply, so ``applicant`` is always a role; ``applicant``
    (an applicant record with this address exists) is kept for the home page's wording only.

    Args:
        applicant: An applicant record has this address.
        reviewer: A reviewer of the pool has this address.
        lead: That reviewer is a lead.
        grant: The address's admin grant, if any.

    Returns:
        The roles.
    """
    del applicant  # every verified address may apply
    roles = {Role.APPLICANT}
    if reviewer:
        roles.add(Role.REVIEWER)
        if lead:
            roles.add(Role.LEAD)
    if grant is not None:
        if grant.admin:
            roles.add(Role.PROGRAM_ADMIN)
        if grant.operator:
            roles.add(Role.OPERATOR)
    return frozenset(roles)


@dataclass(frozen=True)
class SessionTimes:
    """A session's lifetimes: it ends after ``idle`` without a request or at ``absolute`` after sign-in."""

    idle: timedelta
    absolute: timedelta

    def open_at(self, *, last_seen_at: datetime, expires_at: datetime, now: datetime) -> bool:
        """Whether a session that was not revoked still holds at ``now`` (``expires_at``: its absolute end)."""
        return now < expires_at and now < last_seen_at + self.idle


def link_problem(*, found: bool, used_at: datetime | None, expires_at: datetime | None, now: datetime) -> str | None:
    """Why a sign-in link cannot be used now, or None when it can.

    Args:
        found: The link's record exists and its nonce matches.
        used_at: When it was used, if it was.
        expires_at: When it expires.
        now: The moment of the check.

    Returns:
        A sentence for the page, or None.
    """
    if not found or expires_at is None:
        return "This sign-in link is not valid. Ask for a new one below."
    if used_at is not None:
        return "This sign-in link was already used: each link signs in once. Ask for a new one below."
    if now >= expires_at:
        return "This sign-in link has expired. Ask for a new one below."
    return None
