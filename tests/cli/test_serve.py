"""``credflow serve`` on one machine: a local Prefect server, a credflow worker, the scheduled deployments, the pages.

A submission sent to the HTTP intake is handed to serve's ``credflow worker``, which runs its
flow in-process; its reviewers score through the links in the outbox, and the worker runs the
decide flow; the runs carry the submission's tags (and the worker's) and the
Prefect UI, on serve's non-default Prefect port, lists them in chromium. Stopping serve with TERM
afterwards leaves none of its processes behind (tests/cli/test_serve_stop.py stops it mid-run).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from cli.demo_reviewers import free_port, link_in_email, review_over_http
from flows.deployments import deployment_specs
from tests.utils.cluster import write_pool
from tests.utils.serve import ROOT, credflow, is_up, serve_env, stop_and_check_children, submit_plan, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _catalog_issuer(credential_id: str) -> str:
    from credflow.catalog import load_catalog

    return str(load_catalog(ROOT / "rubrics").get(credential_id).issuer.id)


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


def _runs_in_the_prefect_ui(ui: str, names: list[str]) -> None:
    """Debian's chromium opens the Prefect UI's runs page and finds each run name listed."""
    from playwright.sync_api import expect, sync_playwright

    from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing (`make test` installs it)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{ui}/runs")
            for name in names:
                expect(page.get_by_text(name).first).to_be_visible(timeout=60_000)
            assert page.get_by_text("Can't connect to Server API").count() == 0
        finally:
            browser.close()


def test_serve_runs_the_single_machine_set_up_end_to_end(tmp_path):
    web_port, prefect_port = free_port(), free_port()
    web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{prefect_port}/api"
    data = tmp_path / "data"
    env = serve_env(tmp_path, web)
    pool = write_pool(tmp_path / "pool.yaml", 3, ["openscied-anchoring-phenomenon"])
    subprocess.run(credflow("reviewers", "import", str(pool)), env=env, cwd=ROOT, check=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            credflow("serve", "--port", str(web_port), "--prefect-port", str(prefect_port)),
            env=env,
            cwd=tmp_path,  # not the checkout: serve finds prefect.yaml and the flows on its own
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for("the pages", lambda: is_up(f"{web}/api/openapi.json"), serve, log)
        assert is_up(f"{api}/health")  # the local Prefect server (and its UI) came up first
        assert httpx.get(f"{api.removesuffix('/api')}/ui-settings").json()["api_url"] == api  # not 4200's
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def served() -> set[str]:
                return {d.name for d in client.read_deployments()}

            wait_for("the served deployments", lambda: served() == {s.name for s in deployment_specs()}, serve, log)
            automations = {a.name for a in client.read_automations()}
            assert {"credflow-failed-runs", "credflow-silent-runs"} <= automations

            sid = submit_plan(tmp_path, web)
            token = _api_token(data, web, "ana@school.example.org")
            outbox = data / "outbox"
            wait_for("two assignment emails", lambda: len(list(outbox.glob("assignment-*.eml"))) == 2, serve, log)
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

            wait_for("the decision", lambda: state() == "earned", serve, log)
            wait_for("the result letter", lambda: len(list(outbox.glob("result*.eml"))) == 1, serve, log, timeout=60)

            def submission_runs() -> list:
                return [r for r in client.read_flow_runs() if r.parameters.get("submission_id") == sid]

            # the letter goes out inside the decide run, which records its end a moment later
            wait_for("the runs to end", lambda: all(r.state.is_final() for r in submission_runs()), serve, log)
            runs = submission_runs()
            assert len(runs) == 2  # the submission run and the decision
            assert all(any(t.startswith("worker:") for t in r.tags) for r in runs)  # serve's credflow worker ran them
            assert all(r.state_name == "Completed" for r in runs), [(r.name, r.state_name) for r in runs]
            issuer = _catalog_issuer("openscied-anchoring-phenomenon")
            for run in runs:  # as `credflow run` tags the runs it starts
                assert {"credential:openscied-anchoring-phenomenon", f"issuer:{issuer}"} <= set(run.tags), run.tags
        _runs_in_the_prefect_ui(api.removesuffix("/api"), [r.name for r in runs])
        stop_and_check_children(serve, signal.SIGTERM)
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
    assert not is_up(f"{api}/health"), "stopping serve left its Prefect server running"
