"""How tasks reach credflow's services: built once per process from settings, or set by the caller."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from credflow.services import Services, build_services
from credflow.settings import load_settings

_current: ContextVar[Services | None] = ContextVar("credflow_services", default=None)
_built: Services | None = None


def services() -> Services:
    """The services in use: those installed by :func:`use_services`, else built from the environment."""
    global _built
    installed = _current.get()
    if installed is not None:
        return installed
    if _built is None:
        _built = build_services(load_settings())
    return _built


@contextmanager
def use_services(installed: Services) -> Iterator[Services]:
    """Run flows in this process with ``installed`` services (the CLI and tests do this)."""
    global _built
    token = _current.set(installed)
    previous, _built = _built, installed  # task threads do not inherit context variables
    try:
        yield installed
    finally:
        _current.reset(token)
        _built = previous


def worker_identity() -> str:
    """Who holds a claim: host and process, for operators reading the records."""
    return f"{socket.gethostname()}:{os.getpid()}"
