"""Stopping ``credflow serve`` (TERM or INT; single-machine or in-process) stops every process it started.

Each serve is stopped once a submission has reached it and what runs its flows is up: the served
deployments' ``flows serve`` process, or the in-process run's temporary Prefect server. What serve
did not start, such as a Prefect server already running in its process, it leaves running.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cli.demo_reviewers import free_port
from cli.main import app
from flows.deployments import deployment_specs
from tests.utils.serve import (
    cmdline,
    credflow,
    descendants,
    is_up,
    serve_env,
    stop_and_check_children,
    submit_plan,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _deployments(api: str) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        return {d.name for d in client.read_deployments()}


@pytest.mark.parametrize(
    ("mode", "sig"),
    [
        pytest.param(mode, sig, id=f"{mode}-{sig.name}")
        for mode in ("single-machine", "in-process")
        for sig in (signal.SIGTERM, signal.SIGINT)
    ],
)
def test_stopping_serve_stops_every_process_it_started(tmp_path, mode, sig):
    web_port, prefect_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    log = tmp_path / "serve.log"
    options = ["--in-process"] if mode == "in-process" else ["--prefect-port", str(prefect_port)]
    with log.open("wb") as out:
        serve = subprocess.Popen(
            credflow("serve", "--port", str(web_port), *options),
            env=serve_env(tmp_path, web),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for("the pages", lambda: is_up(f"{web}/api/openapi.json"), serve, log)
        if mode == "single-machine":  # a submission starts the served deployment, once served
            api = f"http://127.0.0.1:{prefect_port}/api"
            names = {s.name for s in deployment_specs()}
            wait_for("the served deployments", lambda: _deployments(api) == names, serve, log)
        submit_plan(tmp_path, web)  # in-process, its flow run starts Prefect's temporary server
        wanted = (
            ["flows serve", "cli.main worker"] if mode == "single-machine" else ["prefect.server.api.server:create_app"]
        )
        for name in wanted:  # single machine: the scheduled flows' runner and the credflow worker
            wait_for(
                name,
                lambda name=name: any(name in cmdline(p) for p in descendants(serve.pid)),  # type: ignore[misc]
                serve,
                log,
            )
        stop_and_check_children(serve, sig)
    finally:
        if serve.poll() is None:
            serve.kill()


@pytest.mark.usefixtures("prefect_server")
def test_serve_in_this_process_leaves_a_prefect_server_it_did_not_start_running(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session's Prefect server is one of Prefect's temporary servers in this process, as the
    # in-process set-up's own is; serve stopped every one on exit, and every later flow test failed.
    import uvicorn
    from prefect.settings import PREFECT_API_URL

    settings = make_settings()
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(settings.catalog_dir))
    monkeypatch.delenv("CREDFLOW_DEPLOYMENTS", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: None)  # serve returns at once, running its clean-up
    health = f"{PREFECT_API_URL.value()}/health"
    assert httpx.get(health, timeout=10).status_code == 200
    result = CliRunner().invoke(app, ["serve", "--in-process", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert httpx.get(health, timeout=10).status_code == 200
