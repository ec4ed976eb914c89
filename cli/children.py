"""Child processes that leave with their parent: each in its own process group, stopped group-wide.

``credflow serve`` starts a ``prefect server`` and ``credflow flows serve``; each starts processes
of its own (flow runs). Started in a new session, a child and everything it starts share one
process group, so stopping sends SIGTERM to the group, waits a few seconds, then SIGKILLs what
is left of it, grandchildren included. Serve itself turns SIGTERM into ``SystemExit``
(:func:`exit_on_sigterm`), so a ``kill`` unwinds the same clean-up as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

GRACE_SECONDS = 5.0


def start_child(command: Sequence[str], *, env: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (its own process group), its output appended to ``logfile``."""
    with logfile.open("ab") as out:
        return subprocess.Popen(
            list(command),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C reaches serve only; serve stops the group
        )


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(child.pid, sig)  # the child leads its group: pgid == pid


def stop_children(children: Sequence[subprocess.Popen[bytes]], *, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM each child's process group, wait up to ``grace`` seconds for them all, then SIGKILL the groups."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        _signal_group(child, signal.SIGKILL)  # also what a child started and left behind
        child.wait()


def exit_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit`` in the main thread, so ``with`` blocks and atexit hooks run."""

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
