"""``credflow serve``: the review pages, verdict-triggered decisions and periodic deadline sweeps."""

from __future__ import annotations

import logging
import os
import threading
from typing import Annotated

import typer

from cli.launch import decide_in_background, process_in_background, run_in_process
from credflow.errors import CredflowError
from credflow.services import Services


def sweep_forever(services: Services, stop: threading.Event) -> None:
    """Run the review sweep every ``CREDFLOW_SWEEP_INTERVAL_SECONDS`` until stopped (embedded set-up)."""
    from flows.badges import badge_sweep
    from flows.review import review_sweep

    while not stop.wait(services.settings.sweep_interval_seconds):
        try:
            run_in_process(services, review_sweep)
            run_in_process(services, badge_sweep)  # idempotent: reminders are sent once per badge
        except Exception:
            # The failed run is visible in Prefect; the next sweep tries again.
            logging.getLogger("credflow.serve").exception("review sweep failed")


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Serve the review pages; decisions follow verdicts within seconds; deadlines are swept periodically."""
    import uvicorn

    from cli.main import _fail, _services, console
    from credflow.web.app import create_app

    try:
        services = _services()
    except CredflowError as exc:
        _fail(str(exc))
    stop = threading.Event()
    if os.environ.get("CREDFLOW_DEPLOYMENTS") != "1":  # with workers, the scheduled review-sweep deployment does it
        threading.Thread(target=sweep_forever, args=(services, stop), name="review-sweep", daemon=True).start()
    app = create_app(
        services,
        on_review_submitted=decide_in_background(services),
        on_submitted=process_in_background(services),
    )
    console.print(f"credflow review pages on http://{host}:{port} (links in emails use {services.settings.public_url})")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        stop.set()
