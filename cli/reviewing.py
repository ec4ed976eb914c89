"""``credflow reviewers``, ``credflow review``, ``credflow assign`` and ``credflow sweep``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table
from rich.text import Text

from cli.common import console, fail, load_services
from cli.launch import run_in_process
from credflow.errors import CredflowError
from credflow.formatting import yaml_error

reviewers_app = typer.Typer(help="Manage the reviewer pool.", no_args_is_help=True)
review_app = typer.Typer(
    help="Review from the command line with a private link token (for scripts).", no_args_is_help=True
)


@reviewers_app.command("import")
def reviewers_import(file: Path) -> None:
    """Add and update reviewers from a YAML pool file (reviewers left out leave the pool)."""
    from credflow.reviewers.rules import parse_pool
    from credflow.reviewers.stage import import_pool

    try:
        services = load_services()
        pool = parse_pool(file.read_text(encoding="utf-8"), catalog=services.catalog, source=str(file))
        with services.db.session() as session:
            report = import_pool(session, pool)
    except (OSError, CredflowError) as exc:
        fail(str(exc))
    console.print(Text(f"{file}: {report.summary()}"))


@reviewers_app.command("export")
def reviewers_export(
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Write the pool as YAML in the import format."""
    from credflow.reviewers.stage import export_pool

    try:
        services = load_services()
        with services.db.session() as session:
            text = export_pool(session)
    except CredflowError as exc:
        fail(str(exc))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _token_assignment(token: str) -> tuple[Any, str]:
    from credflow.review.stage import open_assignment

    services = load_services()
    return services, open_assignment(services, token).id


@review_app.command("show")
def review_show(token: str) -> None:
    """Show an assignment: the anonymised applicant, the answers, the files and the criteria to score."""
    from credflow.review.stage import review_context

    try:
        services, assignment_id = _token_assignment(token)
        ctx = review_context(services, assignment_id)
    except CredflowError as exc:
        fail(str(exc))
    # Text, never markup: answers, file names and catalog wording are printed exactly as written.
    console.print(
        Text.assemble(
            (ctx.credential.title, "bold"),
            f" · {ctx.applicant} · attempt {ctx.attempt} · {ctx.role} due {ctx.due_at:%Y-%m-%d}",
        )
    )
    for _, title, answer in ctx.answers:
        console.print(Text.assemble("\n", (title, "bold"), "\n", answer))
    for file in ctx.files:
        console.print(Text(f"file: {file.requirement_title}: {file.name} ({file.kind}, {file.size:,} bytes)"))
    table = Table("criterion", "title", "what Met looks like", "your score")
    for criterion in ctx.criteria:
        score = ctx.scores.get(criterion.key, {})
        table.add_row(
            *(Text(cell) for cell in (criterion.key, criterion.title, criterion.met, score.get("verdict", "")))
        )
    console.print(table)


# The help shows line breaks as written: each paragraph is one line here, the example keeps its own.
SCORES_FILE = "\n".join(
    [
        "The scores file is YAML (or JSON) mapping each criterion key (see `credflow review show`) "
        "to a verdict and a comment, or to the verdict alone:",
        "",
        "    purpose_explained: {verdict: Met, comment: Clear purpose.}",
        "    facilitator_moves:",
        "      verdict: Not Yet",
        "      comment: Record the students' own questions on the board.",
        "    plan_models_routine: met",
        "",
        'Verdicts are Met or Not Yet, in any case ("not yet", "not-yet" and "not_yet" too); '
        "every Not Yet needs a comment saying what to strengthen.",
    ]
)
SCORES_HELP = "YAML or JSON file: each criterion key to {verdict: Met or Not Yet, comment: ...} (see below)."


