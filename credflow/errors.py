"""Error kinds shared by the domain and its adapters.

The split matters to orchestration: a :class:`TransientError` is retried, a
:class:`PermanentError` is reported at once (see ``tasks/retry.py``).
"""

from __future__ import annotations


class CredflowError(Exception):
    """Base class of every error credflow raises on purpose."""


class TransientError(CredflowError):
    """A failure that may succeed if tried again (network, throttling, a busy database)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(CredflowError):
    """A failure that will fail again the same way (bad input, refused request)."""


class ConfigurationError(PermanentError):
    """A setting or a catalog file is wrong; the message names it."""


class NotFoundError(PermanentError):
    """A record or stored object does not exist."""


class IllegalTransition(PermanentError):
    """The lifecycle state machine refused a state change."""


class IntakeRefused(PermanentError):
    """A submission was refused at intake (unknown credential, closed access window, ...)."""
