"""Debian's chromium for Playwright: where it is, the flags the browser tests launch it with, and axe-core."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.utils.locks import installing

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


AXE_DIR = Path(__file__).resolve().parents[1] / "js" / "axe"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 390)


def install_axe() -> Path:
    """axe-core from npm (tests/js/axe, ``npm ci`` from its committed lock on first use)."""
    with installing(AXE_DIR):  # another test process may be installing it
        if not AXE.exists():
            proc = subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=AXE_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"npm ci in {AXE_DIR} failed:\n{proc.stdout}\n{proc.stderr}")
    return AXE


def check_page(page: Any, axe: Path, name: str, shots: Path) -> None:
    """axe-core (WCAG 2.1 A and AA) finds nothing at 1280 and 390 px, nothing scrolls sideways; screenshots kept.

    The page's context must bypass its CSP (``bypass_csp=True``): axe is injected past the
    policy, as a browser extension would be.
    """
    shots.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800 if width > 400 else 844})
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.add_script_tag(path=str(axe))
        result: dict[str, Any] = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
        )
        problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]
        assert problems == [], f"{name} at {width}px: {problems}"
        assert len(result["passes"]) > 5  # axe did run its rules
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{name} scrolls at {width}px"
        )
        assert page.locator("h1").count() == 1
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
