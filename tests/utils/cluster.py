"""credflow's production shape on one machine: a Prefect server on PostgreSQL, credflow workers, S3, SendGrid.

Used by the cluster test (``tests/flows/test_cluster.py``) and the throughput benchmark (``bench/throughput.py``).
Everything binds 127.0.0.1: the Prefect server and ``credflow serve`` run as subprocesses (as
they would on their hosts), each worker as its own ``credflow worker`` process, S3 is moto's
server mode over HTTP in this process and SendGrid the local fake of its v3 API. Databases are
fresh ones on the machine's PostgreSQL, dropped afterwards.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from cli.demo_reviewers import free_port
from tests.utils.fakes.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("CREDFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SENDER = "credflow <ops@credflow.example>"
BUCKET = "credflow-evidence"
POOL = "credflow"  # the work pool of prefect.yaml


def _argv(args: Sequence[str]) -> list[str]:
    """The command line of ``args``: ``credflow`` runs as ``python -m cli.main`` when its script is not installed."""
    if args[0] == "credflow" and not (BIN / "credflow").exists():
        return [sys.executable, "-m", "cli.main", *args[1:]]
    return [str(BIN / args[0]), *args[1:]]


class ClusterError(RuntimeError):
    """A part of the cluster did not come up, or a wait ran out; the message carries its log's tail."""


