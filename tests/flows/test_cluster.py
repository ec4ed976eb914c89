"""Production set-up end to end: Prefect server on PostgreSQL, two credflow workers, S3 over HTTP, SendGrid fake.

A cohort goes in through the HTTP intake of ``credflow serve`` (with ``CREDFLOW_DEPLOYMENTS=1``),
its flows are handed to two ``credflow worker`` processes as background task runs, the reviewers
answer the links in the emails the SendGrid fake received, and every submission must end decided
exactly once: one decision, one result letter, one badge per earned credential, with the work
spread over both workers, although one worker is killed (SIGKILL) mid-cohort while it runs a flow
and started again: its runs are handed out again when their leases lapse.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cli import demo_evidence as ev
from cli.demo_reviewers import LINK, review_over_http
from credflow.db.models import Assignment, Decision, Dispatch, IssuedBadge, Submission
from credflow.review.stage import open_assignment
from tests.utils.builders import anchoring_answers
from tests.utils.cluster import Cluster, flow_runs, idempotency_key, message_text, running_cluster, write_pool

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

CREDENTIAL = "openscied-anchoring-phenomenon"
COHORT = int(os.environ.get("CREDFLOW_CLUSTER_COHORT", "30"))
NOT_YET_EVERY = 4  # every 4th applicant: both reviewers find one criterion Not Yet
SPLIT = {1, 6}  # these applicants' reviewers disagree on one criterion, so a lead adjudicates


def _submit(cluster: Cluster, tmp_path: Path, n: int) -> str:
    import httpx

    plan = ev.pdf(tmp_path / f"plan-{n}.pdf", f"Plan {n}").read_bytes()
    response = httpx.post(
        f"{cluster.web_url}/api/submissions",
        data={
            "name": f"Teacher {n:02d}",
            "email": f"teacher{n:02d}@school.example.org",
            "organisation": f"School {n:02d}",
            "credential_id": CREDENTIAL,
            "answers": json.dumps(anchoring_answers()),
            "requirement_keys": ["facilitation_plan"],
        },
        files=[("files", ("plan.pdf", plan, "application/pdf"))],
        headers={"Idempotency-Key": f"cohort-{n}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["submission_id"])


def _verdicts(n: int, turn: int, role: str, criteria_hint: str) -> dict[str, tuple[str, str]]:
    """How the scripted reviewers score applicant ``n`` (criteria not named here are Met)."""
    comment = "The plan does not yet show how participants notice and wonder."
    if role == "adjudication":
        return {criteria_hint: ("met", "")}
    if n % NOT_YET_EVERY == 0 or (n in SPLIT and turn == 0):
        return {criteria_hint: ("not_yet", comment)}
    return {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster"), workers=2, worker_limit=2) as running:
        yield running


def test_a_cohort_is_decided_exactly_once_across_two_workers(cluster, tmp_path):
    pool = write_pool(tmp_path / "pool.yaml", 12, [CREDENTIAL])
    cluster.run("credflow", "reviewers", "import", str(pool))
    services = cluster.services()
    applicants = {_submit(cluster, tmp_path, n): n for n in range(1, COHORT + 1)}
    criterion = services.catalog.get(CREDENTIAL).rubric[0].criteria[0].key

    answered: set[str] = set()
    turns: Counter[str] = Counter()

    def review_new_links() -> None:
        for message in cluster.sendgrid.messages:
            key = idempotency_key(message.payload)
            if not key.startswith("assignment:") or key in answered:
                continue
            answered.add(key)
            link = LINK.search(message_text(message.payload))
            assert link, f"no review link in {key}"
            assignment = open_assignment(services, link.group(1).rsplit("/", 1)[1])
            n = applicants[assignment.submission_id]
            turn = turns[assignment.submission_id] if assignment.role == "review" else 0
            if assignment.role == "review":
                turns[assignment.submission_id] += 1
            status = review_over_http(link.group(1), _verdicts(n, turn, assignment.role, criterion))
            assert status in (200, 303), f"review of {key} answered {status}"

    def all_decided() -> bool:
        review_new_links()
        with services.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Decision)) or 0) >= COHORT

    def holds_a_run(name: str) -> bool:
        review_new_links()
        pid = cluster.processes[name].popen.pid
        with services.db.session() as session:
            owners = session.scalars(select(Dispatch.owner).where(Dispatch.state == "running")).all()
        return any(owner and owner.endswith(f":{pid}") for owner in owners)

    cluster.wait_for("worker-1 to run a flow", lambda: holds_a_run("worker-1"), timeout=300, interval=0.2)
    killed = cluster.kill("worker-1")  # mid-run, no clean-up: its lease lapses and a sweep hands the run out again
    with services.db.session() as session:
        held = select(Dispatch.id).where(Dispatch.owner.like(f"%:{killed}"), Dispatch.state == "running")
        orphaned = set(session.scalars(held).all())
    cluster.start_worker("worker-1")  # as its service manager would

    cluster.wait_for(f"{COHORT} decisions", all_decided, timeout=600, interval=2)
    cluster.wait_for(  # the last decisions' letters and badges follow within the same flow runs
        "the result letters",
        lambda: sum(idempotency_key(m.payload).startswith("result:") for m in cluster.sendgrid.messages) >= COHORT,
        timeout=180,
    )

    with services.db.session() as session:
        decisions = Counter(session.scalars(select(Decision.submission_id)).all())
        states = dict(session.execute(select(Submission.id, Submission.state)).tuples().all())
        badges = Counter(session.scalars(select(IssuedBadge.submission_id).where(IssuedBadge.kind == "micro")).all())
    assert set(decisions) == set(applicants) and set(decisions.values()) == {1}
    expected_not_yet = {sid for sid, n in applicants.items() if n % NOT_YET_EVERY == 0}
    assert {sid for sid, state in states.items() if state == "not_yet"} == expected_not_yet
    earned = {sid for sid, state in states.items() if state == "earned"}
    assert earned == set(applicants) - expected_not_yet
    assert set(badges) == earned and set(badges.values()) == {1}

    keys = Counter(idempotency_key(m.payload) for m in cluster.sendgrid.messages)
    assert [k for k, count in keys.items() if count > 1] == [], "a message was delivered twice"
    assert {k.removeprefix("result:") for k in keys if k.startswith("result:")} == set(applicants)
    with services.db.session() as session:
        assignments = dict(session.execute(select(Assignment.id, Assignment.role)).tuples().all())
    roles = Counter(assignments.values())
    assert roles["review"] == 2 * COHORT and roles["adjudication"] == len(SPLIT & set(applicants.values()))
    assert {k.removeprefix("assignment:") for k in keys if k.startswith("assignment:")} == set(assignments)

    def settled() -> list:
        runs = [r for r in flow_runs(cluster) if r.state_name != "Scheduled"]  # sweeps wait for their time
        return runs if all(r.state.is_final() for r in runs) else []

    def dispatch_states() -> Counter[str]:
        with services.db.session() as session:
            return Counter(session.scalars(select(Dispatch.state)).all())

    # A run the killed worker held is handed out again only once its lease lapses (15 s here) and a
    # sweep finds it; its new run then finds its work done (or does it): every dispatch ends done.
    cluster.wait_for("every dispatch to be done", lambda: set(dispatch_states()) == {"done"}, timeout=180)
    cluster.wait_for("the last flow runs to finish", lambda: bool(settled()), timeout=120)
    ours = settled()
    # Only the runs the killed worker left behind did not complete: a sweep marked them Crashed.
    crashed = {str(r.id) for r in ours if r.state_name == "Crashed"}
    not_completed = [(r.name, r.state_name) for r in ours if r.state_name not in ("Completed", "Crashed")]
    assert not_completed == [], not_completed
    with services.db.session() as session:
        dispatches = session.scalars(select(Dispatch)).all()
    assert {d.state for d in dispatches} == {"done"}, Counter(d.state for d in dispatches)
    again = {d.id for d in dispatches if d.handed > 1}
    assert orphaned and orphaned <= again, (orphaned, again)  # the killed worker's runs were handed out again
    assert all("worker:worker-1" in r.tags for r in ours if str(r.id) in crashed)  # none if it died before its run
    completed = [r for r in ours if r.state_name == "Completed"]
    by_worker = Counter(next((t for t in r.tags if t.startswith("worker:")), None) for r in completed)
    assert set(by_worker) == {"worker:worker-1", "worker:worker-2"}, by_worker
    assert min(by_worker.values()) >= len(completed) // 5, f"the work was not spread: {by_worker}"
    submission_runs = Counter(r.parameters.get("submission_id") for r in completed if r.name.startswith(CREDENTIAL))
    assert set(submission_runs) == set(applicants) and set(submission_runs.values()) == {1}
    print(f"flow runs by worker: {dict(by_worker)}; crashed by the kill: {len(crashed)}; handed again: {len(again)}")


def _operator_alerts(cluster: Cluster, run_id: str) -> list[str]:
    return [
        idempotency_key(m.payload)
        for m in cluster.sendgrid.messages
        if idempotency_key(m.payload).startswith("operator_alert:") and run_id[:8] in idempotency_key(m.payload)
    ]


def test_failed_and_crashed_runs_alert_the_operator_once_through_the_automation(cluster):
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Crashed, Scheduled

    from credflow.dispatch.rules import FlowKind
    from flows.automations import ALERTS, SILENT
    from flows.background import dispatch

    with temporary_settings({PREFECT_API_URL: cluster.api_url}):
        # credflow serve installed them on start, pointing at its own /ops/alerts
        def automations() -> list[Any]:
            with get_client(sync_client=True) as client:
                return [a for name in (ALERTS, SILENT) for a in client.read_automations_by_name(name=name)]

        cluster.wait_for("the automations", lambda: len(automations()) == 2, timeout=60)
        installed: list[Any] = [Automation.read(name=name) for name in (ALERTS, SILENT)]
        assert {a.name for a in installed} == {ALERTS, SILENT}

        # A run that fails in a live worker process: its on_failure hook and the automation both report it.
        with cluster.aws_env():
            dispatch_id = dispatch(cluster.services(), FlowKind.DECISION, "0" * 32)
        failed: Any = None

        def failed_run() -> bool:
            nonlocal failed
            failed = next((r for r in flow_runs(cluster) if r.name == f"decide-{'0' * 32}"), None)
            return failed is not None and failed.state_name == "Failed"

        cluster.wait_for("the failed run", failed_run, timeout=180)
        with cluster.services().db.session() as session:
            assert session.get_one(Dispatch, dispatch_id).state == "failed"  # not handed out again
        cluster.wait_for("its alert", lambda: bool(_operator_alerts(cluster, str(failed.id))), timeout=60)

        # A run whose process died: nothing in it can report, so only the automation does.
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("assign-reviewers/assign-reviewers")
            lost = client.create_flow_run_from_deployment(
                deployment.id, state=Scheduled(scheduled_time=pendulum_in_a_day())
            )
            client.set_flow_run_state(lost.id, Crashed(message="the worker host was lost"), force=True)
        cluster.wait_for("the crash alert", lambda: bool(_operator_alerts(cluster, str(lost.id))), timeout=90)

    alerts_posted = cluster.processes["web"].log.read_text(encoding="utf-8").count('"POST /ops/alerts HTTP/1.1" 202')
    assert alerts_posted >= 2  # the automation's webhook reached credflow for both runs
    failed_alerts = _operator_alerts(cluster, str(failed.id))
    assert len(failed_alerts) == 1 and failed_alerts[0].endswith("failed")  # hook + automation: one email
    [crash_alert] = _operator_alerts(cluster, str(lost.id))
    assert crash_alert.endswith("crashed")
    message = next(m for m in cluster.sendgrid.messages if idempotency_key(m.payload) == crash_alert)
    assert "the worker host was lost" in message_text(message.payload)
    assert message.payload["personalizations"][0]["to"][0]["email"] == "operator@credflow.example"


def flow_runs_by_id(cluster: Cluster, run_id) -> Any:
    return next(r for r in flow_runs(cluster) if r.id == run_id)


def pendulum_in_a_day():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=1)
