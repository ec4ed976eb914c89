"""The web tests' shared fixture: Debian's chromium, launched once per browser-test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium with the guide's flags (tests/utils/browser.py), for one test module."""
    from playwright.sync_api import sync_playwright

    from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
