"""Run tags: a submission's runs carry its credential and issuer, from whichever door they start.

The tags go on the flow run when it is created, not into a ``with tags(...)`` block around the
flow call: under such a block Prefect 3.8.8 tags every task run as well, and each tagged task run
asks the API for a ``tag:<name>`` concurrency slot before it starts (7 calls per submission).
Deployment runs get the same tags from ``run_deployment(tags=...)`` (``cli/launch.py``).

A run started here also brings its own Prefect client unless the caller has one, and Prefect
gives every new client a new TLS context loaded from certifi's bundle: 30 ms of CPU per run,
even for a local plain-HTTP API. The runs started here share one, built as Prefect builds it.

Each new client also asks the server for a CSRF token before its first write; a server without
CSRF protection (Prefect's default, and every server credflow starts) answers 422 and the client
stops asking. The answer is kept per API address, so later runs' clients skip that call.

A flow without its own result storage asks the server for its default storage block twice per
run (two API calls), even when it persists nothing: credflow's flows name :data:`RESULTS_UNUSED`.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import certifi
from prefect import Flow
from prefect.client.base import PrefectHttpxSyncClient
from prefect.client.orchestration import SyncPrefectClient
from prefect.context import SyncClientContext
from prefect.flow_engine import run_flow
from prefect.settings import get_current_settings

from credflow.errors import NotFoundError
from credflow.submissions import get_submission
from tasks.runtime import services

R = TypeVar("R")

#: The result storage of credflow's flows, which persist nothing (``persist_result=False``): Prefect's
#: local storage folder, named so that no run reads the server's default storage block.
RESULTS_UNUSED: Path = get_current_settings().results.local_storage_path

_CSRF_OFF: dict[str | None, bool] = {}  # API address -> the server said it has no CSRF protection


def submission_tags(submission_id: str) -> list[str]:
    """The run tags of a submission: its credential and issuer, so runs filter by both."""
    svc = services()
    with svc.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = svc.catalog.get(sub.credential_id)
    return [f"credential:{credential.id}", f"issuer:{credential.issuer.id}"]


def run_tagged(
    flow: Flow[[str], R],
    submission_id: str,
    *,
    extra_tags: Sequence[str] = (),
    on_created: Callable[[str], None] | None = None,
) -> R:
    """Run a submission's flow in this process on a flow run created with the submission's tags (its tasks get none).

    ``extra_tags`` join the submission's (a background worker adds its name); ``on_created`` is
    told the new flow run's id before the flow starts.
    """
    parameters: dict[str, Any] = {"submission_id": submission_id}
    try:
        tags = submission_tags(submission_id)
    except NotFoundError:
        tags = []  # the run is still made, and fails where operators look, naming the missing submission
    with _client() as client:  # the engine finds this client in the context and runs the flow with it
        run = client.create_flow_run(flow, parameters=flow.serialize_parameters(parameters), tags=[*tags, *extra_tags])
        if on_created is not None:
            on_created(str(run.id))
        result = run_flow(flow, flow_run=run, parameters=parameters)
    return result  # type: ignore[return-value]  # a sync flow's result, not a coroutine or generator


@contextmanager
def _client() -> Iterator[SyncPrefectClient]:
    """The caller's Prefect client, else a new one on the shared TLS context, installed as the context's client."""
    existing = SyncClientContext.get()
    if existing is not None:
        yield existing.client
        return
    api = get_current_settings().api
    context = SyncClientContext(httpx_settings={"verify": _tls(api.ssl_cert_file, api.tls_insecure_skip_verify)})
    # Marked as made with the default settings, so get_client() inside the run (artifacts, results) returns it
    # instead of building another client, as it does for the client the engine makes when the caller has none.
    context._httpx_settings = None
    http = cast(PrefectHttpxSyncClient, context.client._client)  # the httpx client, which holds the CSRF state
    if _CSRF_OFF.get(api.url):
        http.enable_csrf_support = False
    with context:
        yield context.client
    if not http.enable_csrf_support:
        _CSRF_OFF[api.url] = True


@functools.cache
def _tls(cert_file: str | None, insecure: bool) -> ssl.SSLContext:
    """The TLS context Prefect 3.8.8 builds for each new client with these settings, built once per process."""
    context = ssl.create_default_context(cafile=cert_file or certifi.where())
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
