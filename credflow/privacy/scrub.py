"""Replacing personal strings inside free text and JSON values (comments, problems, errors)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from credflow.privacy.identity import ERASED


class Scrubber:
    """Replaces every case-insensitive, whole-word occurrence of the given strings with ``[erased]``.

    Give it the full name and the email (and its local part): single name parts are not searched
    for, as first names and surnames are often ordinary words ("Will", "Young").
    """

    def __init__(self, needles: Iterable[str]) -> None:
        # Longest first, so "ana.alvarez@example.org" goes before "Ana Alvarez"; very short ones
        # ("Al") would erase ordinary words, so they are left alone.
        kept = sorted({n.strip() for n in needles if len(n.strip()) >= 3}, key=len, reverse=True)
        alternatives = "|".join(re.escape(n) for n in kept)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if kept else None

    def text(self, value: str) -> str:
        """The text with every needle replaced."""
        return value if self._pattern is None else self._pattern.sub(ERASED, value)

    def json(self, value: Any) -> Any:
        """A JSON value (dicts, lists, strings) with every string scrubbed, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def mentions(self, value: Any) -> bool:
        """Whether the value (text or JSON) contains a needle."""
        return self._pattern is not None and bool(self._pattern.search(str(value)))
