"""``credflow report programs``: every educator's micro-credential status per program, for program admins."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.common import Format, console, fail, load_services
from credflow.errors import CredflowError


def report_programs(
    fmt: Annotated[
        Format, typer.Option("--format", case_sensitive=False, help="table (on screen) or csv (for a spreadsheet).")
    ] = Format.TABLE,
) -> None:
    """Each educator's status, attempt, days in state and recommended action, per program."""
    from rich.table import Table
    from rich.text import Text

    from credflow.reports.stage import program_report

    try:
        report = program_report(load_services())
    except CredflowError as exc:
        fail(str(exc))
    if fmt is Format.CSV:
        sys.stdout.write(report.to_csv())
        return
    for section in report.programs:
        times = section.decision_times
        median = "-" if times.median_business_days is None else f"{times.median_business_days:g}"
        share = "-" if times.share_within_target is None else f"{times.share_within_target:.0%}"
        table = Table(
            "educator",
            "organisation",
            "micro-credential",
            "status",
            "attempt",
            "days",
            "recommended action",
            title=Text(
                f"{section.program}: {times.decided} decided, median {median} business days, "
                f"{share} within {times.target_business_days} business days"
            ),
        )
        for row in section.rows:
            # Text, not markup: names and organisations are the applicants' own words.
            table.add_row(
                *(
                    Text(str(value))
                    for value in (
                        row.educator,
                        row.organisation,
                        row.credential_title,
                        row.status.label,
                        row.attempt or "-",
                        row.days_in_state,
                        row.action,
                    )
                )
            )
        console.print(table)
