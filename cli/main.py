"""``credflow`` command line entry point: assembles the subcommands into one Typer app."""

from __future__ import annotations

import typer

from cli.admins import admins_app
from cli.badges import badge_app, report_hours
from cli.catalog import catalog_app, db_app
from cli.offline import apply_offline_defaults
from cli.privacy import applicant_app, retention_app
from cli.reports import report_programs
from cli.resubmit import resubmit_command, unlock_command
from cli.reviewing import (
    assign_command,
    calibrate_command,
    gold_app,
    report_app,
    review_app,
    reviewers_app,
    sweep_command,
)
from cli.serve import alerts_app, flows_app, serve_command, worker_command
from cli.submissions import demo_command, run_command, status_command, submit_command

app = typer.Typer(help="credflow: review pipeline for educator micro-credentials.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
app.command("submit")(submit_command)
app.command("run")(run_command)
app.command("status")(status_command)
app.command("demo")(demo_command)
app.add_typer(reviewers_app, name="reviewers")
app.add_typer(review_app, name="review")
app.add_typer(gold_app, name="gold")
app.add_typer(report_app, name="report")
app.command("assign")(assign_command)
app.command("sweep")(sweep_command)
app.command("calibrate")(calibrate_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(flows_app, name="flows")
app.add_typer(alerts_app, name="alerts")
app.add_typer(badge_app, name="badge")
app.command("resubmit")(resubmit_command)
app.command("unlock")(unlock_command)
report_app.command("hours")(report_hours)
report_app.command("programs")(report_programs)
app.add_typer(applicant_app, name="applicant")
app.add_typer(retention_app, name="retention")
app.add_typer(admins_app, name="admins")


def main() -> None:
    """Entry point of the ``credflow`` script."""
    apply_offline_defaults()
    app()


if __name__ == "__main__":
    main()
