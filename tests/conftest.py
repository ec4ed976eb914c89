"""Shared fixtures: settings and services on temporary folders, PostgreSQL, and one Prefect test server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.offline import apply_offline_defaults

apply_offline_defaults()

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CREDFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def _services_set_up_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every ``build_services`` of the session shares one parse of rubrics/ and one migrated SQLite template.

    Production code is unchanged: only the two names ``credflow.services`` looks up are wrapped, so each
    Services gets the same catalog and schema as before without parsing YAML or running Alembic again.
    """
    from credflow.catalog import load_catalog
    from credflow.db.migrate import upgrade
    from tests.utils.session_cache import CachedCatalogs, TemplateSchema

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("credflow.services.load_catalog", CachedCatalogs(load_catalog, ROOT / "rubrics"))
        patch.setattr("credflow.services.upgrade", TemplateSchema(upgrade, tmp_path_factory.mktemp("schema")))
        yield


@pytest.fixture
def make_settings(tmp_path: Path):
    """Build Settings rooted in this test's temporary folder (extra fields override)."""
    from credflow.settings import load_settings

    def build(**overrides: object):
        values: dict[str, object] = {"data_dir": tmp_path / "data", "catalog_dir": ROOT / "rubrics"}
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def services(make_settings) -> Iterator:
    """Services on SQLite, a local store and an outbox, all under tmp_path."""
    from credflow.services import build_services

    svc = build_services(make_settings())
    yield svc
    svc.close()


#: Settings naming no usable ffmpeg: a test on these services fails if anything reaches for it.
NO_FFMPEG = {"ffmpeg_path": "/nonexistent/ffmpeg", "ffprobe_path": "/nonexistent/ffprobe"}


@pytest.fixture
def fake_media():
    """A media tool that records its calls and runs no ffmpeg."""
    from credflow.media.fake import FakeMedia

    return FakeMedia()


@pytest.fixture
def fake_media_services(make_settings, fake_media) -> Iterator:
    """Services on the fake media tool, whose settings name no usable ffmpeg."""
    from credflow.services import build_services

    svc = build_services(make_settings(**NO_FFMPEG), media=fake_media)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    import psycopg

    name = f"credflow_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - the machines run PostgreSQL
        pytest.fail(f"PostgreSQL is not reachable at {admin}: {exc}")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """The data layer's URL on each backend; PostgreSQL gets a clean schema per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'credflow.db'}"
        return
    import psycopg

    url = request.getfixturevalue("pg_database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    yield url


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect test server for every flow test of the session."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture(scope="session")
def validator_python() -> Path:
    """1EdTech's OB 2.0 validator's interpreter (tests/validator/.venv, built on first use)."""
    from tests.utils.validator import validator_venv

    return validator_venv()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on 127.0.0.1 (``mock_aws`` serves no HTTP; a browser's POST needs a server)."""
    from moto.server import ThreadedMotoServer

    from cli.demo_reviewers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the longest test files first (tests/utils/scheduling.py), so `make test`'s two workers end together."""
    from tests.utils.scheduling import longest_first

    order = longest_first([item.path for item in items], ROOT / "tests")
    items[:] = [items[i] for i in order]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Cancel the timers still waiting when the tests are done, so the process can exit.

    ``limits``' in-memory storage (the web app's rate limits) runs its expiry on a non-daemon
    ``threading.Timer(0.01)``. Under libfaketime (``make test-future``) a timed wait never times
    out, since the monotonic clock is moved too, so that timer would keep the worker alive forever.
    """
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
