"""``credflow serve``: the web pages, with the flows run by a local Prefect server, by workers, or in-process.

Three set-ups, chosen by the environment:

- **single machine** (default): a local ``prefect server`` (unless ``PREFECT_API_URL`` names
  one), every deployment of ``prefect.yaml`` served by a ``credflow flows serve`` child (its
  schedules run the sweeps and reports), and the pages; verdicts and new submissions start
  deployment runs. The Prefect UI is at the server's address.
- **workers** (``CREDFLOW_DEPLOYMENTS=1`` and ``PREFECT_API_URL`` set): the pages only; runs go
  to the work pool's workers on any number of hosts (``prefect deploy --all`` made them).
- **in-process** (``--in-process``): no Prefect server; flows run in threads of this process on
  Prefect's ephemeral API and a thread sweeps deadlines. For development.

In the first two, credflow's Prefect automations (operator alerts, silent-run detection) are
installed on start.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, fail, load_services
from cli.launch import decide_in_background, process_in_background, run_in_process
from credflow.errors import ConfigurationError, CredflowError
from credflow.services import Services

log = logging.getLogger("credflow.serve")
SERVER_START_SECONDS = 120


def sweep_forever(services: Services, stop: threading.Event) -> None:
    """Run the review sweep every ``CREDFLOW_SWEEP_INTERVAL_SECONDS`` until stopped (in-process set-up)."""
    from flows.badges import badge_sweep
    from flows.review import review_sweep

    while not stop.wait(services.settings.sweep_interval_seconds):
        try:
            run_in_process(services, review_sweep)
            run_in_process(services, badge_sweep)  # idempotent: reminders are sent once per badge
        except Exception:
            # The failed run is visible in Prefect; the next sweep tries again.
            log.exception("review sweep failed")


def sweep_uploads_forever(
    services: Services, stop: threading.Event, *, clock: Callable[[], datetime] | None = None
) -> None:
    """Delete the local store's unclaimed uploads now, then every ``CREDFLOW_SWEEP_INTERVAL_SECONDS`` until stopped."""
    from credflow.db.models import utcnow
    from web.api.uploads import sweep_abandoned_uploads

    while True:
        try:
            swept = sweep_abandoned_uploads(services, now=(clock or utcnow)())
        except Exception:
            log.exception("upload sweep failed")  # the next pass tries again
        else:
            if swept:
                log.info("deleted %d abandoned uploads", len(swept))
        if stop.wait(services.settings.sweep_interval_seconds):
            return


