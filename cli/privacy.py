"""``credflow applicant export|erase`` (an applicant's data on request) and ``credflow retention sweep``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cli.common import console, fail, load_services
from credflow.errors import CredflowError

applicant_app = typer.Typer(help="Export or erase an applicant's data on request.", no_args_is_help=True)
retention_app = typer.Typer(help="Evidence retention.", no_args_is_help=True)


@applicant_app.command("export")
def applicant_export(
    email: Annotated[str, typer.Argument(help="The applicant's email address.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The zip file to write.")],
) -> None:
    """Write everything held about an applicant (applicant.json and their evidence files) to a zip."""
    from credflow.privacy.export import export_applicant

    try:
        report = export_applicant(load_services(), email, out=out)
    except CredflowError as exc:
        fail(str(exc))
    removed = f", {report.removed} removed under the retention policy" if report.removed else ""
    console.print(
        Text(
            f"{report.path}: {report.submissions} submission(s), {report.files} evidence file(s) "
            f"({report.bytes:,} bytes){removed}. It holds personal data: hand it to the applicant only."
        )
    )


@applicant_app.command("erase")
def applicant_erase(
    email: Annotated[str, typer.Argument(help="The applicant's email address.")],
    reason: Annotated[str, typer.Option(help="The request and its date; kept in the log, so no name or email.")],
    revoke_badges: Annotated[
        bool, typer.Option("--revoke-badges", help='Also revoke their badges ("erased at holder\'s request").')
    ] = False,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw attempts still in the pipeline instead of refusing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Delete an applicant's evidence and replace their personal data with a tombstone (decisions and badges stay)."""
    from credflow.privacy.erase import erase_applicant

    if not yes and not typer.confirm(
        f"Erase {email}: delete their evidence files and personal data? This cannot be undone", default=False
    ):
        fail("nothing erased")
    try:
        report = erase_applicant(load_services(), email, reason=reason, revoke_badges=revoke_badges, withdraw=withdraw)
    except (ValueError, CredflowError) as exc:
        fail(str(exc))
    if as_json:
        payload = {
            "applicant": report.applicant_id,
            "already_erased": report.already_erased,
            "erased_at": report.erased_at.isoformat(),
            "submissions": list(report.submissions),
            "withdrawn": list(report.withdrawn),
            "closed": list(report.closed),
            "evidence_files": report.evidence_files,
            "objects_deleted": report.objects_deleted,
            "badges_kept": list(report.badges_kept),
            "badges_revoked": list(report.badges_revoked),
            "relations_removed": report.relations_removed,
            "drafts_deleted": report.drafts_deleted,
            "events_mentioning": report.events_mentioning,
            "sign_in_records": report.sign_in_records,
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if report.already_erased:
        console.print(f"applicant {report.applicant_id} was already erased on {report.erased_at:%Y-%m-%d %H:%M} UTC")
    else:
        console.print(
            f"applicant {report.applicant_id} erased: {len(report.submissions)} submission(s), "
            f"{report.evidence_files} evidence file(s), {report.objects_deleted} stored object(s) deleted"
        )
    for label, ids in (("withdrawn", report.withdrawn), ("chain closed", report.closed)):
        if ids:
            console.print(f"  {label}: {', '.join(ids)}")
    if report.badges_revoked:
        console.print(f"  badges revoked: {', '.join(report.badges_revoked)}")
    if report.badges_kept:
        console.print(
            f"  badges kept (they name the holder by a salted hash only; --revoke-badges revokes them): "
            f"{', '.join(report.badges_kept)}"
        )
    if report.sign_in_records:
        console.print(f"  {report.sign_in_records} sign-in record(s) deleted (sessions and API tokens end now)")
    if report.drafts_deleted:
        console.print(f"  {report.drafts_deleted} portal draft(s) deleted with their files, coach links and comments")
    if report.relations_removed:
        console.print(
            f"  {report.relations_removed} reviewer relation(s) to the address removed: "
            "remove them from the pool file too, or the next import adds them back"
        )
    if report.events_mentioning:
        console.print(
            f"  [yellow]{report.events_mentioning} log entr(ies) still mention them in text people typed "
            "(the log is append-only)[/]"
        )
    if report.artifacts and not report.already_erased:
        console.print(
            "  Prefect artifacts show the name: "
            + " ".join(f"`prefect artifact delete {key}`" for key in report.artifacts)
        )


@retention_app.command("sweep")
def retention_sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; delete nothing.")] = False,
) -> None:
    """Delete the evidence files of attempts that ended longer ago than CREDFLOW_EVIDENCE_RETENTION_DAYS."""
    from credflow.retention.stage import sweep_retention

    try:
        result = sweep_retention(load_services(), dry_run=dry_run)
    except CredflowError as exc:
        fail(str(exc))
    if result.retention_days == 0:
        console.print("retention is off (CREDFLOW_EVIDENCE_RETENTION_DAYS=0): evidence is kept forever")
        return
    verb = "would delete" if dry_run else "deleted"
    assert result.cutoff is not None
    console.print(
        f"attempts that ended before {result.cutoff:%Y-%m-%d} ({result.retention_days} days): "
        f"{verb} {result.files} file(s), {result.bytes:,} bytes, of {len(result.attempts)} attempt(s)"
    )
    for attempt in result.attempts:
        console.print(f"  {attempt.submission_id} {attempt.state} since {attempt.ended_at:%Y-%m-%d}: {attempt.files}")
