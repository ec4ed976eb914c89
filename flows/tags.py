"""Run tags: a submission's runs carry its credential and issuer, from whichever door they start.

The tags go on the flow run when it is created, not into a ``with tags(...)`` block around the
flow call: under such a block Prefect 3.8.8 tags every task run as well, and each tagged task run
asks the API for a ``tag:<name>`` concurrency slot before it starts (7 calls per submission).
Deployment runs get the same tags from ``run_deployment(tags=...)`` (``cli/launch.py``).

A run started here also brings its own Prefect client unless the caller has one, and Prefect
gives every new client a new TLS context loaded from certifi's bundle: 30 ms of CPU per run,
even for a local plain-HTTP API. The runs started here share one, built as Prefect builds it.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import certifi
from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.context import SyncClientContext
from prefect.flow_engine import run_flow
from prefect.settings import get_current_settings

from credflow.errors import NotFoundError
from credflow.submissions import get_submission
from tasks.runtime import services

R = TypeVar("R")


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
    with context:
        yield context.client


@functools.cache
def _tls(cert_file: str | None, insecure: bool) -> ssl.SSLContext:
    """The TLS context Prefect 3.8.8 builds for each new client with these settings, built once per process."""
    context = ssl.create_default_context(cafile=cert_file or certifi.where())
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
