"""The one retry policy of credflow's tasks: transient failures retried with jittered backoff, permanent ones never.

Every task is made by :func:`retried_task`, except the two that only publish Prefect
artifacts (publish-waiting, publish-program-report), made by :func:`artifact_task` without
retries: an artifact is an operator's view that the next run republishes under the same key,
and it changes nothing a retry could leave half done, so backing off for up to 30 s would
only hold up the flow whose real work is already saved. (A submission's own artifact is not
a task at all: ``tasks/artifacts.py`` says why.)

A one-line database step that an operator never retries on its own (aggregating a decision's
verdicts, recording its hours) runs inside its flow as a plain call with the same policy,
:func:`retried_call`: each task run costs Prefect three state events and their recording.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from sqlalchemy.exc import OperationalError

from credflow.errors import PermanentError, TransientError

P = ParamSpec("P")
R = TypeVar("R")

RETRIES = 4
RETRY_DELAYS: list[float] = exponential_backoff(backoff_factor=2)(RETRIES)  # 2, 4, 8, 16 s before jitter
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


def retried_task(*, name: str, task_run_name: str | None = None) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task with the shared retry policy and no result cache (results depend on the database, not the inputs)."""
    return task(
        name=name,
        task_run_name=task_run_name,
        retries=RETRIES,
        retry_delay_seconds=RETRY_DELAYS,
        retry_jitter_factor=RETRY_JITTER,
        retry_condition_fn=only_transient,
        cache_policy=NO_CACHE,
    )


def artifact_task(*, name: str, task_run_name: str | None = None) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that only publishes a Prefect artifact: no retries (see the module docstring), no result cache."""
    return task(name=name, task_run_name=task_run_name, cache_policy=NO_CACHE)


def retried_call(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``fn`` in the current run (no task run), retrying transient errors as :func:`retried_task` does."""
    for delay in RETRY_DELAYS:
        try:
            return fn(*args, **kwargs)
        except PermanentError:
            raise
        except (TransientError, *_TRANSIENT_OS_ERRORS):
            time.sleep(delay * (1 + random.uniform(-RETRY_JITTER, RETRY_JITTER)))  # noqa: S311  (jitter, not a secret)
    return fn(*args, **kwargs)
