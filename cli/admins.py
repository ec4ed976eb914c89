"""``credflow admins add|remove|list``: program admins (scoped to organisations and/or programs) and operators.

A grant is data: it gives its role only to someone who signs in through a link sent to its address.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from cli.common import console, fail, load_services
from credflow.errors import CredflowError

admins_app = typer.Typer(help="Program admins and operators (they sign in by emailed link).", no_args_is_help=True)


@admins_app.command("add")
def admins_add(
    email: Annotated[str, typer.Argument(help="The address they sign in with.")],
    org: Annotated[
        list[str] | None, typer.Option("--org", help="An organisation whose educators they see (repeatable).")
    ] = None,
    program: Annotated[
        list[str] | None, typer.Option("--program", help="A catalog program whose educators they see (repeatable).")
    ] = None,
    operator: Annotated[bool, typer.Option("--operator", help="An operator: every program and organisation.")] = False,
) -> None:
    """Grant program admin (scoped to --org and/or --program) or --operator; adds to an existing grant."""
    from credflow.accounts.grants import add_grant

    try:
        grant = add_grant(
            load_services(), email, organisations=tuple(org or ()), programs=tuple(program or ()), operator=operator
        )
    except CredflowError as exc:
        fail(str(exc))
    console.print(Text(f"{grant.email}: {_describe(grant.operator, grant.organisations, grant.programs)}"))
    console.print("The role counts once they sign in through the link sent to this address.", highlight=False)


@admins_app.command("remove")
def admins_remove(email: Annotated[str, typer.Argument(help="The address of the grant.")]) -> None:
    """Remove an address's grant (their sessions lose the role at their next request)."""
    from credflow.accounts.grants import remove_grant

    if not remove_grant(load_services(), email):
        fail(f"no grant for {email.strip().lower()!r}; see: credflow admins list")
    console.print(Text(f"{email.strip().lower()}: grant removed"))


@admins_app.command("list")
def admins_list() -> None:
    """Every grant: address, operator or the organisations and programs it covers."""
    from rich.table import Table

    from credflow.accounts.grants import list_grants

    table = Table("email", "grant")
    for grant in list_grants(load_services()):
        table.add_row(Text(grant.email), Text(_describe(grant.operator, grant.organisations, grant.programs)))
    console.print(table)


def _describe(operator: bool, organisations: tuple[str, ...], programs: tuple[str, ...]) -> str:
    parts = ["operator"] if operator else []
    if organisations:
        parts.append("organisations: " + ", ".join(organisations))
    if programs:
        parts.append("programs: " + ", ".join(programs))
    return "; ".join(parts)
