"""Starting flows: the deployments setting sends verdicts and new submissions to Prefect deployments, tagged."""

from __future__ import annotations

import dataclasses
from typing import Any

import prefect.deployments

from cli.launch import decide_in_background, process_in_background, run_tags
from credflow.intake.stage import submit
from tests.utils.builders import anchoring_request


def _deployment_runs(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(prefect.deployments, "run_deployment", lambda name, **kwargs: calls.append((name, kwargs)))
    return calls


def _with_deployments(services):
    return dataclasses.replace(services, settings=services.settings.model_copy(update={"deployments": True}))


def test_with_the_deployments_setting_runs_go_to_the_deployments(services, monkeypatch, tmp_path):
    calls = _deployment_runs(monkeypatch)
    on = _with_deployments(services)
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    decide_in_background(on)(sid)
    process_in_background(on)(sid)
    tags = [
        "credential:openscied-anchoring-phenomenon",
        f"issuer:{services.catalog.get('openscied-anchoring-phenomenon').issuer.id}",
    ]
    assert run_tags(services, sid) == tags
    assert calls == [
        ("decide-submission/decide-submission", {"parameters": {"submission_id": sid}, "timeout": 0, "tags": tags}),
        (
            "submission/submission",
            {"parameters": {"submission_id": sid}, "timeout": 0, "idempotency_key": f"submission-{sid}", "tags": tags},
        ),
    ]
