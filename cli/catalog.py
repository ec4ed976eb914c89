"""``credflow catalog`` and ``credflow db``: the micro-credential catalog and the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, err, fail, load_services
from credflow.catalog.loader import check_catalog
from credflow.errors import CredflowError
from credflow.settings import load_settings

catalog_app = typer.Typer(help="Inspect the micro-credential catalog.", no_args_is_help=True)
db_app = typer.Typer(help="Manage credflow's database.", no_args_is_help=True)


@catalog_app.command("check")
def catalog_check(
    folder: Annotated[Path | None, typer.Argument(help="Catalog folder (default: settings).")] = None,
) -> None:
    """Check every micro-credential file; report each error with its file and field."""
    try:
        target = folder or load_settings().catalog_dir
    except CredflowError as exc:
        fail(str(exc))
    catalog, problems = check_catalog(target)
    for problem in problems:
        err.print(f"[red]error[/] {problem}", highlight=False)
    if problems:
        err.print(f"{len(problems)} error(s) in {target}")
        raise typer.Exit(1)
    console.print(f"{len(catalog)} micro-credentials OK in {target}: {', '.join(c.id for c in catalog)}")


@catalog_app.command("list")
def catalog_list() -> None:
    """List the micro-credentials on offer."""
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    table = Table("id", "title", "issuer", "evidence", "criteria", "hours")
    for credential in services.catalog:
        table.add_row(
            credential.id,
            credential.title,
            credential.issuer.name,
            ", ".join(r.key for r in credential.evidence),
            str(len(credential.criteria)),
            f"{credential.in_service_hours:g}",
        )
    console.print(table)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done on start)."""
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"database at the newest schema: {services.db.engine.url.render_as_string(hide_password=True)}")
