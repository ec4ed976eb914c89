"""Debian's chromium for Playwright: where it is and the flags the browser tests launch it with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def policy_violations(page: Any) -> list[str]:
    """The Content Security Policy violations the page logs from now on (a list that fills as they happen)."""
    found: list[str] = []

    def watch(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", watch)
    return found
