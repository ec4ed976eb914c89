"""Retry policy shared by tasks: transient failures are retried with jittered backoff, permanent ones never."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff
from sqlalchemy.exc import OperationalError

from credflow.errors import PermanentError, TransientError

RETRIES = 4
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5

# A dropped database connection or a locked SQLite file clears up by itself.
_TRANSIENT_OS_ERRORS = (ConnectionError, TimeoutError, OperationalError)


def only_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient errors (and network-level OS errors); fail permanent ones at once."""
    try:
        state.result()
    except PermanentError:
        return False
    except (TransientError, *_TRANSIENT_OS_ERRORS):
        return True
    except Exception:
        # Unknown errors are bugs until shown otherwise: fail fast so an operator sees them.
        return False
    return False
