"""``credflow badge verify|revoke`` and ``credflow report hours``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from credflow.errors import CredflowError

badge_app = typer.Typer(help="Verify and revoke badges.", no_args_is_help=True)


def _load(source: str) -> tuple[bytes, str]:
    if source.startswith(("http://", "https://")):
        response = httpx.get(source, timeout=20, follow_redirects=True)
        response.raise_for_status()
        return response.content, source
    return Path(source).read_bytes(), source


def read_credential(source: str) -> dict[str, Any]:
    """A credential from a JSON file, a baked PNG or SVG, or a URL serving either.

    Raises:
        CredflowError: nothing readable, or an OB 2.0 badge (which this command does not verify).
    """
    from credflow.badges.baking import OB3_KEYWORD, unbake

    data, where = _load(source)
    text = data.lstrip()[:1]
    if text in (b"{", b"["):
        document = json.loads(data)
    else:
        baked = unbake(data)
        if baked is None:
            raise CredflowError(f"{where}: no Open Badges credential in this image")
        if baked.keyword != OB3_KEYWORD:
            raise CredflowError(f"{where}: an Open Badges 2.0 badge; verify it with an OB 2.0 validator")
        document = json.loads(baked.content)
    if not isinstance(document, dict):
        raise CredflowError(f"{where}: not a credential object")
    return document


@badge_app.command("verify")
def badge_verify(
    source: Annotated[str, typer.Argument(help="Credential JSON, baked PNG/SVG, or a URL of either.")],
    offline: Annotated[bool, typer.Option(help="Skip the revocation check (no network).")] = False,
) -> None:
    """Check a badge's signature, issuer key, validity dates and revocation; exit 1 when it fails."""
    from credflow.badges.verify import verify_credential
    from credflow.db.models import utcnow

    try:
        credential = read_credential(source)
        lists = None
        status_url = credential.get("credentialStatus", {}).get("statusListCredential")
        if status_url and not offline:
            try:
                lists = {status_url: httpx.get(status_url, timeout=20).raise_for_status().json()}
            except httpx.HTTPError as exc:
                raise CredflowError(
                    f"cannot fetch the revocation list {status_url}: {exc}; use --offline to skip"
                ) from None
        resolver = None
        issuer = str(credential.get("issuer", {}).get("id", "")) if isinstance(credential.get("issuer"), dict) else ""
        if issuer.startswith("did:web:") and not offline:
            from credflow.badges.keys import KeyResolver, did_web_document_url

            document = httpx.get(did_web_document_url(issuer), timeout=20).raise_for_status().json()
            resolver = KeyResolver(did_documents={issuer: document})
        result = verify_credential(credential, now=utcnow(), status_lists=lists, resolver=resolver)
    except (OSError, ValueError, httpx.HTTPError, CredflowError) as exc:
        sys.stderr.write(f"credflow: {exc}\n")
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
    from cli.main import _fail, _services, console
    from credflow.issuance import revoke

    try:
        badge = revoke(_services(), badge_id, reason=reason)
    except (ValueError, CredflowError) as exc:
        _fail(str(exc))
    console.print(f"badge {badge.id} revoked: {badge.revoke_reason}")


@badge_app.command("rotate-key")
def badge_rotate_key(
    issuer: Annotated[str, typer.Argument(help="Issuer id, e.g. openscied.")],
    compromised: Annotated[
        bool, typer.Option("--compromised", help="The old key leaked: delete its secret; its revocation list freezes.")
    ] = False,
) -> None:
    """Start signing with a new key; earlier badges keep verifying (did:key carries its own public key)."""
    from cli.main import _fail, _services, console
    from credflow.issuance import key_store, ob2_key_store

    try:
        services = _services()
        if not any(c.issuer.id == issuer for c in services.catalog):
            raise CredflowError(f"no issuer {issuer!r} in the catalog")
        ob3 = key_store(services).rotate(issuer, compromised=compromised)
        ob2 = ob2_key_store(services, issuer).rotate()
    except CredflowError as exc:
        _fail(str(exc))
    retired = " (the old OB 3.0 key's secret is deleted)" if compromised else ""
    console.print(f"{issuer}: OB 3.0 key now {ob3.key_id}; OB 2.0 key now {ob2.name}{retired}")


def report_hours(
    fmt: Annotated[str, typer.Option("--format", help="csv (for a PD office) or table.")] = "table",
) -> None:
    """In-service hours per earned micro-credential, for a district's PD office."""
    from sqlalchemy import select

    from cli.main import _fail, _services, console
    from credflow.db.models import Applicant, InServiceHours
    from credflow.hours import HoursRecord, hours_csv

    try:
        services = _services()
        with services.db.session() as session:
            rows = session.execute(
                select(InServiceHours, Applicant)
                .join(Applicant, Applicant.id == InServiceHours.applicant_id)
                .order_by(InServiceHours.earned_on, Applicant.email)
            ).all()
            records = [
                HoursRecord(
                    applicant_name=applicant.name,
                    applicant_email=applicant.email,
                    organisation=applicant.organisation,
                    credential_id=hours.credential_id,
                    credential_title=services.catalog.get(hours.credential_id).title,
                    hours=hours.hours,
                    earned_on=hours.earned_on,
                    decision_id=hours.decision_id,
                    confirmation=hours.confirmation,
                )
                for hours, applicant in rows
            ]
    except CredflowError as exc:
        _fail(str(exc))
    if fmt == "csv":
        sys.stdout.write(hours_csv(records))
        return
    from rich.table import Table

    table = Table("applicant", "organisation", "micro-credential", "hours", "earned on", "confirmation")
    for r in records:
        table.add_row(
            r.applicant_name, r.organisation, r.credential_title, f"{r.hours:g}", str(r.earned_on), r.confirmation
        )
    console.print(table)
