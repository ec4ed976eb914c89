"""Program admins' and operators' grants, by email (``credflow admins add|remove|list``).

A grant is data: it gives nothing until someone signs in through a link sent to its address.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.accounts.rules import Grant, normalise_email
from credflow.db.models import AdminGrant
from credflow.errors import CredflowError
from credflow.services import Services


def _grant(row: AdminGrant) -> Grant:
    return Grant(
        email=row.email,
        operator=row.operator,
        organisations=tuple(str(o) for o in row.organisations),
        programs=tuple(str(p) for p in row.programs),
    )


def grant_of(session: Session, email: str) -> Grant | None:
    """The grant of an address, if it has one."""
    row = session.scalar(select(AdminGrant).where(AdminGrant.email == email))
    return None if row is None else _grant(row)


def known_programs(services: Services) -> set[str]:
    """The programs of the catalog (what ``--program`` may name)."""
    return {credential.program for credential in services.catalog.credentials.values()}


def add_grant(
    services: Services,
    email: str,
    *,
    organisations: tuple[str, ...] = (),
    programs: tuple[str, ...] = (),
    operator: bool = False,
) -> Grant:
    """Grant program admin (scoped to organisations and/or programs) or operator to an address; adds to a grant.

    Raises:
        CredflowError: a bad address, an unknown program, or nothing to grant.
    """
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise CredflowError(f"{email!r}: {exc}") from None
    organisations = tuple(" ".join(o.split()) for o in organisations if o.strip())
    programs = tuple(p.strip() for p in programs if p.strip())
    if not (organisations or programs or operator):
        raise CredflowError("say what to grant: --org ORGANISATION, --program PROGRAM (each repeatable) or --operator")
    known = known_programs(services)
    unknown = sorted(set(programs) - known)
    if unknown:
        raise CredflowError(
            f"no program {', '.join(repr(p) for p in unknown)} in the catalog; known: {', '.join(sorted(known))}"
        )
    with services.db.session() as session:
        row = session.scalar(select(AdminGrant).where(AdminGrant.email == address))
        current = Grant(email=address) if row is None else _grant(row)
        merged = current.merged(operator=operator, organisations=organisations, programs=programs)
        if row is None:
            row = AdminGrant(email=address)
            session.add(row)
        row.operator = merged.operator
        row.organisations = list(merged.organisations)
        row.programs = list(merged.programs)
    return merged


def remove_grant(services: Services, email: str) -> bool:
    """Remove an address's grant; False when it had none. Signed-in sessions lose the roles at their next request."""
    address = email.strip().lower()
    with services.db.session() as session:
        row = session.scalar(select(AdminGrant).where(AdminGrant.email == address))
        if row is None:
            return False
        session.delete(row)
        return True


def list_grants(services: Services) -> list[Grant]:
    """Every grant, by address."""
    with services.db.session() as session:
        return [_grant(row) for row in session.scalars(select(AdminGrant).order_by(AdminGrant.email))]
