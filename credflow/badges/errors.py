"""Errors raised while building, signing and verifying Open Badges."""

from __future__ import annotations

from collections.abc import Iterable

from credflow.errors import PermanentError


class BadgeError(PermanentError):
    """Base class of the badge errors: none of them goes away on retry."""


class UnknownContextError(BadgeError):
    """A document names a JSON-LD context that credflow does not bundle (contexts are never fetched)."""


class UnsafeDocumentError(BadgeError):
    """A document holds data the signature would not cover (JSON-LD safe mode); ``problems`` lists each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("document refused by JSON-LD safe mode: " + "; ".join(self.problems))


class KeyStoreError(BadgeError):
    """An issuer key file is missing, unreadable, too widely readable or inconsistent."""


class CredentialInputError(BadgeError):
    """The inputs of a credential break an Open Badges rule (a bad URL, a naive date, an unknown type)."""
