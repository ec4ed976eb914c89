"""Running ``credflow serve`` in a test: its environment, waiting for it, a submission, and stopping it cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from cli import demo_evidence as ev
from tests.utils.builders import anchoring_answers

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def credflow(*args: str) -> list[str]:
    """The command line of ``credflow <args>``: the console script, or this interpreter's ``-m cli.main`` without it."""
    script = BIN / "credflow"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "cli.main", *args]


CHILDREN_GONE_SECONDS = 10


def wait_for(
    what: str, done: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, timeout: float = 180
) -> None:
    """Poll ``done`` every second; fail with serve's log tail if serve exits or ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
            raise AssertionError(f"waiting for {what} (serve exit {proc.poll()}):\n{tail}")
        time.sleep(1)


def is_up(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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


def descendants(pid: int) -> dict[int, str]:
    """The processes ``pid`` started, and theirs: pid -> start time (so a reused pid is not mistaken for one)."""
    table = _processes()
    found: dict[int, str] = {}
    parents = {pid}
    while parents:
        children = {p for p, (ppid, _) in table.items() if ppid in parents and p not in found}
        found.update({p: table[p][1] for p in children})
        parents = children
    return found


def cmdline(pid: int) -> str:
    """The command line of process ``pid`` ('' once it is gone)."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(processes: dict[int, str]) -> list[str]:
    """Those of ``processes`` still running, by command line."""
    table = _processes()
    return [cmdline(p) or str(p) for p, started in processes.items() if table.get(p, (0, ""))[1] == started]


def stop_and_check_children(serve: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to serve; after CHILDREN_GONE_SECONDS, neither serve nor anything it started may run."""
    started = descendants(serve.pid)
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


def serve_env(tmp_path: Path, web: str) -> dict[str, str]:
    """serve's environment: this process's, without credflow's or Prefect's settings, on folders under ``tmp_path``."""
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


def submit_plan(tmp_path: Path, web: str) -> str:
    """Send Ana's anchoring-phenomenon submission (a plan PDF) to serve's HTTP intake; its submission id."""
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
