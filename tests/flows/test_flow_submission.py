"""The submission flow under a Prefect test server: stages, names, run tags, one artifact per run, safe re-runs."""

from __future__ import annotations

import io
import ssl
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import prefect.concurrency._sync as prefect_concurrency
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import TaskRun
from prefect.client.schemas.sorting import ArtifactSort
from sqlalchemy import func, select

from cli import demo_evidence as ev
from credflow.db.models import OutgoingMessage, Transcode
from credflow.errors import PermanentError
from credflow.intake.rules import IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.mail.outbox import OutboxMailer
from credflow.media import samples
from credflow.submissions import events_of, get_submission
from credflow.validation.stage import run_validation
from flows.submission import process_submission, run_submission
from tasks.artifacts import publish_on_failure
from tasks.runtime import use_services
from tests.utils import badfiles
from tests.utils.builders import anchoring_request, applicant

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _outbox(services) -> list[dict]:
    return OutboxMailer(services.settings.resolved_outbox_dir, sender="x@example.org").list_messages()


def _run(services, submission_id: str) -> str:
    with use_services(services):
        return run_submission(submission_id)


def _flow_runs(name_prefix: str):
    with get_client(sync_client=True) as client:
        return [run for run in client.read_flow_runs() if run.name.startswith(name_prefix)]


def _flow_runs_of_flow(flow_name: str):
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))


def _artifacts(key: str):
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC
        )


