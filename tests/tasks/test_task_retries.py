"""Task retry policy: transient failures are retried, permanent ones fail at once."""

from __future__ import annotations

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from credflow.errors import PermanentError, TransientError
from tasks.retry import only_transient

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _flaky(failures: list[Exception]):
    calls: list[int] = []

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=only_transient, cache_policy=NO_CACHE)
    def step() -> int:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return len(calls)

    @flow
    def run() -> int:
        return step()

    return run, calls


def test_transient_errors_are_retried_until_success():
    run, calls = _flaky([TransientError("throttled"), ConnectionError("reset")])
    assert run() == 3 and len(calls) == 3


def test_permanent_errors_fail_at_once():
    run, calls = _flaky([PermanentError("corrupt input")])
    with pytest.raises(PermanentError, match="corrupt input"):
        run()
    assert len(calls) == 1


def test_unknown_errors_are_treated_as_bugs_and_not_retried():
    run, calls = _flaky([KeyError("oops")])
    with pytest.raises(KeyError):
        run()
    assert len(calls) == 1