def _read_yaml(path: Path) -> Any:
    """A YAML (or JSON) file an operator or reviewer wrote; a syntax error is reported by line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CredflowError(yaml_error(exc, source=str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredflowError(f"{path}: cannot be read: {exc}") from None


def _read_scores(path: Path) -> dict[str, Any]:
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise CredflowError(f"{path}: map each criterion to {{verdict: Met or Not Yet, comment: ...}}")
    return {key: value if isinstance(value, dict) else {"verdict": value} for key, value in data.items()}


@review_app.command("draft", epilog=SCORES_FILE)
def review_draft(token: str, scores: Annotated[Path, typer.Argument(help=SCORES_HELP)]) -> None:
    """Save a draft from a YAML/JSON file mapping criteria to verdicts and comments."""
    from credflow.review.stage import save_draft

    try:
        services, assignment_id = _token_assignment(token)
        saved = save_draft(services, assignment_id, _read_scores(scores))
    except (OSError, CredflowError) as exc:
        fail(str(exc))
    console.print(f"draft saved: {len(saved)} criteria scored")


@review_app.command("submit", epilog=SCORES_FILE)
def review_submit(token: str, scores: Annotated[Path, typer.Argument(help=SCORES_HELP)]) -> None:
    """Submit the final review (every criterion; a comment for each Not Yet) and run aggregation."""
    from credflow.review.stage import submit_review

    try:
        services, assignment_id = _token_assignment(token)
        submission_id = submit_review(services, assignment_id, _read_scores(scores))
        state = _decide(services, submission_id)
    except (OSError, CredflowError) as exc:
        fail(str(exc))
    console.print(f"review submitted; submission {submission_id} is {state}")


@review_app.command("decline")
def review_decline(token: str, reason: Annotated[str, typer.Option(help="Why you cannot review it.")]) -> None:
    """Decline an assignment with a reason; it is reassigned."""
    from credflow.review.stage import decline

    try:
        services, assignment_id = _token_assignment(token)
        submission_id = decline(services, assignment_id, reason)
        state = _decide(services, submission_id)
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"declined; submission {submission_id} is {state}")


@review_app.command("relink")
def review_relink(
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
) -> None:
    """Give every active assignment a new private link and email it; every earlier link stops working.

    For a leaked CREDFLOW_SECRET_KEY (after replacing it, open links are dead) or forwarded links.
    """
    from credflow.notifications.stage import reissue_links

    if not yes and not typer.confirm("Replace every open review link and email the reviewers?"):
        fail("nothing changed")
    try:
        ids = reissue_links(load_services())
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"{len(ids)} review link(s) replaced and emailed")


def _decide(services: Any, submission_id: str) -> str:
    from flows.review import run_decision

    return str(run_in_process(services, lambda: run_decision(submission_id)))


def assign_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Run an assignment round now and email the new reviewers."""
    from flows.review import assign_reviewers_flow

    try:
        services = load_services()
        count = run_in_process(services, assign_reviewers_flow)
    except CredflowError as exc:
        fail(str(exc))
    console.print(json.dumps({"assigned": count}) if as_json else f"{count} new assignments")


def sweep_command() -> None:
    """Sweep deadlines now: reminders, withdrawals, reassignment."""
    from flows.review import review_sweep

    try:
        services = load_services()
        result = run_in_process(services, review_sweep)
    except CredflowError as exc:
        fail(str(exc))
    console.print(result)


gold_app = typer.Typer(help="Gold-standard submissions for calibration.", no_args_is_help=True)
report_app = typer.Typer(help="Reports for program admins and lead reviewers.", no_args_is_help=True)


@gold_app.command("import")
def gold_import(file: Path) -> None:
    """Add or replace gold-standard submissions with their known scores and evidence files."""
    from credflow.reviewers.stage import import_gold_file

    try:
        services = load_services()
        count, files = import_gold_file(services, file)
    except (OSError, CredflowError) as exc:
        fail(str(exc))
    console.print(f"{count} gold-standard submissions imported" + (f", with {files} evidence files" if files else ""))


def calibrate_command(email: str, scores: Path) -> None:
    """Score a reviewer's gold-standard answers; 80% agreement makes them calibrated today."""
    from datetime import date

    from credflow.reviewers.stage import record_calibration

    try:
        services = load_services()
        data = _read_yaml(scores) or {}
        with services.db.session() as session:
            result = record_calibration(session, reviewer_email=email, scores=data, today=date.today())
    except (OSError, CredflowError) as exc:
        fail(str(exc))
    verdict = f"calibrated on {result.calibrated_on}" if result.calibrated else "not calibrated (needs 80%)"
    total = result.criteria_scored + len(result.missing)
    console.print(Text(f"{email}: agreed on {result.agreed} of {total} gold criteria ({result.share:.0%}): {verdict}"))


@report_app.command("agreement")
def report_agreement(
    drift_threshold: Annotated[float, typer.Option(help="Flag reviewers agreeing less than this.")] = 0.7,
    min_units: Annotated[int, typer.Option(help="Units a reviewer needs before drift is judged.")] = 5,
    min_sample: Annotated[int, typer.Option(min=1, help="Units below which a number is marked too few to trust.")] = 10,
) -> None:
    """Percent agreement, Cohen's kappa per reviewer pair, Krippendorff's alpha per criterion, drifting reviewers."""
    from credflow.reviewers.explain import explain_agreement
    from credflow.reviewers.rules import agreement_report
    from credflow.reviewers.stage import ratings_from_reviews

    try:
        services = load_services()
        with services.db.session() as session:
            ratings = ratings_from_reviews(session)
    except CredflowError as exc:
        fail(str(exc))
    report = agreement_report(ratings, drift_threshold=drift_threshold, min_units=min_units)
    explained = "\n".join(f"- {line}" for line in explain_agreement(report, min_units=min_sample))
    sys.stdout.write(f"{report.render_text()}\n\nWhat the numbers mean:\n{explained}\n")
