"""Task retry policy: every task but the artifact publishers has the one preset; only transient failures retry."""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import pytest
from prefect import Task, flow
from prefect.cache_policies import NO_CACHE

import tasks
from credflow.errors import PermanentError, TransientError
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient, retried_task

#: Every task by module; the Prefect UI, logs and operators know them by these names.
TASKS = {
    "tasks.assignment": {"assign-reviewers"},
    "tasks.decision": {"aggregate-verdicts"},
    "tasks.issuance": {"issue-badges", "record-hours", "sweep-badges"},
    "tasks.letters": {"send-result"},
    "tasks.notifications": {"send-notice", "reviewer-mail", "send-badge-notice", "send-chain-notice"},
    "tasks.plans": {"send-plan-reminders"},
    "tasks.reports": {"publish-program-report"},
    "tasks.resubmission": {"close-exhausted-chain", "sweep-resubmissions"},
    "tasks.retention": {"retention-sweep", "sign-in-sweep"},
    "tasks.review": {"sweep-deadlines", "publish-waiting"},
    "tasks.transcoding": {"transcode-video", "finish-transcoding"},
    "tasks.validation": {"validate-evidence"},
}
#: Tasks that only publish a Prefect artifact, made without retries (tasks/retry.py says why).
ARTIFACT_TASKS = {"publish-waiting", "publish-program-report"}


def _all_tasks() -> dict[str, list[Task]]:
    found: dict[str, list[Task]] = {}
    for info in pkgutil.iter_modules(tasks.__path__):
        module = importlib.import_module(f"tasks.{info.name}")
        defined = [t for t in vars(module).values() if isinstance(t, Task) and t.fn.__module__ == module.__name__]
        if defined:
            found[module.__name__] = defined
    return found


def test_every_task_keeps_its_name_in_its_step_module():
    assert {module: {t.name for t in defined} for module, defined in _all_tasks().items()} == TASKS


def test_every_retried_task_has_the_same_preset_and_artifact_tasks_have_none():
    for defined in _all_tasks().values():
        for t in defined:
            assert t.cache_policy is NO_CACHE, t.name
            if t.name in ARTIFACT_TASKS:
                assert (t.retries, t.retry_condition_fn) == (0, None), t.name
                continue
            policy = (t.retries, t.retry_delay_seconds, t.retry_jitter_factor, t.retry_condition_fn)
            assert policy == (RETRIES, RETRY_DELAYS, RETRY_JITTER, only_transient), t.name
    assert RETRIES > 0 and len(RETRY_DELAYS) == RETRIES and all(d > 0 for d in RETRY_DELAYS)


def _flaky(failures: list[Exception]):
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return len(calls)

    # The preset itself, without its waits: the test checks what is retried, not how long it waits.
    flaky = retried_task(name="flaky")(step).with_options(retry_delay_seconds=0)

    @flow
    def run() -> int:
        return flaky()

    return run, calls


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_transient_errors_are_retried_until_success():
    run, calls = _flaky([TransientError("throttled"), ConnectionError("reset")])
    assert run() == 3 and len(calls) == 3


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_a_lasting_transient_error_fails_after_the_presets_retries():
    run, calls = _flaky([TransientError("still throttled") for _ in range(RETRIES + 1)])
    with pytest.raises(TransientError, match="still throttled"):
        run()
    assert len(calls) == RETRIES + 1


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_permanent_errors_fail_at_once():
    run, calls = _flaky([PermanentError("corrupt input")])
    with pytest.raises(PermanentError, match="corrupt input"):
        run()
    assert len(calls) == 1


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_unknown_errors_are_treated_as_bugs_and_not_retried():
    run, calls = _flaky([KeyError("oops")])
    with pytest.raises(KeyError):
        run()
    assert len(calls) == 1


def test_a_retried_call_retries_transient_errors_with_the_task_delays_and_fails_permanent_ones_at_once(monkeypatch):
    import tasks.retry as retry

    slept: list[float] = []
    monkeypatch.setattr(retry, "time", SimpleNamespace(sleep=slept.append))
    calls: list[int] = []

    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise TransientError("database is locked")
        return n * 2

    assert retry.retried_call(flaky, 21) == 42
    assert len(calls) == 3 and len(slept) == 2
    assert all(d * (1 - RETRY_JITTER) <= s <= d * (1 + RETRY_JITTER) for d, s in zip(RETRY_DELAYS, slept, strict=False))

    def always_transient() -> None:
        raise TransientError("down")

    slept.clear()
    with pytest.raises(TransientError):
        retry.retried_call(always_transient)
    assert len(slept) == RETRIES  # the same number of retries as a task, then the error

    def permanent() -> None:
        raise PermanentError("bad input")

    slept.clear()
    with pytest.raises(PermanentError):
        retry.retried_call(permanent)
    assert slept == []