def _healthy(api_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def local_prefect_server(services: Services, port: int) -> Iterator[str]:
    """A ``prefect server`` on 127.0.0.1:``port`` for the ``with`` block (an already running one is reused).

    Its database is ``$PREFECT_HOME/prefect.db`` (``<data dir>/prefect`` unless set), or the
    PostgreSQL database ``PREFECT_API_DATABASE_CONNECTION_URL`` names.
    """
    api_url = f"http://127.0.0.1:{port}/api"
    if _healthy(api_url):
        yield api_url
        return
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_HOME", str((services.settings.data_dir / "prefect").resolve()))
    logfile = services.settings.data_dir / "prefect-server.log"
    command = ["server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with logfile.open("ab") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _healthy(api_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ConfigurationError(f"the local Prefect server did not start on port {port}: see {logfile}")
            time.sleep(0.5)
        yield api_url
    finally:
        _stop(server)


@contextmanager
def served_flows(services: Services, limit: int) -> Iterator[subprocess.Popen[bytes]]:
    """``credflow flows serve`` in a child process for the ``with`` block (it must own its main thread)."""
    logfile = services.settings.data_dir / "flows-serve.log"
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "2")}
    with logfile.open("ab") as out:
        child = subprocess.Popen(
            [str(Path(sys.executable).parent / "credflow"), "flows", "serve", "--limit", str(limit)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield child
    finally:
        _stop(child)


def _install(services: Services) -> tuple[list[str], str]:
    """Install credflow's automations, alerting ``<CREDFLOW_PUBLIC_URL>/ops/alerts``; the names and that URL."""
    from flows.automations import install_automations
    from web.ops import ALERT_PATH, alert_token

    url = f"{services.settings.public_url}{ALERT_PATH}"
    token = alert_token(services.settings.keyring)
    return install_automations(alert_url=url, token=token), url


def install_alerts(services: Services) -> None:
    """Install credflow's automations on the Prefect server; a failure is logged, never fatal."""
    try:
        names, _ = _install(services)
    except Exception:
        log.exception("could not install the Prefect automations (operator alerts)")
    else:
        log.info("Prefect automations installed: %s", ", ".join(names))


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server (single machine).")] = 4200,
    flow_limit: Annotated[int, typer.Option(help="Flow runs at once on this machine (single machine).")] = 4,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="No Prefect server: flows run in threads here (development).")
    ] = False,
) -> None:
    """Serve the web pages and run the flows: on one machine, with workers, or in-process."""
    import uvicorn

    from credflow.keyring import check_secret_for_exposure
    from credflow.services import build_services
    from credflow.settings import load_settings
    from web.app import create_app

    try:
        settings = load_settings()
        # A public or short key is fine on this machine alone, never where others can connect.
        check_secret_for_exposure(
            secret=settings.secret_key.get_secret_value(), bind_host=host, public_url=settings.public_url
        )
        services = build_services(settings)
    except CredflowError as exc:
        fail(str(exc))
    workers = services.settings.deployments
    if workers and not os.environ.get("PREFECT_API_URL"):
        fail("CREDFLOW_DEPLOYMENTS=1 needs PREFECT_API_URL: the Prefect server the workers poll")
    stop = threading.Event()
    with ExitStack() as stack:
        stack.callback(stop.set)
        threading.Thread(target=sweep_uploads_forever, args=(services, stop), name="upload-sweep", daemon=True).start()
        if in_process:
            threading.Thread(target=sweep_forever, args=(services, stop), name="review-sweep", daemon=True).start()
            console.print("flows run in this process (Prefect's ephemeral API)")
        else:
            if not workers:
                if not os.environ.get("PREFECT_API_URL"):
                    try:
                        api_url = stack.enter_context(local_prefect_server(services, prefect_port))
                    except CredflowError as exc:
                        fail(str(exc))
                    os.environ["PREFECT_API_URL"] = api_url
                    console.print(f"Prefect server and UI on {api_url.removesuffix('/api')}")
                # Verdicts and submissions start the served deployments (here and in the flows' child process).
                os.environ["CREDFLOW_DEPLOYMENTS"] = "1"
                services = dataclasses.replace(
                    services, settings=services.settings.model_copy(update={"deployments": True})
                )
                stack.enter_context(served_flows(services, flow_limit))
            install_alerts(services)
        app = create_app(
            services,
            on_review_submitted=decide_in_background(services),
            on_submitted=process_in_background(services),
        )
        console.print(f"credflow pages on http://{host}:{port} (links in emails use {services.settings.public_url})")
        from web.accesslog import access_log_config  # review and sign-in tokens cut short

        uvicorn.run(app, host=host, port=port, log_level="info", log_config=access_log_config())


flows_app = typer.Typer(help="Serve or list the deployments of prefect.yaml.", no_args_is_help=True)


@flows_app.command("serve")
def flows_serve(
    limit: Annotated[int, typer.Option(help="Flow runs at once.")] = 4,
) -> None:
    """Serve every deployment of prefect.yaml from this machine (``credflow serve`` starts this)."""
    from flows.deployments import serve_deployments

    serve_deployments(limit=limit)


@flows_app.command("list")
def flows_list() -> None:
    """List the deployments of prefect.yaml with their schedules."""
    from flows.deployments import deployment_specs

    for spec in deployment_specs():
        when = f"every {spec.interval}" if spec.interval else (f"cron {spec.cron}" if spec.cron else "on demand")
        console.print(f"{spec.name:<20} {spec.entrypoint:<40} {when}")


alerts_app = typer.Typer(help="Operator alerts through Prefect automations.", no_args_is_help=True)


@alerts_app.command("install")
def alerts_install() -> None:
    """Create or update credflow's Prefect automations (failed-run alerts, silent runs) on PREFECT_API_URL."""

    if not os.environ.get("PREFECT_API_URL"):
        fail("PREFECT_API_URL is not set: automations live on a Prefect server (an ephemeral API has none)")
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    names, url = _install(services)
    console.print(f"installed {', '.join(names)}; alerts go to {url}")
