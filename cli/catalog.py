"""``credflow catalog`` and ``credflow db``: the micro-credential catalog and the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import console, err, fail, load_services
from credflow.catalog.loader import check_catalog
from credflow.catalog.models import EvidenceKind, EvidenceRequirement
from credflow.errors import CredflowError
from credflow.formatting import human_size
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
        err.print(Text.assemble(("error", "red"), f" {problem}"))
    if problems:
        err.print(Text(f"{len(problems)} error(s) in {target}"))
        raise typer.Exit(1)
    console.print(Text(f"{len(catalog)} micro-credentials OK in {target}: {', '.join(c.id for c in catalog)}"))


@catalog_app.command("list")
def catalog_list() -> None:
    """List the micro-credentials on offer."""
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    table = Table("id", "title", "issuer", "evidence", "criteria", "hours")
    for credential in services.catalog:
        cells = (
            credential.id,
            credential.title,
            credential.issuer.name,
            ", ".join(r.key for r in credential.evidence),
            str(len(credential.criteria)),
            f"{credential.in_service_hours:g}",
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


def _count(req: EvidenceRequirement) -> str:
    noun = "file" if req.max_count == 1 else "files"
    if req.min_count == req.max_count:
        return f"{req.min_count} {noun}"
    if req.min_count == 0:
        return f"up to {req.max_count} {noun} (optional)"
    return f"{req.min_count} to {req.max_count} {noun}"


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s" if minutes and seconds else (f"{minutes} min" if minutes else f"{seconds} s")


def _between(low: str | None, high: str | None) -> str:
    if low and high:
        return f"{low} to {high}"
    return f"at least {low}" if low else f"at most {high}" if high else ""


def _limits(req: EvidenceRequirement) -> str:
    """What the requirement takes, in words: counts, formats, size and video length, or word limits."""
    if req.kind is EvidenceKind.TEXT:
        words = _between(str(req.min_words) if req.min_words else None, str(req.max_words) if req.max_words else None)
        return f"{words + ' words' if words else 'any length'}{'' if req.required else ' (optional)'}"
    parts = [_count(req), ", ".join(req.formats)]
    if req.max_size_bytes is not None:
        parts.append(f"each at most {human_size(req.max_size_bytes)}")
    length = _between(
        _seconds(req.min_duration_s) if req.min_duration_s else None,
        _seconds(req.max_duration_s) if req.max_duration_s else None,
    )
    if length:
        parts.append(f"{length} long")
    return "; ".join(parts)


@catalog_app.command("show")
def catalog_show(
    credential_id: Annotated[str, typer.Argument(help="Micro-credential id (see `catalog list`).")],
) -> None:
    """Show what one micro-credential asks for: questions and word limits, files, sizes, video length, rubric."""
    try:
        credential = load_services().catalog.get(credential_id)
    except CredflowError as exc:
        fail(str(exc))
    # Text, never markup: catalog wording is printed as written.
    console.print(Text(credential.title, style="bold"))
    console.print(
        Text(
            f"{credential.id} · {credential.issuer.name} · program {credential.program} · "
            f"{credential.in_service_hours:g} in-service hours · {credential.max_attempts} attempts, "
            f"{credential.resubmission_window_days} days to resubmit after Not Yet"
        )
    )
    console.print(Text(f"\n{credential.competency}\n"))
    table = Table("key", "kind", "what to send", "limits", title=Text("What to submit"), show_lines=True)
    for req in credential.evidence:
        how = "answers file" if req.kind is EvidenceKind.TEXT else f"-e {req.key}=PATH"
        table.add_row(
            Text(req.key),
            Text(f"{req.kind.value}\n({how})"),
            Text.assemble((req.title, "bold"), "\n", req.prompt.strip()),
            Text(_limits(req)),
        )
    console.print(table)
    rubric = Table(
        "criterion",
        "what Met looks like",
        "reads",
        title=Text("Rubric (each criterion Met or Not Yet)"),
        show_lines=True,
    )
    for section in credential.rubric:
        for criterion in section.criteria:
            rubric.add_row(
                Text.assemble((criterion.key, "bold"), "\n", criterion.title),
                Text(criterion.met),
                Text(", ".join(criterion.evidence)),
            )
    console.print(rubric)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done on start)."""
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"database at the newest schema: {services.db.engine.url.render_as_string(hide_password=True)}")
