"""Review flows under Prefect: verdicts move submissions on in seconds; sweeps reassign; the wait is visible."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import ArtifactSort

from cli.launch import decide_in_background, run_in_process, run_tags
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import PlanTargetRow, utcnow
from credflow.lifecycle import State
from credflow.notifications.stage import review_link
from credflow.review.stage import submit_review
from credflow.submissions import get_submission, transition
from flows.review import review_sweep
from tests.utils.builders import applicant
from tests.utils.review_cycle import assignments_of, load_pool, pool_yaml, ready_submission, review_scores
from web.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _state(services, sid: str) -> str:
    with services.db.session() as session:
        return get_submission(session, sid).state


def _finished_run(name: str, timeout: float = 120) -> FlowRun:
    """The flow run of this name once it has ended (the decision thread may still be finishing it)."""
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as prefect:
            [run] = prefect.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        if (run.state and run.state.is_final()) or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_the_last_verdict_starts_the_decision_without_holding_anything_while_waiting(services, tmp_path):
    now = utcnow()  # the decision flow reads the wall clock: this world is built on it too
    load_pool(services, pool_yaml(now.date()))
    sid = ready_submission(services, tmp_path, now=now)
    assign_reviewers(services, now=now)
    first, second = assignments_of(services, sid)
    submit_review(services, first.id, review_scores(services), now=now)
    assert _state(services, sid) == "in_review"  # waiting: only rows in the database, no process

    client = TestClient(create_app(services, on_review_submitted=decide_in_background(services)))
    path = "/review/" + review_link(services, second).split("/review/", 1)[1]
    page = client.get(path)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": csrf, **{f"verdict__{key}": "met" for key in review_scores(services)}}
    started = time.monotonic()
    assert client.post(f"{path}/submit", data=form).status_code == 200
    while _state(services, sid) == "in_review" and time.monotonic() - started < 180:  # generous: a loaded machine
        time.sleep(0.2)
    assert _state(services, sid) == "earned"
    print(f"decided {time.monotonic() - started:.1f} s after the last verdict")  # the README's figure (pytest -s)
    # The web's decide run carries the submission's tags, as the CLI's and the intake's runs do.
    run = _finished_run(f"decide-{sid}")
    assert set(run_tags(services, sid)) <= set(run.tags) and run_tags(services, sid)
    # It writes one artifact, once: its submission's (the reviews-waiting table is the sweeps').
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    assert [a.key for a in artifacts] == [f"submission-{sid}"]
    assert "`earned`" in str(artifacts[0].data)
    # Badges, hours' record and mail: issuing and sending are task runs (each retried on its own);
    # aggregating the verdicts and recording the hours are plain calls in the run.
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    names: set[str] = set()
    deadline = time.monotonic() + 30  # the server records task runs from their events, a moment later
    while not {f"issue-{sid}", f"result-{sid}"} <= names and time.monotonic() < deadline:
        with get_client(sync_client=True) as prefect:
            task_runs = prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        names = {t.name for t in task_runs}
        time.sleep(0.5)
    assert {f"issue-{sid}", f"result-{sid}"} <= names, names
    assert not {f"aggregate-{sid}", f"hours-{sid}"} & names, names


def test_the_sweep_reassigns_overdue_work_and_publishes_the_waiting_table(services, tmp_path):
    now = utcnow()  # the sweep reads the wall clock: this world is built on it too
    load_pool(services, pool_yaml(now.date()))
    sid = ready_submission(services, tmp_path, now=now - timedelta(days=10))
    assign_reviewers(services, now=now - timedelta(days=10))  # both reviews are overdue now
    state: Any = run_in_process(services, lambda: review_sweep(return_state=True))
    result = state.result()
    assert result == {"reminded": 0, "withdrawn": 2, "assigned": 2}
    states = sorted(a.state for a in assignments_of(services, sid))
    assert states == ["active", "active", "withdrawn", "withdrawn"]
    withdrawn_mails = list(services.settings.resolved_outbox_dir.glob("withdrawn-*.eml"))
    assert len(withdrawn_mails) == 2
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            # this run's table: a decision thread of an earlier test may publish one of its own later
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["reviews-waiting"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            ),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert sid in str(table.data) and "in_review" in str(table.data)


def test_the_sweep_sends_each_chain_notice_and_plan_reminder_once_and_a_rerun_sends_nothing_new(services, tmp_path):
    now = utcnow()  # the sweep reads the wall clock
    waiting = {}
    for name, days in (("Rita Reminded", 55), ("Carl Closed", 61)):  # a 60-day window ended "not yet" days ago
        sid = ready_submission(services, tmp_path, applicant(name), now=now - timedelta(days=days))
        with services.db.session() as session:
            sub = get_submission(session, sid)
            for state in (State.IN_REVIEW, State.NOT_YET):
                transition(session, sub, state, actor="test", now=now - timedelta(days=days))
        waiting[name] = sid
    with services.db.session() as session:  # Rita's plan: her reflection is due tomorrow
        applicant_id = get_submission(session, waiting["Rita Reminded"]).applicant_id
        session.add(
            PlanTargetRow(
                applicant_id=applicant_id,
                credential_id="openscied-anchoring-phenomenon",
                requirement_key="reflection",
                target_date=now.date() + timedelta(days=1),
            )
        )
    outbox = services.settings.resolved_outbox_dir
    for _ in range(2):  # the second run: nothing new goes out
        assert run_in_process(services, review_sweep) == {"reminded": 0, "withdrawn": 0, "assigned": 0}
        reminders = list(outbox.glob("resubmit_reminder-*.eml"))
        closings = list(outbox.glob("chain_closed-*.eml"))
        plans = list(outbox.glob("plan_reminder-*.eml"))
        assert (len(reminders), len(closings), len(plans)) == (1, 1, 1)
    assert "window" in closings[0].read_text()
    assert _state(services, waiting["Carl Closed"]) == "closed"
    assert _state(services, waiting["Rita Reminded"]) == "not_yet"
