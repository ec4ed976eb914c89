"""`credflow serve` tries installing the operator-alert automations again when the Prefect server refuses at first."""

from __future__ import annotations

from typing import Any

import pytest

import cli.serve as serve


def test_a_refused_install_is_tried_again_until_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky(services: Any) -> tuple[list[str], str]:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("server starting")
        return ["credflow-failed-runs", "credflow-silent-runs"], "http://x/ops/alerts"

    monkeypatch.setattr(serve, "_install", flaky)
    serve.install_alerts(object(), pause=0)  # type: ignore[arg-type]
    assert len(calls) == 3


def test_after_the_last_try_serve_goes_on_without_the_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def refused(services: Any) -> tuple[list[str], str]:
        calls.append(1)
        raise ConnectionError("down")

    monkeypatch.setattr(serve, "_install", refused)
    serve.install_alerts(object(), tries=4, pause=0)  # type: ignore[arg-type]  # logged, not raised
    assert len(calls) == 4
