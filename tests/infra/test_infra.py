"""infra/: compose, image, scripts, systemd unit, S3 documents and docs, checked here without a Docker engine."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE_DIR = INFRA / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
UNIT = INFRA / "workers" / "credflow-worker.service"
WORKER_ENV = INFRA / "workers" / "worker.env.example"
S3_DIR = INFRA / "s3"
# The venv's bin folder: docker-compose, hadolint and shellcheck come from PyPI wheels (dev deps).
BIN = Path(sys.executable).parent
PLACEHOLDER_BUCKET = "credflow-evidence"
PG_ADMIN_URL = os.environ.get("CREDFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# Every file in infra/ and the tests that check it; a new file without a check fails the first test.
CHECKED = {
    "README.md": "test_docs_name_real_paths_settings_and_commands",
    "compose/.env.example": "test_compose_variables_are_all_in_env_example",
    "compose/.gitignore": "test_secrets_and_env_are_git_ignored",
    "compose/compose.yaml": "test_compose_loads_with_compose_itself and the compose tests below",
    "compose/postgres/10-create-databases.sh": "test_shell_scripts_lint, test_init_script_creates_both_databases",
    "docker/Dockerfile": "test_dockerfile_passes_hadolint, test_dockerfile_builds_from_the_lock",
    "docker/Dockerfile.dockerignore": "test_dockerignore_lets_in_what_the_dockerfile_copies",
    "s3/bucket-policy.json": "test_s3_documents_load_into_moto, test_bucket_policy_decisions",
    "s3/cors.json": "test_s3_documents_load_into_moto",
    "s3/encryption.json": "test_s3_documents_load_into_moto",
    "s3/iam-policy.json": "test_iam_policy_is_valid_and_least_privilege",
    "s3/lifecycle.json": "test_lifecycle_rules_match_credflow_keys",
    "s3/public-access-block.json": "test_s3_documents_load_into_moto",
    "scripts/backup.sh": "test_shell_scripts_lint, test_backup_dumps_both_databases_and_the_keys",
    "scripts/deploy-flows.sh": "test_shell_scripts_lint, test_deploy_flows_creates_the_pool_once",
    "scripts/make-secrets.sh": "test_shell_scripts_lint, test_make_secrets",
    "scripts/with-secrets.sh": "test_shell_scripts_lint, test_with_secrets_*",
    "sendgrid/README.md": "test_docs_name_real_paths_settings_and_commands",
    "workers/credflow-worker.service": "test_worker_unit_verifies, test_worker_unit_matches_prefect_yaml",
    "workers/install-worker.sh": "test_shell_scripts_lint",
    "workers/worker.env.example": "test_worker_env_example_gives_valid_settings",
}


def _clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment, so variables of the developer's shell cannot change what is checked."""
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": os.environ.get("HOME", "/")}
    env.update(extra)
    return env


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "docker-compose"), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=COMPOSE_DIR,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """The project as Compose itself resolves it (interpolated with .env.example, anchors merged)."""
    result = _compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    # `config` prints a literal $ as $$ (so its output can be loaded again); containers get one $.
    for service in config["services"].values():
        service["environment"] = {k: (v or "").replace("$$", "$") for k, v in service.get("environment", {}).items()}
    return config


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pin(package: str) -> str:
    for requirement in _pyproject()["project"]["dependencies"]:
        if requirement.startswith(f"{package}=="):
            return str(requirement.split("==", 1)[1])
    raise AssertionError(f"{package} is not pinned with == in pyproject.toml")


def _prefect_yaml() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return data


def _work_pools() -> set[str]:
    return {d["work_pool"]["name"] for d in _prefect_yaml()["deployments"]}


# --- the inventory -----------------------------------------------------------------------------------


def test_every_infra_file_is_checked():
    # Tracked and new files; git-ignored ones (a filled-in .env, secrets/) are not part of infra/.
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "infra"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    files = {line.removeprefix("infra/") for line in listing.stdout.splitlines() if (ROOT / line).is_file()}
    assert files == set(CHECKED), "add a check for each new infra/ file to tests/infra/test_infra.py (and CHECKED)"


def test_secrets_and_env_are_git_ignored():
    for path in ("infra/compose/.env", "infra/compose/secrets/credflow_secret_key"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, capture_output=True, timeout=30)
        assert result.returncode == 0, f"{path} is not git-ignored"
    # The example stays tracked.
    result = subprocess.run(["git", "check-ignore", "-q", "infra/compose/.env.example"], cwd=ROOT, timeout=30)
    assert result.returncode == 1


