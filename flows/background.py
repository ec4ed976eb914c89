"""Background flow runs: long-lived task-worker processes run the submission and decide flows in-process.

The doors (HTTP intake, a reviewer's last verdict) record a dispatch in credflow's database and
hand it to Prefect as a background task run (``task.delay``). ``credflow worker`` processes serve
those tasks (``prefect.task_worker.serve``): each task claims its dispatch under a lease, renews
it while the flow runs, and calls the flow in its own process, so the flow run appears in the
Prefect UI with its name, tags (plus ``worker:<name>``), artifact and ``on_failure`` alerts, as
from any door, without a Python process per run. Prefect does not hand a task run again when its
worker dies; credflow does: every worker sweeps dispatches whose lease lapsed and hands them out
again (the flows are idempotent by business key), marking the dead holder's flow run Crashed.

Task parameters and results live in credflow's object store under ``prefect/tasks/`` (S3 in
production, the local folder embedded), so a worker on another host reads what the web host wrote.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
from prefect import Flow, Task, task
from prefect.filesystems import WritableFileSystem
from pydantic import PrivateAttr

from credflow.db.models import utcnow
from credflow.dispatch.rules import FlowKind
from credflow.dispatch.stage import Handed, claim, finish, hand_out, record_run, renew, sweep_lapsed
from credflow.notifications.stage import alert_operator
from credflow.services import Services
from credflow.storage.base import ObjectStore
from flows.review import decide_submission
from flows.submission import process_submission
from flows.tags import run_tagged
from tasks.runtime import services, use_services, worker_identity

log = logging.getLogger("credflow.worker")

PREFIX = "prefect/tasks"
BLOCK_NAME = "credflow-tasks"  # a credflow-task-storage block: no settings, it writes where credflow's store is
_state: dict[str, str] = {"name": socket.gethostname()}


class CredflowTaskStorage(WritableFileSystem):
    """Prefect's background-task parameters and results in credflow's object store, under ``prefect/tasks/``."""

    _block_type_name = "Credflow Task Storage"
    _store: ObjectStore | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, store: ObjectStore) -> CredflowTaskStorage:
        """The storage writing to ``store``."""
        storage = cls()
        storage._store = store
        return storage

    def _target(self) -> ObjectStore:
        return self._store if self._store is not None else services().store

    def read_path(self, path: str, _sync: bool = True) -> bytes:  # type: ignore[override]
        """The bytes stored at ``path``."""
        return self._target().get_bytes(f"{PREFIX}/{path}")

    def write_path(self, path: str, content: bytes, _sync: bool = True) -> None:  # type: ignore[override]
        """Store ``content`` at ``path``."""
        self._target().put_stream(f"{PREFIX}/{path}", io.BytesIO(content))

    async def aread_path(self, path: str) -> bytes:
        """The bytes stored at ``path`` (off the event loop)."""
        return await anyio.to_thread.run_sync(self.read_path, path)

    async def awrite_path(self, path: str, content: bytes) -> None:
        """Store ``content`` at ``path`` (off the event loop)."""
        await anyio.to_thread.run_sync(self.write_path, path, content)


def _run_dispatched(dispatch_id: str, flow: Flow[[str], Any]) -> str | None:
    svc = services()
    owner = worker_identity()
    handed = claim(svc, dispatch_id, owner=owner, now=utcnow())
    if handed is None:
        log.info("dispatch %s is finished or held by another worker: nothing to do", dispatch_id)
        return None
    with _renewing(svc, dispatch_id, owner):
        try:
            result = run_tagged(
                flow,
                handed.submission_id,
                extra_tags=[f"worker:{_state['name']}", f"dispatch:{dispatch_id}"],
                on_created=lambda run_id: record_run(svc, dispatch_id, owner=owner, flow_run_id=run_id),
            )
        except BaseException as exc:
            finish(svc, dispatch_id, owner=owner, error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
    finish(svc, dispatch_id, owner=owner)
    return str(result)


@task(name="submission-run", task_run_name="submission-{submission_id}", refresh_cache=True)
def submission_run(submission_id: str, dispatch_id: str) -> str | None:
    """Run a new submission's flow in this worker (``submission_id`` names it in the UI)."""
    del submission_id  # the dispatch holds it; the parameter names the task run
    return _run_dispatched(dispatch_id, process_submission)


@task(name="decide-run", task_run_name="decide-{submission_id}", refresh_cache=True)
def decide_run(submission_id: str, dispatch_id: str) -> str | None:
    """Run the decide flow of a reviewed submission in this worker."""
    del submission_id
    return _run_dispatched(dispatch_id, decide_submission)


TASKS: dict[FlowKind, Task[[str, str], str | None]] = {
    FlowKind.SUBMISSION: submission_run,
    FlowKind.DECISION: decide_run,
}
_bound: dict[int, dict[FlowKind, Task[[str, str], str | None]]] = {}


def _save(storage: CredflowTaskStorage, tries: int = 3) -> None:
    """Save the storage block; another process registering its type at the same moment is no failure."""
    from prefect.exceptions import ObjectAlreadyExists

    for attempt in range(tries):
        try:
            storage.save(BLOCK_NAME, overwrite=True)
            return
        except ObjectAlreadyExists:  # read-then-create raced with another worker or the web app
            if attempt == tries - 1:
                raise
            time.sleep(0.5)


