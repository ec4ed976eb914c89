"""``credflow badge verify|revoke`` and ``credflow report hours``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from cli.common import console, err, fail, load_services
from credflow.errors import CredflowError

badge_app = typer.Typer(help="Verify and revoke badges.", no_args_is_help=True)


def _read_file(path: Path, max_bytes: int) -> bytes:
    # Only regular files, read up to the cap: /dev/zero, a FIFO or a folder must not hang or fill memory.
    if not path.is_file():
        raise CredflowError(f"{path}: not a regular file")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CredflowError(f"{path} is larger than the {max_bytes:,} bytes accepted")
    return data


def read_credential(source: str, *, fetch: Callable[[str], bytes] | None = None) -> dict[str, Any]:
    """A credential from a JSON file, a baked PNG or SVG, or a URL serving either.

    Args:
        source: A file path or an http(s) URL.
        fetch: Fetches a URL (a :class:`~credflow.badges.fetch.SafeFetcher` when None).

    Raises:
        CredflowError: nothing readable, or an OB 2.0 badge (which this command does not verify).
    """
    from credflow.badges.baking import OB3_KEYWORD, unbake
    from credflow.badges.fetch import DEFAULT_MAX_BYTES, SafeFetcher

    if source.startswith(("http://", "https://")):
        data = (fetch or SafeFetcher())(source)
    else:
        data = _read_file(Path(source), DEFAULT_MAX_BYTES)
    where = source
    try:
        if data.lstrip()[:1] in (b"{", b"["):
            document = json.loads(data)
        else:
            baked = unbake(data)
            if baked is None:
                raise CredflowError(f"{where}: no Open Badges credential in this image")
            if baked.keyword != OB3_KEYWORD:
                raise CredflowError(f"{where}: an Open Badges 2.0 badge; verify it with an OB 2.0 validator")
            document = json.loads(baked.content)
    except (ValueError, RecursionError) as exc:
        raise CredflowError(f"{where}: not a JSON credential ({str(exc)[:200]})") from None
    if not isinstance(document, dict):
        raise CredflowError(f"{where}: not a credential object")
    return document


@badge_app.command("verify")
def badge_verify(
    source: Annotated[str, typer.Argument(help="Credential JSON, baked PNG/SVG, or a URL of either.")],
    offline: Annotated[bool, typer.Option(help="Skip the revocation check (no network).")] = False,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Fetch from any private, loopback and link-local address (this deployment's own "
            "CREDFLOW_PUBLIC_URL is always allowed).",
        ),
    ] = False,
) -> None:
    """Check a badge's signature, issuer key, validity dates and revocation; exit 1 when it fails.

    Nothing a credential names is fetched before its proof holds (but a did:web issuer's DID document,
    which the proof needs); no redirects are followed and every answer is size-capped.
    """
    from credflow.badges.fetch import SafeFetcher, origin_of
    from credflow.badges.verify import verify_fetching
    from credflow.db.models import utcnow
    from credflow.settings import load_settings

    # This deployment's own badges are fetched from its public URL even where that is on loopback.
    own = origin_of(load_settings().public_url)
    fetch = SafeFetcher(allow_private=allow_private, trusted_origins=frozenset({own} - {""}))
    try:
        credential = read_credential(source, fetch=fetch)
        result = verify_fetching(credential, now=utcnow(), fetch=None if offline else fetch)
    except (OSError, ValueError, RecursionError, CredflowError) as exc:
        sys.stderr.write(f"credflow: {str(exc)[:2000]}\n")
        raise typer.Exit(2) from None
    for check in result.checks:
        sys.stdout.write(f"{check.outcome:>7}  {check.name}: {check.detail}\n")
    if not result.verified:
        sys.stdout.write("NOT VALID: " + "; ".join(result.errors) + "\n")
        raise typer.Exit(1)
    sys.stdout.write("VALID\n")


@badge_app.command("revoke")
def badge_revoke(
    badge_id: str, reason: Annotated[str, typer.Option(help="Why it is revoked (shown on its page).")]
) -> None:
    """Revoke a badge: its status bit is set; its page and verifiers report it revoked."""
    from credflow.issuance.stage import revoke

    try:
        badge = revoke(load_services(), badge_id, reason=reason)
    except (ValueError, CredflowError) as exc:
        fail(str(exc))
    console.print(Text(f"badge {badge.id} revoked: {badge.revoke_reason}"))  # the reason as typed, never markup


@badge_app.command("rotate-key")
def badge_rotate_key(
    issuer: Annotated[str, typer.Argument(help="Issuer id, e.g. openscied.")],
    compromised: Annotated[
        bool, typer.Option("--compromised", help="The old key leaked: delete its secret; its revocation list freezes.")
    ] = False,
) -> None:
    """Start signing with a new key; earlier badges keep verifying (did:key carries its own public key)."""
    from credflow.issuance.stage import key_store, ob2_key_store

    try:
        services = load_services()
        if not any(c.issuer.id == issuer for c in services.catalog):
            raise CredflowError(f"no issuer {issuer!r} in the catalog")
        ob3 = key_store(services).rotate(issuer, compromised=compromised)
        ob2 = ob2_key_store(services, issuer).rotate()
    except CredflowError as exc:
        fail(str(exc))
    retired = " (the old OB 3.0 key's secret is deleted)" if compromised else ""
    console.print(f"{issuer}: OB 3.0 key now {ob3.key_id}; OB 2.0 key now {ob2.name}{retired}")


class HoursFormat(StrEnum):
    """How ``report hours`` writes: a table on screen, CSV, or an Excel workbook (to --output)."""

    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"


def report_hours(
    fmt: Annotated[
        HoursFormat,
        typer.Option("--format", case_sensitive=False, help="table (on screen), csv, or xlsx (needs --output)."),
    ] = HoursFormat.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of the screen.")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only this organisation's educators.")
    ] = None,
    since: Annotated[str | None, typer.Option("--from", help="Earned on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Earned on or before this date (YYYY-MM-DD).")] = None,
    credential: Annotated[str | None, typer.Option("--credential", help="Only this micro-credential (its id).")] = None,
) -> None:
    """In-service hours per earned micro-credential, for a district's PD office."""
    from credflow.db.models import utcnow
    from credflow.issuance.hours import hours_csv
    from credflow.programs.rules import parse_hours_query
    from credflow.programs.stage import hours_lines
    from credflow.programs.xlsx import hours_xlsx
    from credflow.reports.rules import ReportScope

    if fmt is HoursFormat.XLSX and output is None:
        fail("--format xlsx writes a workbook: name the file with --output hours.xlsx")
    try:
        services = load_services()
        titles = {c.id: c.title for c in services.catalog}
        parsed = parse_hours_query(
            {
                "organisation": organisation or "",
                "from": since or "",
                "to": until or "",
                "credential": credential or "",
            },
            organisations=None,
            credentials=titles,
        )
        if parsed.problems:
            if "credential" in parsed.problems:
                parsed.problems["credential"] = (
                    f"no micro-credential {credential!r}; known: {', '.join(sorted(titles))}"
                )
            raise CredflowError("; ".join(parsed.problems.values()))
        lines = [line for line in hours_lines(services, scope=ReportScope.everything()) if parsed.query.matches(line)]
    except CredflowError as exc:
        fail(str(exc))
    records = [line.record for line in lines]
    if fmt is HoursFormat.XLSX:
        assert output is not None
        output.write_bytes(hours_xlsx(lines, filters=parsed.query.describe(titles), generated_at=utcnow()))
        err.print(Text(f"wrote {len(lines)} rows to {output}"))
        return
    if fmt is HoursFormat.CSV:
        if output is not None:
            output.write_text(hours_csv(records), encoding="utf-8", newline="")
            err.print(Text(f"wrote {len(lines)} rows to {output}"))
        else:
            sys.stdout.write(hours_csv(records))
        return
    from rich.table import Table

    table = Table("applicant", "organisation", "micro-credential", "hours", "earned on", "confirmation")
    for r in records:
        # Text, not markup: names and organisations are the applicants' own words.
        cells = (r.applicant_name, r.organisation, r.credential_title, f"{r.hours:g}", str(r.earned_on), r.confirmation)
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
