"""``credflow serve``: the web pages, with the flows run by a local Prefect server, by workers, or in-process.

Three set-ups, chosen by the environment:

- **single machine** (default): a local ``prefect server`` (unless ``PREFECT_API_URL`` names
  one), a ``credflow worker`` child (new submissions and verdicts are handed to it as background
  task runs; it runs their flows in its one process), a ``credflow flows serve`` child for the
  scheduled deployments of ``prefect.yaml`` (sweeps and reports), and the pages. The Prefect UI
  is at the server's address.
- **workers** (``CREDFLOW_DEPLOYMENTS=1`` and ``PREFECT_API_URL`` set): the pages only; runs are
  handed to ``credflow worker`` processes on any number of hosts, and the scheduled deployments
  run on the work pool's process worker (``prefect deploy --all`` made them).
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
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.children import exit_on_sigterm, start_child, stop_children
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
    from web.api.resumable import sweep_resumable
    from web.api.uploads import sweep_abandoned_uploads

    while True:
        try:
            now = (clock or utcnow)()
            swept = sweep_abandoned_uploads(services, now=now)
            swept += sweep_resumable(services, now=now.timestamp())  # unfinished tus uploads past their window
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


def prefect_server_env(port: int, home: Path) -> dict[str, str]:
    """The environment of a local ``prefect server`` on 127.0.0.1:``port``: its UI and clients use that port too.

    The UI asks ``/ui-settings`` where the API is; without ``PREFECT_SERVER_UI_API_URL`` it says
    ``http://127.0.0.1:4200/api`` whatever ``--port`` the server was given.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_API_URL")}
    env.setdefault("PREFECT_HOME", str(home.resolve()))
    env["PREFECT_SERVER_API_HOST"] = "127.0.0.1"
    env["PREFECT_SERVER_API_PORT"] = str(port)
    env["PREFECT_SERVER_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
    return env


def start_local_prefect_server(services: Services, port: int) -> tuple[str, subprocess.Popen[bytes] | None]:
    """A ``prefect server`` on 127.0.0.1:``port`` (an already running one is reused: no child then), once healthy.

    Its database is ``$PREFECT_HOME/prefect.db`` (``<data dir>/prefect`` unless set), or the
    PostgreSQL database ``PREFECT_API_DATABASE_CONNECTION_URL`` names. The caller stops the child
    with :func:`cli.children.stop_children`.
    """
    api_url = f"http://127.0.0.1:{port}/api"
    if _healthy(api_url):
        return api_url, None
    logfile = services.settings.data_dir / "prefect-server.log"
    server = start_child(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_server_env(port, services.settings.data_dir / "prefect"),
        logfile=logfile,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _healthy(api_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ConfigurationError(f"the local Prefect server did not start on port {port}: see {logfile}")
            time.sleep(0.5)
    except BaseException:
        stop_children([server])
        raise
    return api_url, server


def credflow_command(*args: str) -> list[str]:
    """A ``credflow`` command line run by this interpreter (the console script need not be installed)."""
    return [sys.executable, "-m", "cli.main", *args]


def start_served_flows(services: Services, limit: int) -> subprocess.Popen[bytes]:
    """``credflow flows serve`` (the scheduled flows) in a child process (it must own its main thread)."""
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "2")}
    return start_child(
        credflow_command("flows", "serve", "--limit", str(limit)),
        env=env,
        logfile=services.settings.data_dir / "flows-serve.log",
    )


def start_worker(services: Services, limit: int) -> subprocess.Popen[bytes]:
    """``credflow worker`` in a child process: the submission and decide flows, run in that one process."""
    return start_child(
        credflow_command("worker", "--limit", str(limit)),
        env=dict(os.environ),
        logfile=services.settings.data_dir / "worker.log",
    )


def temporary_prefect_servers() -> frozenset[int]:
    """The temporary Prefect servers running in this process, by identity (none until a flow ran)."""
    if "prefect.server.api.server" not in sys.modules:
        return frozenset()
    from prefect.server.api.server import SubprocessASGIServer

    return frozenset(id(server) for server in SubprocessASGIServer._instances.values())


def stop_temporary_prefect_servers(already_running: frozenset[int] = frozenset()) -> None:
    """Stop the temporary Prefect server(s) the in-process set-up's flow runs started (Prefect's atexit does too).

    Servers in ``already_running`` were there before serve began (a caller's own, such as a test
    session's Prefect server) and are left alone.
    """
    if "prefect.server.api.server" not in sys.modules:
        return  # no flow ran, so no temporary server started
    from prefect.server.api.server import SubprocessASGIServer

    for server in list(SubprocessASGIServer._instances.values()):
        if id(server) not in already_running:
            server.stop()


def _install(services: Services) -> tuple[list[str], str]:
    """Install credflow's automations, alerting ``<CREDFLOW_PUBLIC_URL>/ops/alerts``; the names and that URL."""
    from flows.automations import install_automations
    from web.ops import ALERT_PATH, alert_token

    url = f"{services.settings.public_url}{ALERT_PATH}"
    token = alert_token(services.settings.keyring)
    return install_automations(alert_url=url, token=token), url


def install_alerts(services: Services, *, tries: int = 5, pause: float = 2.0) -> None:
    """Install credflow's automations on the Prefect server, trying again on failure; never fatal.

    A server that has just started (or is busy) may refuse the first calls; after ``tries`` the
    failure is logged and serve goes on without the alerts (`credflow alerts install` adds them later).
    """
    for attempt in range(1, tries + 1):
        try:
            names, _ = _install(services)
        except Exception:
            if attempt == tries:
                log.exception("could not install the Prefect automations (operator alerts)")
                return
            log.warning("installing the Prefect automations failed (try %d of %d); trying again", attempt, tries)
            time.sleep(pause * attempt)  # a sleep, not a timed wait: libfaketime never ends those
        else:
            log.info("Prefect automations installed: %s", ", ".join(names))
            return


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
    exit_on_sigterm()  # `kill` unwinds the clean-up below, as Ctrl-C does
    stop = threading.Event()
    children: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        stack.callback(stop.set)
        stack.callback(stop_children, children)  # TERM their process groups, a few seconds, then KILL
        threading.Thread(target=sweep_uploads_forever, args=(services, stop), name="upload-sweep", daemon=True).start()
        if in_process:
            stack.callback(stop_temporary_prefect_servers, temporary_prefect_servers())
            threading.Thread(target=sweep_forever, args=(services, stop), name="review-sweep", daemon=True).start()
            console.print("flows run in this process (Prefect's ephemeral API)")
        else:
            if not workers:
                if not os.environ.get("PREFECT_API_URL"):
                    try:
                        api_url, server = start_local_prefect_server(services, prefect_port)
                    except CredflowError as exc:
                        fail(str(exc))
                    if server is not None:
                        children.append(server)
                    os.environ["PREFECT_API_URL"] = api_url
                    console.print(f"Prefect server and UI on {api_url.removesuffix('/api')}")
                # Verdicts and submissions start the served deployments (here and in the flows' child process).
                os.environ["CREDFLOW_DEPLOYMENTS"] = "1"
                services = dataclasses.replace(
                    services, settings=services.settings.model_copy(update={"deployments": True})
                )
                children.append(start_worker(services, flow_limit))
                children.append(start_served_flows(services, 1))  # the sweeps and reports, on their schedules
            install_alerts(services)
        app = create_app(
            services,
            on_review_submitted=decide_in_background(services),
            on_submitted=process_in_background(services),
        )
        console.print(f"credflow pages on http://{host}:{port} (links in emails use {services.settings.public_url})")
        from web.accesslog import access_log_config  # review and sign-in tokens cut short

        uvicorn.run(app, host=host, port=port, log_level="info", log_config=access_log_config())


def worker_command(
    name: Annotated[str, typer.Option(help="This worker's name: its runs carry the tag worker:<name>.")] = "",
    limit: Annotated[int, typer.Option(help="Flow runs at once in this process.")] = 4,
    status_port: Annotated[
        int | None, typer.Option(help="Serve the worker's status on 127.0.0.1:<port>/status (health checks).")
    ] = None,
) -> None:
    """Run submission and decide flows handed out by ``credflow serve``, in this process (any number of hosts)."""
    import socket

    from flows.background import serve_workers

    if not os.environ.get("PREFECT_API_URL"):
        fail("credflow worker needs PREFECT_API_URL: the Prefect server that hands out the runs")
    try:
        services = load_services()
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"credflow worker {name or socket.gethostname()}: up to {limit} flow runs at once")
    serve_workers(services, name=name or socket.gethostname(), limit=limit, status_port=status_port)


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
