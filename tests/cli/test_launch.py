"""Starting flows: the deployments setting sends verdicts and new submissions to Prefect deployments."""

from __future__ import annotations

import dataclasses
from typing import Any

import prefect.deployments

from cli.launch import decide_in_background, process_in_background


def test_with_the_deployments_setting_runs_go_to_the_deployments(services, monkeypatch):
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(prefect.deployments, "run_deployment", lambda name, **kwargs: calls.append((name, kwargs)))
    on = dataclasses.replace(services, settings=services.settings.model_copy(update={"deployments": True}))
    decide_in_background(on)("s1")
    process_in_background(on)("s2")
    assert calls == [
        ("decide-submission/decide-submission", {"parameters": {"submission_id": "s1"}, "timeout": 0}),
        (
            "submission/submission",
            {"parameters": {"submission_id": "s2"}, "timeout": 0, "idempotency_key": "submission-s2"},
        ),
    ]
