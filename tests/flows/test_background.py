"""Background workers: a dispatched submission runs as a named, tagged flow run in a long-lived `credflow worker`.

The worker is a real subprocess on the session's Prefect test server and the test's SQLite
database; a dispatch whose holder died (a lapsed lease, its flow run left Running) is handed out
again by the worker's sweep, runs once more, and the dead holder's run is marked Crashed.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings
from prefect.states import Running

from cli.children import stop_children
from cli.demo_reviewers import free_port
from cli.launch import process_in_background
from credflow.db.models import Dispatch, utcnow
from credflow.dispatch.rules import FlowKind
from credflow.dispatch.stage import claim, hand_out, record_run
from credflow.intake.stage import submit
from credflow.states import DispatchState
from credflow.submissions import get_submission
from flows.submission import process_submission
from tests.utils.builders import anchoring_request, applicant

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

ROOT = Path(__file__).resolve().parents[2]
LEASE = 6  # seconds: the worker renews every 1.5 s and sweeps every 3 s
STATUS = free_port()


def _wait(
    what: str, done: Callable[[], bool], timeout: float = 90, child: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert child is None or child.poll() is None, f"the worker exited {child.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def on(make_settings):
    from credflow.services import build_services

    svc = build_services(make_settings(dispatch_lease_seconds=LEASE, deployments=True))
    yield svc
    svc.close()


@pytest.fixture
def worker(on, tmp_path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDFLOW_")}
    env.update(
        PREFECT_API_URL=str(get_current_settings().api.url),
        PYTHONPATH=str(ROOT),
        CREDFLOW_DATA_DIR=str(on.settings.data_dir),
        CREDFLOW_CATALOG_DIR=str(ROOT / "rubrics"),
        CREDFLOW_DISPATCH_LEASE_SECONDS=str(LEASE),
        CREDFLOW_SECRET_KEY=on.settings.secret_key.get_secret_value(),
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--name", "w1", "--limit", "2", "--status-port", str(STATUS)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield child
    stop_children([child])
    print(log.read_text(errors="replace")[-3000:])


def _state(services, sid: str) -> str:
    with services.db.session() as session:
        return get_submission(session, sid).state


def _dispatch(services, sid: str) -> Dispatch:
    from sqlalchemy import select

    with services.db.session() as session:
        return session.scalars(select(Dispatch).where(Dispatch.submission_id == sid)).one()


def _runs_of(sid: str) -> list:
    with get_client(sync_client=True) as client:
        return [r for r in client.read_flow_runs() if (r.parameters or {}).get("submission_id") == sid]


def test_a_dispatched_submission_runs_in_the_worker_and_a_dead_holders_run_is_handed_out_again(on, worker, tmp_path):
    # The intake's hook hands the new submission to the workers; the worker runs its flow.
    first = submit(on, anchoring_request(tmp_path)).submission_id
    process_in_background(on)(first)
    process_in_background(on)(first)  # a second call hands nothing out: one run per submission
    _wait("the first submission's flow", lambda: _dispatch(on, first).state == DispatchState.DONE, child=worker)
    assert _state(on, first) in ("awaiting_review", "in_review")
    [run] = _runs_of(first)
    assert run.state_name == "Completed" and run.name.startswith("openscied-anchoring-phenomenon-")
    assert "worker:w1" in run.tags and "credential:openscied-anchoring-phenomenon" in run.tags
    assert _dispatch(on, first).flow_run_id == str(run.id)

    # A holder that died mid-run: its dispatch is running under a lease nobody renews, its run left Running.
    second = submit(on, anchoring_request(tmp_path, who=applicant("Bo Berg"))).submission_id
    handed = hand_out(on, FlowKind.SUBMISSION, second, now=utcnow())
    assert handed is not None
    assert claim(on, handed.id, owner="dead-host:1", now=utcnow() - timedelta(seconds=LEASE)) is not None
    with get_client(sync_client=True) as client:
        orphan = client.create_flow_run(
            process_submission, parameters={"submission_id": second}, state=Running(), tags=[f"dispatch:{handed.id}"]
        )
    record_run(on, handed.id, owner="dead-host:1", flow_run_id=str(orphan.id))

    _wait(
        "the lapsed dispatch to be handed out again and run",
        lambda: _dispatch(on, second).state == "done",
        child=worker,
    )
    row = _dispatch(on, second)
    assert row.handed == 2 and row.attempts == 2 and row.owner != "dead-host:1"
    assert _state(on, second) in ("awaiting_review", "in_review")
    runs = {str(r.id): r.state_name for r in _runs_of(second)}
    assert runs.pop(str(orphan.id)) == "Crashed"
    assert list(runs.values()) == ["Completed"]  # one run did the work


def test_the_worker_answers_its_health_check_and_leaves_on_sigterm(worker):
    import httpx

    def status() -> dict:
        try:
            return dict(httpx.get(f"http://127.0.0.1:{STATUS}/status", timeout=2).json())
        except httpx.HTTPError:
            return {}

    _wait("the worker's status page", lambda: bool(status()), child=worker)
    assert status()["limit"] == 2
    stop_children([worker], grace=20)
    assert worker.returncode is not None


def test_a_dispatch_prefect_cannot_take_stays_queued_for_the_sweep(on, tmp_path, monkeypatch):
    import flows.background as background

    def refuse(svc, handed):
        raise ConnectionError("Prefect is down")

    monkeypatch.setattr(background, "_give", refuse)
    sid = submit(on, anchoring_request(tmp_path)).submission_id
    assert background.dispatch(dataclasses.replace(on), FlowKind.SUBMISSION, sid) is not None
    row = _dispatch(on, sid)
    assert row.state == DispatchState.QUEUED and row.lease_until is not None and row.handed == 1
