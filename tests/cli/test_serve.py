"""``credflow serve`` on one machine: a local Prefect server, the prefect.yaml deployments served, the pages.

A submission sent to the HTTP intake runs as a deployment run of the served ``submission``
deployment, its reviewers score through the links in the outbox, and the served
``decide-submission`` deployment decides it; the runs carry the submission's tags and the
Prefect UI, on serve's non-default Prefect port, lists them in chromium. Stopping serve (TERM or
INT, in both set-ups) leaves none of its processes behind.
"""

from __future__ import annotations

import contextlib
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

CHILDREN_GONE_SECONDS = 10

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


def _processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, start time), from /proc (zombies count as gone)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), fields[19])
    return found


def _descendants(pid: int) -> dict[int, str]:
    """The processes ``pid`` started, and theirs: pid -> start time (so a reused pid is not mistaken for one)."""
    table = _processes()
    found: dict[int, str] = {}
    parents = {pid}
    while parents:
        children = {p for p, (ppid, _) in table.items() if ppid in parents and p not in found}
        found.update({p: table[p][1] for p in children})
        parents = children
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(processes: dict[int, str]) -> list[str]:
    """Those of ``processes`` still running, by command line."""
    table = _processes()
    return [_cmdline(p) or str(p) for p, started in processes.items() if table.get(p, (0, ""))[1] == started]


def _stop_and_check_children(serve: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to serve; after CHILDREN_GONE_SECONDS, neither serve nor anything it started may run."""
    started = _descendants(serve.pid)
    assert started, "serve started no process"
    serve.send_signal(sig)
    deadline = time.monotonic() + CHILDREN_GONE_SECONDS
    while (serve.poll() is None or _alive(started)) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _alive(started)
    if serve.poll() is None:
        serve.kill()
    for pid in started:  # clean up after a failure
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert serve.returncode is not None, f"serve still ran {CHILDREN_GONE_SECONDS} s after {sig.name}"
    assert left == [], f"{sig.name} left these running: {left}"


def _serve_env(tmp_path: Path, web: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CREDFLOW_", "PREFECT_"))},
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "CREDFLOW_DATA_DIR": str(tmp_path / "data"),
        "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
        "CREDFLOW_PUBLIC_URL": web,
        "CREDFLOW_OPERATOR_EMAIL": "operator@credflow.example",
    }


def _deployments(api: str) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        return {d.name for d in client.read_deployments()}


def _submit(tmp_path: Path, web: str) -> str:
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
    )
    assert created.status_code == 201, created.text
    return str(created.json()["submission_id"])


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
    env = _serve_env(tmp_path, web)
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
        assert httpx.get(f"{api.removesuffix('/api')}/ui-settings").json()["api_url"] == api  # not 4200's
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def served() -> set[str]:
                return {d.name for d in client.read_deployments()}

            _wait("the served deployments", lambda: served() == {s.name for s in deployment_specs()}, serve, log)
            automations = {a.name for a in client.read_automations()}
            assert {"credflow-failed-runs", "credflow-silent-runs"} <= automations

            sid = _submit(tmp_path, web)
            token = _api_token(data, web, "ana@school.example.org")
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
            issuer = _catalog_issuer("openscied-anchoring-phenomenon")
            for run in runs:  # as `credflow run` tags the runs it starts
                assert {"credential:openscied-anchoring-phenomenon", f"issuer:{issuer}"} <= set(run.tags), run.tags
        _runs_in_the_prefect_ui(api.removesuffix("/api"), [r.name for r in runs])
        _stop_and_check_children(serve, signal.SIGTERM)
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
    assert not _up(f"{api}/health"), "stopping serve left its Prefect server running"


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
            [str(BIN / "credflow"), "serve", "--port", str(web_port), *options],
            env=_serve_env(tmp_path, web),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait("the pages", lambda: _up(f"{web}/api/openapi.json"), serve, log)
        if mode == "single-machine":  # a submission starts the served deployment, once served
            api = f"http://127.0.0.1:{prefect_port}/api"
            names = {s.name for s in deployment_specs()}
            _wait("the served deployments", lambda: _deployments(api) == names, serve, log)
        _submit(tmp_path, web)  # in-process, its flow run starts Prefect's temporary server
        wanted = "flows serve" if mode == "single-machine" else "prefect.server.api.server:create_app"
        _wait(
            wanted,
            lambda: any(wanted in _cmdline(p) for p in _descendants(serve.pid)),
            serve,
            log,
        )
        _stop_and_check_children(serve, sig)
    finally:
        if serve.poll() is None:
            serve.kill()