# --- compose -----------------------------------------------------------------------------------------


def test_compose_loads_with_compose_itself():
    """`docker compose config` validates the file (schema, references, interpolation) with no engine."""
    result = _compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "WARN" not in result.stderr, result.stderr


def test_compose_refuses_a_missing_required_setting(tmp_path: Path):
    values = _env_file(ENV_EXAMPLE)
    del values["CREDFLOW_S3_BUCKET"]
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    result = _compose("config", "--quiet", env_file=env_file)
    assert result.returncode != 0
    assert "CREDFLOW_S3_BUCKET" in result.stderr


def test_compose_matches_compose_spec_schema():
    """The compose-spec JSON schema vendored by check-jsonschema, on the file as written."""
    from importlib.resources import files

    import jsonschema

    schema_file = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []


def test_compose_services_start_in_order(compose_config):
    services = compose_config["services"]
    assert set(services) == {
        "postgres",
        "prefect-server",
        "migrate",
        "prefect-deploy",
        "worker",
        "credflow-worker",
        "web",
    }
    one_shots = {name for name, s in services.items() if s.get("restart") in (None, "no")}
    assert one_shots == {"migrate", "prefect-deploy"}
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            expected = "service_completed_successfully" if target in one_shots else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {target}"
            if expected == "service_healthy":
                assert "healthcheck" in services[target], f"{target} is waited for but has no healthcheck"
    for name in set(services) - one_shots:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert {"migrate", "prefect-deploy"} <= set(services["worker"]["depends_on"])
    assert {"migrate", "prefect-deploy"} <= set(services["web"]["depends_on"])


def test_compose_variables_are_all_in_env_example():
    text = COMPOSE_FILE.read_text()
    # ${NAME...} that compose interpolates; $${NAME} is left for the container (Prefect's own template).
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    declared = set(_env_file(ENV_EXAMPLE))
    assert used - declared == set(), "document these in .env.example"
    assert declared - used == set(), ".env.example names variables compose.yaml does not use"


def test_compose_images_are_pinned(compose_config):
    services = compose_config["services"]
    prefect = _pin("prefect")
    assert str(_prefect_yaml()["prefect-version"]) == prefect
    python = re.search(r"==(3\.\d+)", _pyproject()["project"]["requires-python"].replace(">=", "=="))
    assert python is not None
    assert services["prefect-server"]["image"] == f"prefecthq/prefect:{prefect}-python{python.group(1)}"
    assert re.fullmatch(r"postgres:\d+-bookworm", services["postgres"]["image"])
    version = _pyproject()["project"]["version"]
    for name in ("migrate", "prefect-deploy", "worker", "web"):
        assert services[name]["image"] == f"credflow:{version}", f"{name}: CREDFLOW_VERSION must be {version}"
    for name, service in services.items():
        assert not service["image"].endswith(":latest"), name


def test_compose_ports_bind_loopback_by_default(compose_config):
    published = {}
    for name, service in compose_config["services"].items():
        for port in service.get("ports", []):
            published[(name, int(port["target"]))] = port.get("host_ip")
    assert published == {
        ("postgres", 5432): "127.0.0.1",
        ("prefect-server", 4200): "127.0.0.1",
        ("web", 8000): "127.0.0.1",
    }


SECRETISH = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|AUTH_STRING|CREDENTIALS", re.IGNORECASE)


def test_compose_holds_no_secret_values(compose_config):
    declared = set(compose_config["secrets"])
    for name, service in compose_config["services"].items():
        mounted = {s["source"] for s in service.get("secrets", [])}
        for key, value in (service.get("environment") or {}).items():
            value = value or ""
            if "://" in value:
                userinfo = value.split("://", 1)[1].split("@", 1)[0] if "@" in value else ""
                password = userinfo.partition(":")[2]
                assert password in ("", "${PREFECT_API_DATABASE_PASSWORD}"), f"{name}.{key} has a password"
            if SECRETISH.search(key):
                assert key.endswith("_FILE") or key == "AWS_SHARED_CREDENTIALS_FILE", f"{name}.{key} is a value"
                match = re.fullmatch(r"/run/secrets/([a-z_]+)", value)
                assert match, f"{name}.{key}={value} is not a mounted secret"
                assert match.group(1) in mounted, f"{name}.{key}: secret {match.group(1)} is not mounted"
        assert mounted <= declared
    for secret in compose_config["secrets"].values():
        path = Path(secret["file"])
        assert path.parent == COMPOSE_DIR / "secrets", path


