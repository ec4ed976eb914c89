"""Prefect settings for a machine with no network but loopback; applied before Prefect is imported."""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    # The task-run recorder then catches up in ~1 s instead of ~20 s per 1000 tasks at shutdown.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    # The first start of the ephemeral server migrates a new database; 20 s is not enough on a busy 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_offline_defaults() -> None:
    """Set each default unless the environment already chose a value."""
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
