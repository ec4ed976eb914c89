"""Starting flows: the deployments setting hands verdicts and new submissions to the background workers."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

import flows.background as background
from cli.launch import decide_in_background, process_in_background, run_tags
from credflow.db.models import Dispatch
from credflow.dispatch.stage import Handed
from credflow.intake.stage import submit
from tests.utils.builders import anchoring_request


def _handed_out(monkeypatch) -> list[Handed]:
    given: list[Handed] = []
    monkeypatch.setattr(background, "_give", lambda svc, handed: given.append(handed))
    return given


def _with_deployments(services):
    return dataclasses.replace(services, settings=services.settings.model_copy(update={"deployments": True}))


def test_with_the_deployments_setting_runs_are_handed_to_the_workers(services, monkeypatch, tmp_path):
    given = _handed_out(monkeypatch)
    on = _with_deployments(services)
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    decide_in_background(on)(sid)
    process_in_background(on)(sid)
    process_in_background(on)(sid)  # a submission is handed out once
    assert [(h.kind.value, h.submission_id) for h in given] == [("decide", sid), ("submission", sid)]
    with services.db.session() as session:
        rows = session.scalars(select(Dispatch).order_by(Dispatch.created_at)).all()
    assert {r.id for r in rows} == {h.id for h in given}
    assert {r.state for r in rows} == {"queued"} and all(r.lease_until is not None for r in rows)
    tags = [
        "credential:openscied-anchoring-phenomenon",
        f"issuer:{services.catalog.get('openscied-anchoring-phenomenon').issuer.id}",
    ]
    assert run_tags(services, sid) == tags