def bound_tasks(svc: Services) -> dict[FlowKind, Task[[str, str], str | None]]:
    """The background tasks with their parameters and results in ``svc``'s object store (made once per store)."""
    key = id(svc.store)
    if key not in _bound:
        storage = CredflowTaskStorage.of(svc.store)
        # Prefect 3.8.8 takes only a saved block as a task's result storage; saving it is one call per process.
        _save(storage)
        _bound[key] = {kind: t.with_options(result_storage=storage) for kind, t in TASKS.items()}
    return _bound[key]


def _give(svc: Services, handed: Handed) -> None:
    with use_services(svc):
        bound_tasks(svc)[handed.kind].delay(handed.submission_id, handed.id)


def dispatch(svc: Services, kind: FlowKind, submission_id: str) -> str | None:
    """Hand ``kind``'s flow for ``submission_id`` to the workers; the dispatch id (``None``: handed out already).

    The dispatch is recorded first: if Prefect cannot take it now, a sweep hands it out when its
    lease lapses.
    """
    handed = hand_out(svc, kind, submission_id, now=utcnow())
    if handed is None:
        return None
    try:
        _give(svc, handed)
    except Exception:
        log.exception("could not hand %s %s to Prefect; a sweep will hand it out again", kind, submission_id)
    return handed.id


def _crash(dispatch_id: str, message: str) -> None:
    """Mark Crashed the flow runs a dead holder of the dispatch left unfinished (the failed-runs automation alerts).

    They are found by their ``dispatch:<id>`` tag: a holder may die after creating its run and
    before recording it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"dispatch:{dispatch_id}"])), limit=50
            )
            for run in runs:
                if run.state is None or not run.state.is_final():
                    client.set_flow_run_state(run.id, Crashed(message=message), force=True)
    except Exception:
        log.exception("could not mark the flow runs of dispatch %s Crashed", dispatch_id)


def redispatch_lapsed(svc: Services) -> int:
    """Hand out again the dispatches whose lease lapsed; give up those handed out too often. The count handed."""
    swept = sweep_lapsed(svc, now=utcnow())
    for handed in swept.again:
        log.warning("dispatch %s (%s %s) lapsed: handed out again", handed.id, handed.kind, handed.submission_id)
        _crash(handed.id, "its worker stopped renewing the lease; the run was handed to the workers again")
        try:
            _give(svc, handed)
        except Exception:
            log.exception("could not hand dispatch %s to Prefect; the next sweep tries again", handed.id)
    for handed in swept.given_up:
        _crash(handed.id, "its worker stopped renewing the lease; the run was given up")
        alert_operator(
            svc,
            summary=f"dispatch {handed.id[:8]} ({handed.kind}) given up after {handed.handed} hand-outs",
            submission_id=handed.submission_id,
            detail=f"the {handed.kind} flow of submission {handed.submission_id} never finished on a worker",
        )
    return len(swept.again)


def _every(seconds: float, step: Callable[[], object], stop: threading.Event) -> None:
    """Call ``step`` every ``seconds`` until ``stop`` (sleeps, not timed waits: libfaketime never ends those)."""
    while not stop.is_set():
        due = time.monotonic() + seconds
        while time.monotonic() < due:
            if stop.is_set():
                return
            time.sleep(min(0.25, seconds))
        try:
            step()
        except Exception:
            log.exception("background step failed; it runs again")


@contextmanager
def _renewing(svc: Services, dispatch_id: str, owner: str) -> Iterator[None]:
    """Renew ``owner``'s lease every quarter of its length while the block runs."""
    stop = threading.Event()
    thread = threading.Thread(
        target=_every,
        args=(
            svc.settings.dispatch_lease_seconds / 4,
            lambda: renew(svc, dispatch_id, owner=owner, now=utcnow()),
            stop,
        ),
        name=f"lease-{dispatch_id[:8]}",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()


def serve_workers(
    svc: Services, *, name: str, limit: int, status_port: int | None = None, stop: threading.Event | None = None
) -> None:
    """Serve the background tasks here until stopped, sweeping lapsed dispatches every half lease.

    ``status_port``: answer ``GET /status`` on 127.0.0.1 there, for health checks (Prefect's own status
    server runs uvicorn on Prefect's event loop, and in 3.8.8 the worker then exited on start).
    """
    from prefect.task_worker import serve

    _state["name"] = name
    stop = stop or threading.Event()
    sweeper = threading.Thread(
        target=_every,
        args=(svc.settings.dispatch_lease_seconds / 2, lambda: redispatch_lapsed(svc), stop),
        name="dispatch-sweep",
        daemon=True,
    )
    with use_services(svc):
        redispatch_lapsed(svc)  # what a crashed worker left, at once
        sweeper.start()
        try:
            if status_port is not None:
                _status_page(status_port, {"name": name, "limit": limit})
            serve(*bound_tasks(svc).values(), limit=limit)
        finally:
            stop.set()


def _status_page(port: int, status: dict[str, object]) -> None:
    """Answer ``GET /status`` with ``status`` as JSON on 127.0.0.1:``port``, from a daemon thread."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps(status).encode()

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/status"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # health checks are not news
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Status)
    threading.Thread(target=server.serve_forever, name="status-page", daemon=True).start()