def _run_with_secrets(environment: dict[str, str], tmp_path: Path, *command: str) -> dict[str, str]:
    """Run with-secrets.sh on a service's environment, its /run/secrets files faked in tmp_path."""
    env = _clean_env()
    for key, value in environment.items():
        match = re.fullmatch(r"/run/secrets/([a-z_]+)", value or "")
        if match:
            fake = tmp_path / match.group(1)
            if not fake.exists():
                fake.write_text(f"{match.group(1)}-value-{uuid.uuid4().hex}\n")
            value = str(fake)
        env[key] = value or ""
    result = subprocess.run(
        ["sh", str(INFRA / "scripts" / "with-secrets.sh"), *(command or ("env", "-0"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    if command:
        return {"stdout": result.stdout}
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)


@pytest.mark.parametrize("service", ["web", "worker", "migrate", "prefect-deploy"])
def test_compose_environment_gives_valid_credflow_settings(compose_config, service, tmp_path, monkeypatch):
    from credflow.settings import MailBackend, StorageBackend, load_settings

    env = _run_with_secrets(compose_config["services"][service]["environment"], tmp_path)
    assert not [k for k in env if k.endswith("_FILE") and k != "AWS_SHARED_CREDENTIALS_FILE"]
    assert env["PGPASSWORD"] == (tmp_path / "credflow_db_password").read_text().strip()
    for key in [k for k in os.environ if k.startswith("CREDFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("CREDFLOW_"):
            monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.storage_backend is StorageBackend.S3
    assert settings.s3_bucket == _env_file(ENV_EXAMPLE)["CREDFLOW_S3_BUCKET"]
    assert settings.mail_backend is MailBackend.SENDGRID
    assert settings.sendgrid_api_key is not None
    assert settings.secret_key.get_secret_value() == (tmp_path / "credflow_secret_key").read_text().strip()
    assert settings.resolved_database_url == "postgresql://credflow@postgres:5432/credflow"
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert (env.get("CREDFLOW_DEPLOYMENTS") == "1") == (service == "web")


def test_prefect_server_gets_its_database_url_with_the_password(compose_config, tmp_path):
    service = compose_config["services"]["prefect-server"]
    assert service["entrypoint"][-1] == "/opt/credflow-infra/with-secrets.sh"
    mounts = {v["target"]: v["source"] for v in service["volumes"]}
    assert Path(mounts["/opt/credflow-infra/with-secrets.sh"]) == INFRA / "scripts" / "with-secrets.sh"
    environment = {**service["environment"], "PREFECT_HOME": str(tmp_path / "prefect")}
    code = (
        "from prefect.settings import get_current_settings as s; c = s(); "
        "print(c.server.database.connection_url.get_secret_value()); print(c.server.api.auth_string.get_secret_value())"
    )
    out = _run_with_secrets(environment, tmp_path, sys.executable, "-c", code)["stdout"].split()
    password = (tmp_path / "prefect_db_password").read_text().strip()
    assert out[0] == f"postgresql+asyncpg://prefect:{password}@postgres:5432/prefect"
    assert out[1] == (tmp_path / "prefect_auth_string").read_text().strip()
    assert service["command"][:3] == ["prefect", "server", "start"]
    assert service["environment"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_worker_and_deploy_use_prefect_yaml_pool(compose_config):
    command = compose_config["services"]["worker"]["command"]
    assert command[:3] == ["prefect", "worker", "start"]
    assert command[command.index("--pool") + 1] in _work_pools()
    assert command[command.index("--type") + 1] == "process"
    assert compose_config["services"]["credflow-worker"]["command"][:2] == ["credflow", "worker"]
    assert compose_config["services"]["prefect-deploy"]["command"] == ["deploy-flows"]
    assert compose_config["services"]["migrate"]["command"] == ["credflow", "db", "upgrade"]
    assert compose_config["services"]["web"]["command"][:2] == ["credflow", "serve"]


# --- the image ---------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _dockerfile():
    from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

    return DockerfileParser(path=str(DOCKERFILE))


def _copy_sources() -> list[str]:
    sources = []
    for instruction in _dockerfile().structure:
        if instruction["instruction"] == "COPY":
            words = [w for w in instruction["value"].split() if not w.startswith("--")]
            sources += words[:-1]
    return sources


def test_dockerfile_builds_from_the_lock():
    parser = _dockerfile()
    python = re.search(r"(3\.\d+)", _pyproject()["project"]["requires-python"])
    assert python is not None
    assert re.fullmatch(rf"python:{re.escape(python.group(1))}-slim-bookworm", parser.baseimage)
    for source in _copy_sources():
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    assert "requirements.lock" in _copy_sources()
    runs = " ".join(i["value"] for i in parser.structure if i["instruction"] == "RUN")
    assert "--constraint requirements.lock" in runs
    assert "ffmpeg" in runs and "libmagic1" in runs
    assert "uv==" + _makefile_uv_version() in runs
    instructions = {i["instruction"]: i["value"] for i in parser.structure}
    assert json.loads(instructions["ENTRYPOINT"]) == ["/usr/local/bin/with-secrets"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", instructions["USER"]), "run as a numeric non-root user"
    env = parser.envs
    assert (
        env["CREDFLOW_HOME"] == parser.structure[[i["instruction"] for i in parser.structure].index("WORKDIR")]["value"]
    )
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def _makefile_uv_version() -> str:
    match = re.search(r"uv==([\d.]+)", (ROOT / "Makefile").read_text())
    assert match
    return match.group(1)


def test_dockerignore_lets_in_what_the_dockerfile_copies():
    lines = [ln.strip() for ln in (INFRA / "docker" / "Dockerfile.dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "**", "ignore everything, then let in what the image needs"

    def included(path: str) -> bool:
        keep = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/") or pattern == "**":
                keep = negate
        return keep

    for source in _copy_sources():
        assert included(source.rstrip("/")), f"COPY {source} is excluded by the dockerignore"
    for private in ("var/credflow.db", ".venv/bin/python", "infra/compose/secrets/credflow_secret_key", ".git/config"):
        assert not included(private), private


# --- shell scripts -----------------------------------------------------------------------------------

SCRIPTS = sorted(INFRA.rglob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_shell_scripts_lint(script: Path):
    shell = "bash" if script.read_text().startswith("#!/bin/bash") else "sh"
    assert script.read_text().startswith(f"#!/bin/{shell}\n")
    assert os.access(script, os.X_OK), f"{script} is not executable"
    syntax = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run([str(BIN / "shellcheck"), str(script)], capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout


def _with_secrets(tmp_path: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA / "scripts" / "with-secrets.sh"), *command],
        capture_output=True,
        text=True,
        env=_clean_env(**env),
        timeout=30,
    )


def test_with_secrets_reads_files_into_variables(tmp_path: Path):
    (tmp_path / "key").write_text("s3cr3t value with spaces\n\n")
    result = _with_secrets(tmp_path, {"CREDFLOW_SECRET_KEY_FILE": str(tmp_path / "key")}, "env")
    assert result.returncode == 0, result.stderr
    assert "CREDFLOW_SECRET_KEY=s3cr3t value with spaces\n" in result.stdout
    assert "CREDFLOW_SECRET_KEY_FILE" not in result.stdout


def test_with_secrets_leaves_other_file_settings_alone(tmp_path: Path):
    env = {"PREFECT_API_SSL_CERT_FILE": "/etc/ssl/cert.pem"}
    result = _with_secrets(tmp_path, env, "env")
    assert "PREFECT_API_SSL_CERT_FILE=/etc/ssl/cert.pem" in result.stdout


@pytest.mark.parametrize("content", [None, ""])
def test_with_secrets_refuses_missing_or_empty_files(tmp_path: Path, content: str | None):
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content)
    result = _with_secrets(tmp_path, {"PGPASSWORD_FILE": str(path)}, "true")
    assert result.returncode == 1
    assert "PGPASSWORD_FILE" in result.stderr


def test_with_secrets_needs_a_command(tmp_path: Path):
    assert _with_secrets(tmp_path, {}).returncode == 64


def _stub(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


@pytest.mark.parametrize("pool_exists", [True, False])
def test_deploy_flows_creates_the_pool_once(tmp_path: Path, pool_exists: bool):
    log = tmp_path / "calls"
    inspect = "exit 0" if pool_exists else "exit 1"
    _stub(
        tmp_path / "bin",
        "prefect",
        f'echo "$PWD $*" >> {log}\nif [[ $1 == work-pool && $2 == inspect ]]; then {inspect}; fi',
    )
    result = subprocess.run(
        [str(INFRA / "scripts" / "deploy-flows.sh")],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "CREDFLOW_HOME": str(ROOT)},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    (pool,) = _work_pools()
    calls = log.read_text().splitlines()
    expected = [f"{ROOT} work-pool inspect {pool}"]
    if not pool_exists:
        expected.append(f"{ROOT} work-pool create {pool} --type process")
    expected.append(f"{ROOT} --no-prompt deploy --all")
    assert calls == expected


def test_deploy_flows_stops_when_the_pool_cannot_be_made(tmp_path: Path):
    _stub(tmp_path / "bin", "prefect", "exit 1")
    result = subprocess.run(
        [str(INFRA / "scripts" / "deploy-flows.sh")],
        capture_output=True,
        env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "CREDFLOW_HOME": str(ROOT)},
        timeout=30,
    )
    assert result.returncode != 0


def test_make_secrets(tmp_path: Path):
    folder = tmp_path / "secrets"
    script = INFRA / "scripts" / "make-secrets.sh"
    first = subprocess.run([str(script), str(folder)], capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    compose_secrets = set(yaml.safe_load(COMPOSE_FILE.read_text())["secrets"])
    assert {p.name for p in folder.iterdir()} == compose_secrets
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    values = {p.name: p.read_text().strip() for p in folder.iterdir()}
    for name in ("postgres_password", "prefect_db_password", "credflow_db_password", "credflow_secret_key"):
        assert len(values[name]) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", values[name]), name
    assert len(set(values.values())) == len(values)
    assert re.fullmatch(r"credflow:[A-Za-z0-9_-]{32,}", values["prefect_auth_string"])
    assert values["sendgrid_api_key"] == ""  # the operator's to fill; with-secrets refuses it empty
    (folder / "credflow_secret_key").chmod(0o644)
    (folder / "credflow_secret_key").write_text("kept\n")
    again = subprocess.run([str(script), str(folder)], capture_output=True, text=True, timeout=30)
    assert again.returncode == 0
    assert (folder / "credflow_secret_key").read_text() == "kept\n"


def test_backup_dumps_both_databases_and_the_keys(tmp_path: Path):
    log = tmp_path / "calls"
    _stub(tmp_path / "bin", "docker", f'echo "$*" >> {log}\necho "data for $*"')
    dest = tmp_path / "backups"
    result = subprocess.run(
        [str(INFRA / "scripts" / "backup.sh"), str(dest)],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name.split("-")[0] for p in dest.iterdir())
    assert names == ["credflow", "keys", "prefect"]
    for path in dest.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.read_text().startswith("data for compose")
    calls = log.read_text()
    assert f"-f {COMPOSE_FILE}" in calls
    assert "pg_dump --username postgres --format custom --dbname credflow" in calls
    assert "pg_dump --username postgres --format custom --dbname prefect" in calls
    volumes = yaml.safe_load(COMPOSE_FILE.read_text())["x-credflow"]["volumes"]
    assert "credflow-keys:/var/lib/credflow/keys" in volumes
    assert "-C /var/lib/credflow -cf - keys" in calls


def test_backup_fails_when_a_dump_fails(tmp_path: Path):
    _stub(tmp_path / "bin", "docker", 'echo partial; [[ "$*" != *prefect* ]]')
    dest = tmp_path / "backups"
    result = subprocess.run(
        [str(INFRA / "scripts" / "backup.sh"), str(dest)],
        capture_output=True,
        env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode != 0
    assert not [p for p in dest.iterdir() if p.name.startswith("prefect") and p.suffix == ".dump"]


@pytest.mark.postgres
def test_init_script_creates_both_databases(tmp_path: Path):
    """The first-start script, run for real against the test PostgreSQL (names made unique)."""
    import psycopg

    from credflow.db.engine import Database
    from credflow.db.migrate import upgrade

    suffix = uuid.uuid4().hex[:8]
    names = {"prefect": f"infra_prefect_{suffix}", "credflow": f"infra_credflow_{suffix}"}
    (tmp_path / "p").write_text("pw with ' quote\n")
    (tmp_path / "c").write_text("another-password\n")
    admin = PG_ADMIN_URL
    env = _clean_env(
        PGHOST="127.0.0.1",
        POSTGRES_USER="postgres",
        PREFECT_DB_NAME=names["prefect"],
        PREFECT_DB_USER=names["prefect"],
        PREFECT_DB_PASSWORD_FILE=str(tmp_path / "p"),
        CREDFLOW_DB_NAME=names["credflow"],
        CREDFLOW_DB_USER=names["credflow"],
        CREDFLOW_DB_PASSWORD_FILE=str(tmp_path / "c"),
    )
    try:
        result = subprocess.run(
            [str(COMPOSE_DIR / "postgres" / "10-create-databases.sh")], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        with psycopg.connect(admin, autocommit=True) as conn:
            owners: dict[str, str] = dict(
                conn.execute(
                    "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)",
                    [list(names.values())],
                ).fetchall()
            )
            assert owners == {n: n for n in names.values()}
            with_password = conn.execute(
                "SELECT count(*) FROM pg_authid WHERE rolname = ANY(%s) AND rolpassword LIKE 'SCRAM-SHA-256$%%'",
                [list(names.values())],
            ).fetchone()
            assert with_password == (2,)
        # credflow's role can run the migrations in its own database.
        base = admin.rsplit("@", 1)[1].rsplit("/", 1)[0]
        db = Database(f"postgresql://{names['credflow']}@{base}/{names['credflow']}")
        try:
            upgrade(db)
        finally:
            db.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')


# --- worker hosts ------------------------------------------------------------------------------------


def test_worker_unit_verifies(tmp_path: Path):
    """systemd-analyze verify, on a copy whose /opt/credflow is this checkout (it checks ExecStart exists)."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/credflow", str(ROOT)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings: any line about the unit fails the test.
    assert [line for line in result.stderr.splitlines() if UNIT.name in line] == []


def _unit_values(key: str) -> list[str]:
    return [ln.split("=", 1)[1] for ln in UNIT.read_text().splitlines() if ln.startswith(f"{key}=")]


def test_worker_unit_matches_prefect_yaml():
    (exec_start,) = _unit_values("ExecStart")
    words = exec_start.split()
    assert words[0] == "/opt/credflow/infra/scripts/with-secrets.sh"
    assert words[1:3] == ["/opt/credflow/.venv/bin/credflow", "worker"]
    assert words[words.index("--name") + 1] == "%H"  # runs are tagged worker:<host>
    assert "CREDFLOW_HOME=/opt/credflow" in _unit_values("Environment")
    credentials = {v.split(":", 1)[0] for v in _unit_values("LoadCredential")}
    used = {m for v in _unit_values("Environment") for m in re.findall(r"%d/([a-z_]+)", v)}
    assert used == credentials
    # Everything the worker runs reads the same secrets as the compose worker.
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    assert credentials == set(compose["x-credflow"]["secrets"])
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", exec_start))
    assert variables <= set(_env_file(WORKER_ENV))


def test_worker_env_example_gives_valid_settings(monkeypatch):
    from credflow.settings import Settings, StorageBackend, load_settings

    values = _env_file(WORKER_ENV)
    fields = {f"CREDFLOW_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in values if k.startswith("CREDFLOW_")} <= fields
    for key in [k for k in os.environ if k.startswith("CREDFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    # What the unit's credentials add.
    monkeypatch.setenv("CREDFLOW_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CREDFLOW_SENDGRID_API_KEY", "SG.test")
    settings = load_settings()
    assert settings.storage_backend is StorageBackend.S3
    assert settings.resolved_keys_dir == Path("/var/lib/credflow/keys")
    assert (f"AssertPathIsDirectory={settings.resolved_keys_dir}") in UNIT.read_text()
    assert values["PREFECT_API_URL"].endswith(":4200/api")
    # The same bucket layout as the compose host.
    compose_env = _env_file(ENV_EXAMPLE)
    for key in ("CREDFLOW_S3_BUCKET", "CREDFLOW_S3_PREFIX", "CREDFLOW_S3_REGION"):
        assert values[key] == compose_env[key]


# --- S3 ----------------------------------------------------------------------------------------------


def _s3_document(name: str, bucket: str = PLACEHOLDER_BUCKET) -> Any:
    return json.loads((S3_DIR / name).read_text().replace(PLACEHOLDER_BUCKET, bucket))


def _prefix() -> str:
    return _env_file(ENV_EXAMPLE)["CREDFLOW_S3_PREFIX"]


@pytest.fixture
def s3_client(monkeypatch):
    import boto3  # type: ignore[import-untyped]
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def test_s3_documents_load_into_moto(s3_client):
    bucket = f"cf-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    policy = _s3_document("bucket-policy.json", bucket)
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    block = _s3_document("public-access-block.json")
    s3_client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    assert s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == block
    assert all(block.values()) and len(block) == 4
    encryption = _s3_document("encryption.json")
    s3_client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
    stored = s3_client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert stored[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    lifecycle = _s3_document("lifecycle.json")
    s3_client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle)
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["ID"] for r in rules} == {r["ID"] for r in lifecycle["Rules"]}
    # The portal's pages PUT upload parts straight to the bucket: their origin may, and nothing else.
    cors = _s3_document("cors.json")
    s3_client.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
    [rule] = s3_client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rule["AllowedMethods"] == ["PUT"] and len(rule["AllowedOrigins"]) == 1
    # Every statement of the policy names this bucket only.
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all(r in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*") for r in resources)


def _rules_by_id() -> dict[str, dict[str, Any]]:
    return {r["ID"]: r for r in _s3_document("lifecycle.json")["Rules"]}


def test_lifecycle_rules_match_credflow_keys(s3_client):
    """Keys written by credflow's own S3Store: only uploads/ falls under the expiring rule."""
    from credflow.storage.s3 import S3Store

    rules = _rules_by_id()
    assert all(r["Status"] == "Enabled" for r in rules.values())
    assert 1 <= rules["expire-abandoned-direct-uploads"]["Expiration"]["Days"] <= 2
    # An upload must outlive its URL by a day: S3 expires objects up to a day after the rule's days.
    from credflow.settings import Settings

    url_seconds = Settings.model_fields["upload_url_seconds"].default
    assert (rules["expire-abandoned-direct-uploads"]["Expiration"]["Days"] - 1) * 86400 >= url_seconds
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 7
    assert rules["abort-incomplete-multipart-uploads"]["Filter"] == {"Prefix": ""}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert "Days" not in rules["expire-noncurrent-versions"].get("Expiration", {}), "current objects stay"

    bucket = f"cf-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    store = S3Store(bucket=bucket, prefix=_prefix(), client=s3_client)
    keys = {
        "uploads": f"uploads/{uuid.uuid4()}",
        "evidence": f"evidence/{uuid.uuid4()}",
        "transcodes": f"transcodes/{'a' * 64}.mp4",
    }
    for key in keys.values():
        store.put_stream(key, BytesIO(b"x"))
    stored = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    expiring = rules["expire-abandoned-direct-uploads"]["Filter"]["Prefix"]
    assert {k for k in stored if k.startswith(expiring)} == {f"{_prefix()}/{keys['uploads']}"}
    # And the IAM policy's object resource covers every key credflow writes.
    (objects,) = [s for s in _s3_document("iam-policy.json")["Statement"] if s["Resource"].endswith("/*")]
    pattern = objects["Resource"].removeprefix(f"arn:aws:s3:::{PLACEHOLDER_BUCKET}/")
    assert all(fnmatch.fnmatch(k, pattern) for k in stored)


# boto3 client methods -> the IAM actions S3 checks for them.
BOTO3_TO_IAM = {
    "put_object": {"s3:PutObject"},
    "create_multipart_upload": {"s3:PutObject"},
    "upload_part": {"s3:PutObject"},
    "complete_multipart_upload": {"s3:PutObject"},
    "upload_part_copy": {"s3:GetObject", "s3:PutObject"},
    "copy": {"s3:GetObject", "s3:PutObject"},  # boto3's managed copy: head, copy_object or upload_part_copy
    "copy_object": {"s3:GetObject", "s3:PutObject"},
    "abort_multipart_upload": {"s3:AbortMultipartUpload"},
    "get_object": {"s3:GetObject"},
    # A HEAD of a missing key is 404 (not 403) only for a caller allowed to list the bucket.
    "head_object": {"s3:GetObject", "s3:ListBucket"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObject"},
    "list_objects_v2": {"s3:ListBucket"},
    "list_parts": {"s3:ListMultipartUploadParts"},
    "list_multipart_uploads": {"s3:ListBucketMultipartUploads"},
}
# Method by method: a browser's POST through generate_presigned_post is a PutObject.
BOTO3_TO_IAM["generate_presigned_post"] = {"s3:PutObject"}
PRESIGNED_TO_IAM = {
    "get_object": {"s3:GetObject"},
    "put_object": {"s3:PutObject"},
    "upload_part": {"s3:PutObject"},  # the portal's resumable uploads PUT their parts to these URLs
}


def _actions_credflow_needs() -> set[str]:
    tree = ast.parse((ROOT / "credflow" / "storage" / "s3.py").read_text())
    needed: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if not (isinstance(target, ast.Attribute) and target.attr == "_client"):
            continue
        method = node.func.attr
        if method == "generate_presigned_url":
            operation = node.args[0]
            assert isinstance(operation, ast.Constant), "presigned operation must be a literal"
            needed |= PRESIGNED_TO_IAM[str(operation.value)]
        else:
            assert method in BOTO3_TO_IAM, f"s3.py calls {method}: map it to IAM actions and update iam-policy.json"
            needed |= BOTO3_TO_IAM[method]
    return needed


def test_iam_policy_is_valid_and_least_privilege(monkeypatch):
    import boto3
    from moto import mock_aws

    policy = _s3_document("iam-policy.json")
    granted = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        granted |= set(statement["Action"])
        if statement["Action"] == ["s3:ListBucket"]:
            assert statement["Resource"] == f"arn:aws:s3:::{PLACEHOLDER_BUCKET}"
        else:
            assert statement["Resource"] == f"arn:aws:s3:::{PLACEHOLDER_BUCKET}/{_prefix()}/*"
    assert granted == _actions_credflow_needs()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        # moto validates the document as IAM does (version, effects, actions, resources).
        arn = iam.create_policy(PolicyName="credflow-evidence", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
        stored = json.loads(version) if isinstance(version, str) else version
        assert stored == policy


def _denied(policy: dict[str, Any], action: str, context: dict[str, str]) -> bool:
    """Whether a Deny statement applies: the conditions credflow's policy uses, evaluated as IAM does."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or not fnmatch.fnmatch(action, statement["Action"]):
            continue
        matches = []
        for operator, tests in statement.get("Condition", {}).items():
            for key, expected in tests.items():
                present = key in context
                value = context.get(key)
                if operator == "Bool":
                    matches.append(present and value == expected)
                elif operator == "Null":
                    matches.append((not present) == (expected == "true"))
                elif operator == "StringNotEquals":
                    matches.append(not present or value != expected)  # negated operators match a missing key
                elif operator == "NumericLessThan":
                    matches.append(present and float(str(value)) < float(expected))
                else:
                    raise AssertionError(f"teach _denied the {operator} operator")
        if all(matches):
            return True
    return False


def test_bucket_policy_decisions():
    policy = _s3_document("bucket-policy.json")
    tls = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
    # What boto3's put_object and multipart uploads send: TLS, no encryption header (the default applies).
    assert not _denied(policy, "s3:PutObject", tls)
    assert not _denied(policy, "s3:PutObject", {**tls, "s3:x-amz-server-side-encryption": "AES256"})
    assert not _denied(policy, "s3:GetObject", tls)
    assert _denied(policy, "s3:GetObject", {"aws:SecureTransport": "false"})
    assert _denied(policy, "s3:GetObject", {"aws:SecureTransport": "true", "s3:TlsVersion": "1.1"})
    assert _denied(policy, "s3:PutObject", {**tls, "s3:x-amz-server-side-encryption": "aws:kms"})
    assert _denied(policy, "s3:PutObject", {**tls, "s3:x-amz-server-side-encryption-customer-algorithm": "AES256"})
    assert _s3_document("encryption.json")["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


# --- docs --------------------------------------------------------------------------------------------

DOCS = [INFRA / "README.md", INFRA / "sendgrid" / "README.md"]
# Settings that are not fields of credflow.settings.Settings (read elsewhere, or being added).
OTHER_CREDFLOW_VARIABLES = {"CREDFLOW_HOME", "CREDFLOW_EVIDENCE_RETENTION_DAYS"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_docs_name_real_paths_settings_and_commands(doc: Path):
    import typer.main

    from cli.main import app
    from credflow.settings import Settings

    text = doc.read_text()
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```sh\n(.*?)```", text, re.S)
    for path in re.findall(r"(?<![\w/])infra/[\w./-]+[\w]", text):
        if path.startswith("infra/compose/secrets"):
            continue  # made by make-secrets.sh, git-ignored (test_make_secrets)
        assert (ROOT / path).exists(), f"{doc.name} names {path}, which does not exist"
    for path in re.findall(r"^\| `([\w*-]+/[\w*./-]+)`", text, re.M):
        assert list(INFRA.glob(path)), f"{doc.name} lists {path}, which is not in infra/"
    fields = {f"CREDFLOW_{name.upper()}" for name in Settings.model_fields} | OTHER_CREDFLOW_VARIABLES
    fields |= set(_env_file(ENV_EXAMPLE))  # compose's own (CREDFLOW_VERSION, CREDFLOW_IMAGE)
    for variable in re.findall(r"\bCREDFLOW_[A-Z0-9_]+", text):
        assert variable in fields, f"{doc.name} names {variable}, which credflow does not read"
    cli = typer.main.get_command(app)
    for span in spans:
        for match in re.finditer(r"\bcredflow ([a-z][\w-]*)(?: ([a-z][\w-]*))?", span):
            command = cli.commands.get(match.group(1))  # type: ignore[attr-defined]
            assert command is not None, f"{doc.name}: `credflow {match.group(1)}` is no command"
            sub = getattr(command, "commands", None)
            if sub is not None and match.group(2):
                assert match.group(2) in sub, f"{doc.name}: `credflow {match.group(1)} {match.group(2)}`"
    for secret in re.findall(r"secrets/([a-z_]+)", text):
        assert secret in yaml.safe_load(COMPOSE_FILE.read_text())["secrets"], f"{doc.name} names secret {secret}"
