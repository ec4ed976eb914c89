"""``credflow serve`` on one machine: a local Prefect server, the prefect.yaml deployments served, the pages.

A submission sent to the HTTP intake runs as a deployment run of the served ``submission``
deployment, its reviewers score through the links in the outbox, and the served
``decide-submission`` deployment decides it; stopping serve stops the Prefect server too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli import demo_evidence as ev
from cli.demo_reviewers import free_port, link_in_email, review_over_http
from flows.deployments import deployment_specs
from tests.utils.builders import anchoring_answers
from tests.utils.cluster import write_pool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _wait(what: str, done, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
            raise AssertionError(f"waiting for {what} (serve exit {proc.poll()}):\n{tail}")
        time.sleep(1)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _api_token(data: Path, web: str, email: str) -> str:
    """An API token for ``email`` in serve's database (as its owner makes one after signing in)."""
    from credflow.keyring import DEV_SECRET_KEY
    from credflow.services import build_services
    from credflow.settings import load_settings
    from tests.utils.identity import api_token

    settings = load_settings(data_dir=data, catalog_dir=ROOT / "rubrics", public_url=web, secret_key=DEV_SECRET_KEY)
    services = build_services(settings)
    try:
        return api_token(services, email)
    finally:
        services.close()


def test_serve_runs_the_single_machine_set_up_end_to_end(tmp_path):
    web_port, prefect_port = free_port(), free_port()
    web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{prefect_port}/api"
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CREDFLOW_", "PREFECT_"))},
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "CREDFLOW_DATA_DIR": str(data),
        "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
        "CREDFLOW_PUBLIC_URL": web,
        "CREDFLOW_OPERATOR_EMAIL": "operator@credflow.example",
    }
    pool = write_pool(tmp_path / "pool.yaml", 3, ["openscied-anchoring-phenomenon"])
    subprocess.run([str(BIN / "credflow"), "reviewers", "import", str(pool)], env=env, cwd=ROOT, check=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [str(BIN / "credflow"), "serve", "--port", str(web_port), "--prefect-port", str(prefect_port)],
            env=env,
            cwd=tmp_path,  # not the checkout: serve finds prefect.yaml and the flows on its own
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait("the pages", lambda: _up(f"{web}/api/openapi.json"), serve, log)
        assert _up(f"{api}/health")  # the local Prefect server (and its UI) came up first
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def served() -> set[str]:
                return {d.name for d in client.read_deployments()}

            _wait("the served deployments", lambda: served() == {s.name for s in deployment_specs()}, serve, log)
            automations = {a.name for a in client.read_automations()}
            assert {"credflow-failed-runs", "credflow-silent-runs"} <= automations

            plan = ev.pdf(tmp_path / "plan.pdf", "Plan").read_bytes()
            created = httpx.post(
                f"{web}/api/submissions",
                data={
                    "name": "Ana Alvarez",
                    "email": "ana@school.example.org",
                    "organisation": "Riverside Unified",
                    "credential_id": "openscied-anchoring-phenomenon",
                    "answers": json.dumps(anchoring_answers()),
                    "requirement_keys": ["facilitation_plan"],
                },
                files=[("files", ("plan.pdf", plan, "application/pdf"))],
                timeout=60,
            ).json()
            sid, token = created["submission_id"], _api_token(data, web, "ana@school.example.org")
            outbox = data / "outbox"
            _wait("two assignment emails", lambda: len(list(outbox.glob("assignment-*.eml"))) == 2, serve, log)
            for eml in sorted(outbox.glob("assignment-*.eml")):
                link = link_in_email(eml)
                assert link is not None
                assert review_over_http(link, {}) in (200, 303)

            def state() -> str:
                return str(
                    httpx.get(f"{web}/api/submissions/{sid}", headers={"Authorization": f"Bearer {token}"}).json()[
                        "state"
                    ]
                )

            _wait("the decision", lambda: state() == "earned", serve, log)
            _wait("the result letter", lambda: len(list(outbox.glob("result*.eml"))) == 1, serve, log, timeout=60)

            def submission_runs() -> list:
                return [r for r in client.read_flow_runs() if r.parameters.get("submission_id") == sid]

            # the letter goes out inside the decide run, which records its end a moment later
            _wait("the runs to end", lambda: all(r.state.is_final() for r in submission_runs()), serve, log)
            runs = submission_runs()
            assert len(runs) == 2  # the submission run and the decision
            assert {r.deployment_id is not None for r in runs} == {True}  # served deployments ran them
            assert all(r.state_name == "Completed" for r in runs), [(r.name, r.state_name) for r in runs]
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
    assert not _up(f"{api}/health"), "stopping serve left its Prefect server running"
