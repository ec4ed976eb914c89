"""The plumbing every ``credflow`` subcommand shares: the consoles, the failure exit and the services."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from credflow.services import Services, build_services
from credflow.settings import load_settings

# Piped output (make, CI logs, scripts) gets wide tables rather than rich's 80-column default.
# No emoji codes: rich would print "did:key:z6Mk..." as "did🔑z6Mk...".
console = Console(width=None if sys.stdout.isatty() else 180, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


class Format(StrEnum):
    """How a report prints: an option taking it refuses any other word (typer makes it a choice)."""

    TABLE = "table"
    CSV = "csv"


def fail(message: str) -> NoReturn:
    """Print ``credflow: <message>`` on stderr and exit with status 2."""
    # Text, not markup: messages quote what people typed ("-e '[bold]=x'" must not vanish or crash rich).
    err.print(Text.assemble(("credflow:", "red"), " ", message))
    raise typer.Exit(2)


def load_services() -> Services:
    """The services the settings (environment) describe, database migrated."""
    return build_services(load_settings())