def _task_runs_of(flow_run_id: UUID, *, at_least: int, timeout: float = 30) -> list[TaskRun]:
    """The flow run's task runs, once the server has recorded ``at_least`` of them (it records them from events)."""
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        if len(runs) >= at_least or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def test_a_document_submission_flows_to_awaiting_review(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    assert _run(services, sid) == "awaiting_review"
    with services.db.session() as session:
        assert [e.to_state for e in events_of(session, sid) if e.kind == "state"] == [
            "received",
            "validating",
            "awaiting_review",
        ]
    assert [m["kind"] for m in _outbox(services)] == ["received"]
    [run] = _flow_runs(f"openscied-anchoring-phenomenon-{sid[:8]}-a1")
    assert set(run.tags) >= {"credential:openscied-anchoring-phenomenon", "issuer:openscied"}
    # One artifact version per run, written as the run ends: the submission as the flow left it.
    [version] = _artifacts(f"submission-{sid}")
    assert version.flow_run_id == run.id
    assert "`awaiting_review`" in str(version.data) and "plan\\.pdf" in str(version.data)
    # A second run of the same submission adds one version; the keyed artifact keeps the history.
    assert _run(services, sid) == "awaiting_review"
    assert len(_artifacts(f"submission-{sid}")) == 2


def test_tasks_of_a_tagged_run_take_no_tag_concurrency_slots(services, tmp_path, monkeypatch):
    taken: list[list[str]] = []
    acquire = prefect_concurrency.acquire_concurrency_slots_with_lease

    def counted(names: list[str], *args: Any, **kwargs: Any) -> Any:
        taken.append(list(names))
        return acquire(names, *args, **kwargs)

    monkeypatch.setattr(prefect_concurrency, "acquire_concurrency_slots_with_lease", counted)
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    assert _run(services, sid) == "awaiting_review"
    # The tags are on the flow run; under ``with tags(...)`` each of its 3 tasks asked the API for a tag: slot.
    [run] = _flow_runs(f"openscied-anchoring-phenomenon-{sid[:8]}-a1")
    assert {"credential:openscied-anchoring-phenomenon", "issuer:openscied"} <= set(run.tags)
    assert [names for names in taken if any(name.startswith("tag:") for name in names)] == []
    task_runs = _task_runs_of(run.id, at_least=3)  # received notice, validation, assignment round
    assert f"validate-{sid}" in {t.name for t in task_runs}, [t.name for t in task_runs]
    assert all(t.tags == [] for t in task_runs), {t.name: t.tags for t in task_runs}


def test_runs_started_in_process_share_one_tls_context(services, tmp_path, monkeypatch):
    built: list[object] = []
    create = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(kwargs.get("cafile"))
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    first = submit(services, anchoring_request(tmp_path)).submission_id
    second = submit(services, anchoring_request(tmp_path, who=applicant("Ana Other"))).submission_id
    assert _run(services, first) == _run(services, second) == "awaiting_review"
    # Prefect builds one for every new client (30 ms of CPU each); the runs' clients share one.
    assert len(built) <= 1, built


def test_in_process_runs_read_no_default_storage_and_ask_for_csrf_once_per_server(services, tmp_path, monkeypatch):
    import httpx

    asked: list[str] = []
    send = httpx.Client.send

    def counted(self: httpx.Client, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        asked.append(request.url.path)
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", counted)
    first = submit(services, anchoring_request(tmp_path)).submission_id
    second = submit(services, anchoring_request(tmp_path, who=applicant("Ana Other"))).submission_id
    assert _run(services, first) == _run(services, second) == "awaiting_review"
    # Without result storage of their own, each run read the server's default storage block twice;
    # each run's new client asked for a CSRF token the server (without CSRF protection) refuses.
    assert [path for path in asked if path.endswith("/admin/storage")] == []
    assert len([path for path in asked if path.endswith("/csrf-token")]) <= 1, asked


@flow(name="fails-midway", on_failure=[publish_on_failure])
def _fails_midway(submission_id: str) -> None:
    """Fail after the submission was received, as a broken stage would."""
    raise PermanentError("a stage broke")


def test_a_failed_run_still_publishes_its_artifact_once(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    with use_services(services), pytest.raises(PermanentError):
        _fails_midway(sid)
    [version] = _artifacts(f"submission-{sid}")
    [run] = _flow_runs_of_flow("fails-midway")
    assert version.flow_run_id == run.id and "`received`" in str(version.data)


def test_a_bad_submission_is_returned_while_the_next_one_keeps_flowing(services, tmp_path):
    bomb = badfiles.zip_bomb_docx(tmp_path)
    bad = IntakeRequest(
        applicant=applicant("Bo Bad"),
        credential_id="udl-level-1",
        answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
        uploads=[Upload("udl_lesson_plan", "plan.docx", io.BytesIO(bomb.read_bytes()))],
    )
    bad_id = submit(services, bad).submission_id
    good_id = submit(services, anchoring_request(tmp_path)).submission_id
    assert _run(services, bad_id) == "returned"
    assert _run(services, good_id) == "awaiting_review"
    kinds = sorted((m["kind"], m["idempotency_key"].split(":")[1]) for m in _outbox(services))
    assert kinds == sorted([("received", bad_id), ("returned", bad_id), ("received", good_id)])
    returned = next(m for m in _outbox(services) if m["kind"] == "returned")
    eml = (services.settings.resolved_outbox_dir / returned["eml"]).read_text()
    assert "zip bomb" in eml and "does not cost you an attempt" in eml


@pytest.fixture(scope="module")
def portrait_clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("flowclips")
    return samples.make_video(folder / "portrait.mp4", seconds=62, width=320, height=180, fps=30, rotation=90)


def _udl_with_video(tmp_path: Path, clip: Path, who: str) -> IntakeRequest:
    plan = ev.docx(tmp_path / f"{who}.docx", ["UDL plan", who]).read_bytes()
    return IntakeRequest(
        applicant=applicant(who),
        credential_id="udl-level-1",
        answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
        uploads=[
            Upload("udl_lesson_plan", "plan.docx", io.BytesIO(plan)),
            Upload("classroom_video", "clip.mp4", io.BytesIO(clip.read_bytes())),
        ],
    )


def test_videos_are_transcoded_once_per_content_and_reruns_redo_nothing(services, tmp_path, portrait_clip):
    first = submit(services, _udl_with_video(tmp_path, portrait_clip, "Dev Patel")).submission_id
    second = submit(services, _udl_with_video(tmp_path, portrait_clip, "Kim Lee")).submission_id
    assert _run(services, first) == "awaiting_review"
    assert _run(services, second) == "awaiting_review"
    with services.db.session() as session:
        [row] = session.scalars(select(Transcode)).all()
        assert row.state == "done" and row.attempts == 1
        assert (row.width, row.height) == (180, 320)  # the display rotation is applied
    assert services.store.exists(row.output_key) and services.store.exists(row.poster_key)
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("transcode")
    assert limit.limit == services.settings.transcode_concurrency == 2

    # A re-run of a finished submission changes nothing and sends nothing.
    assert _run(services, first) == "awaiting_review"
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutgoingMessage)) == 2
        assert session.scalar(select(Transcode.attempts)) == 1


def test_a_run_that_stopped_midway_continues_where_it_stopped(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    run_validation(services, sid)  # the stage finished, then the process "crashed"
    with services.db.session() as session:
        before = len(events_of(session, sid))
    assert _run(services, sid) == "awaiting_review"
    with services.db.session() as session:
        after = events_of(session, sid)
        assert get_submission(session, sid).state == "awaiting_review"
    # Validation did not run again: only the received notice and the (empty) assignment round followed.
    assert [e.kind for e in after[before:]] == ["message_sent", "assignment_shortfall"]
    assert [e.to_state for e in after if e.kind == "state"].count("validating") == 1


def test_the_flow_object_keeps_its_ui_facing_contract():
    assert process_submission.name == "submission"
    assert process_submission.description and "\n" not in process_submission.description.strip()
