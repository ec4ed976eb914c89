"""Independent checks of OB 3.0 credentials: 1EdTech's JSON Schema and Digital Bazaar's verifier in node."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from referencing import Registry, Resource

from tests.conftest import ROOT
from tests.utils.locks import installing

JS_DIR = ROOT / "tests" / "js" / "ob3-verify"
SCHEMA_DIR = ROOT / "tests" / "badges" / "schemas"

NodeVerify = Callable[..., list[dict[str, Any]]]


@cache
def achievement_credential_schema() -> Draft201909Validator:
    """1EdTech's AchievementCredential schema (draft 2019-09) with format checks; ``$ref``s resolve locally only."""
    documents = {path.name: json.loads(path.read_text()) for path in sorted(SCHEMA_DIR.glob("*.json"))}
    registry: Registry[Any] = Registry().with_resources(
        (document["$id"], Resource.from_contents(document)) for document in documents.values()
    )
    schema = documents["achievementcredential.json"]
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, registry=registry, format_checker=Draft201909Validator.FORMAT_CHECKER)


def schema_errors(credential: dict[str, Any]) -> list[str]:
    """Where ``credential`` breaks the OB 3.0 AchievementCredential schema: ``"<path>: <message>"``, or none."""
    errors = achievement_credential_schema().iter_errors(credential)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors)


def node_verifier() -> NodeVerify:
    """Verify credentials in one node process running tests/js/ob3-verify (npm ci on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the independent OB 3.0 verifier cannot run")
    with installing(JS_DIR):  # another test process may be running npm ci here
        if not (JS_DIR / "node_modules").is_dir():
            # --ignore-scripts: no package may run an install step (none needs one; it would download binaries).
            proc = subprocess.run(
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if proc.returncode != 0:
                pytest.fail(f"npm ci in {JS_DIR} failed:\n{proc.stdout}\n{proc.stderr}")

    def verify(
        credentials: Sequence[dict[str, Any]], *, status_lists: Sequence[dict[str, Any]] = (), now: str | None = None
    ) -> list[dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="ob3-verify-") as tmp:
            work = Path(tmp)
            batch = work / "batch.json"
            batch.write_text(json.dumps(list(credentials)))
            args = ["node", "verify.mjs", "--batch", str(batch)]
            for position, status_list in enumerate(status_lists):
                path = work / f"status-{position}.json"
                path.write_text(json.dumps(status_list))
                args += ["--status-list", str(path)]
            if now is not None:
                args += ["--now", now]
            proc = subprocess.run(args, cwd=JS_DIR, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
        return results

    return verify