@dataclass
class Process:
    """A subprocess with its log file, stopped (TERM, then KILL) on exit."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@dataclass
class Cluster:
    """A running cluster: its URLs, the environment its processes share, and the SendGrid fake."""

    workdir: Path
    env: dict[str, str]
    api_url: str
    web_url: str
    sendgrid: FakeSendGrid
    s3_endpoint: str
    credflow_db: str
    prefect_db: str
    processes: dict[str, Process] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command (``credflow ...``, ``prefect ...``) with the cluster's environment, from the checkout."""
        proc = subprocess.run(
            _argv(args),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterError(
                f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def start(
        self, name: str, *args: str, extra_env: dict[str, str] | None = None, drop_env: tuple[str, ...] = ()
    ) -> Process:
        """Start a long-running command in the background with its own log file."""
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[bytes] = log.open("ab")
        popen = subprocess.Popen(
            _argv(args),
            cwd=ROOT,
            env={k: v for k, v in {**self.env, **(extra_env or {})}.items() if k not in drop_env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        handle.close()
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def start_worker(self, name: str, *, limit: int = 2) -> Process:
        """A ``credflow worker`` named ``name``: the submission and decide flows, in that one process."""
        return self.start(name, "credflow", "worker", "--name", name, "--limit", str(limit))

    def kill(self, name: str) -> int:
        """SIGKILL the process ``name`` (as a lost host), without clean-up; its pid."""
        process = self.processes.pop(name)
        process.popen.kill()
        process.popen.wait(timeout=30)
        return process.popen.pid

    @contextmanager
    def aws_env(self) -> Iterator[None]:
        """This process reaches the cluster's S3 (moto) with the cluster's credentials for the block."""
        names = [name for name in self.env if name.startswith("AWS_")]
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update({name: self.env[name] for name in names})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def logs(self) -> str:
        """Every process's log tail, for a failure message."""
        return "\n".join(f"--- {p.name} (exit {p.popen.poll()}) ---\n{p.tail()}" for p in self.processes.values())

    def check_alive(self) -> None:
        for process in self.processes.values():
            if process.popen.poll() is not None:
                raise ClusterError(f"{process.name} exited {process.popen.returncode}\n{self.logs()}")

    def wait_for(self, what: str, done: Callable[[], bool], *, timeout: float, interval: float = 1.0) -> None:
        """Poll ``done`` until it holds; fail with the processes' logs when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while not done():
            self.check_alive()
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            time.sleep(interval)

    def services(self) -> Any:
        """credflow's services as the cluster's processes build them (PostgreSQL, S3, SendGrid)."""
        from credflow.services import build_services
        from credflow.settings import load_settings

        values = {k.removeprefix("CREDFLOW_").lower(): v for k, v in self.env.items() if k.startswith("CREDFLOW_")}
        return build_services(load_settings(**values))  # the settings ignore DEPLOYMENTS and HOME


def _create_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_cluster(workdir: Path, *, workers: int = 2, worker_limit: int = 2) -> Iterator[Cluster]:
    """Bring up the whole production set-up under ``workdir``; tear every part down afterwards.

    Steps, as an operator would take them: databases, S3 bucket, Prefect server on PostgreSQL,
    the work pool and ``prefect deploy --all`` from ``prefect.yaml`` (the scheduled flows; no process
    worker runs them here), ``credflow db upgrade``, the credflow workers, then ``credflow serve``
    with ``CREDFLOW_DEPLOYMENTS=1``.
    """
    from moto.server import ThreadedMotoServer

    from cli.offline import apply_offline_defaults

    apply_offline_defaults()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    suffix = uuid.uuid4().hex[:10]
    prefect_db_name, credflow_db_name = f"prefect_{suffix}", f"credflow_{suffix}"
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        prefect_db = _create_database(PG_ADMIN_URL, prefect_db_name)
        stack.callback(_drop_database, PG_ADMIN_URL, prefect_db_name)
        credflow_db = _create_database(PG_ADMIN_URL, credflow_db_name)
        stack.callback(_drop_database, PG_ADMIN_URL, credflow_db_name)

        s3_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        s3_endpoint = f"http://127.0.0.1:{s3_port}"
        sendgrid = stack.enter_context(FakeSendGrid(verified_senders={"ops@credflow.example"}))

        api_port, web_port = free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}/api"
        web_url = f"http://127.0.0.1:{web_port}"
        # Production hosts cache bytecode; a developer shell's PYTHONDONTWRITEBYTECODE would make
        # every flow-run process compile credflow again.
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CREDFLOW_", "PREFECT_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env = {
            **base,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            "PREFECT_HOME": str(workdir / "prefect-home"),
            "PREFECT_API_URL": api_url,
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "CREDFLOW_HOME": str(ROOT),
            "CREDFLOW_DEPLOYMENTS": "1",
            "CREDFLOW_DATA_DIR": str(workdir / "data"),
            "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
            "CREDFLOW_DATABASE_URL": credflow_db,
            "CREDFLOW_STORAGE_BACKEND": "s3",
            "CREDFLOW_S3_BUCKET": BUCKET,
            "CREDFLOW_S3_PREFIX": "credflow",
            "CREDFLOW_S3_ENDPOINT_URL": s3_endpoint,
            "CREDFLOW_MAIL_BACKEND": "sendgrid",
            "CREDFLOW_SENDGRID_API_KEY": DEFAULT_API_KEY,
            "CREDFLOW_SENDGRID_HOST": sendgrid.url,
            "CREDFLOW_MAIL_SENDER": SENDER,
            "CREDFLOW_OPERATOR_EMAIL": "operator@credflow.example",
            "CREDFLOW_PUBLIC_URL": web_url,
            "CREDFLOW_SECRET_KEY": "cluster-test-secret-key-of-enough-length",
            # A dead worker's runs are handed out again 15-22 s after its last renewal (production: 2-3 min).
            "CREDFLOW_DISPATCH_LEASE_SECONDS": "15",
        }
        cluster = Cluster(
            workdir=workdir,
            env=env,
            api_url=api_url,
            web_url=web_url,
            sendgrid=sendgrid,
            s3_endpoint=s3_endpoint,
            credflow_db=credflow_db,
            prefect_db=prefect_db,
        )

        def stop_processes() -> None:
            for process in reversed(list(cluster.processes.values())):
                process.stop()

        stack.callback(stop_processes)

        import boto3  # type: ignore[import-untyped]

        boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)

        server_env = {
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.replace("postgresql://", "postgresql+asyncpg://")
        }
        cluster.start(
            "prefect-server", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(api_port),
            extra_env=server_env, drop_env=("PREFECT_API_URL",),
        )  # fmt: skip
        cluster.wait_for("the Prefect server", lambda: _healthy(f"{api_url}/health"), timeout=120)

        cluster.run("prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite")
        cluster.run("prefect", "--no-prompt", "deploy", "--all", timeout=600)
        cluster.run("credflow", "db", "upgrade")
        for n in range(1, workers + 1):
            cluster.start_worker(f"worker-{n}", limit=worker_limit)
        cluster.start("web", "credflow", "serve", "--host", "127.0.0.1", "--port", str(web_port))
        cluster.wait_for("credflow serve", lambda: _healthy(f"{web_url}/api/openapi.json"), timeout=120)
        yield cluster


def flow_runs(cluster: Cluster) -> list[Any]:
    """Every flow run on the cluster's Prefect server, with its labels (the worker that ran it)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: cluster.api_url}), get_client(sync_client=True) as client:
        runs: list[Any] = []
        offset = 0
        while True:
            page = client.read_flow_runs(limit=200, offset=offset)
            runs.extend(page)
            if len(page) < 200:
                return runs
            offset += 200


def write_pool(path: Path, reviewers: int, credentials: Sequence[str], *, leads: int = 2, max_active: int = 8) -> Path:
    """A reviewer pool of ``reviewers`` reviewers calibrated today, each from their own organisation."""
    import yaml

    pool = {
        "reviewers": [
            {
                "name": f"Reviewer {n:02d}",
                "email": f"reviewer{n:02d}@reviewers.example.org",
                "organisation": f"Review Org {n:02d}",
                "certified_for": list(credentials),
                "calibrated_on": time.strftime("%Y-%m-%d"),
                "max_active": max_active,
                "lead": n <= leads,
            }
            for n in range(1, reviewers + 1)
        ]
    }
    path.write_text(yaml.safe_dump(pool), encoding="utf-8")
    return path


def message_text(payload: dict[str, Any]) -> str:
    """The plain-text part of a SendGrid v3 payload."""
    return next((c["value"] for c in payload.get("content", []) if c.get("type") == "text/plain"), "")


def idempotency_key(payload: dict[str, Any]) -> str:
    """The idempotency key credflow puts in each message's custom args."""
    return str(payload.get("custom_args", {}).get("idempotency_key", ""))
