"""1EdTech's OB 2.0 validator run offline: its virtualenv (built once) and one validation per call."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.utils.locks import installing

VALIDATOR_DIR = ROOT / "tests" / "validator"
VALIDATOR_VENV = VALIDATOR_DIR / ".venv"


def _requirements_digest() -> str:
    return hashlib.sha256((VALIDATOR_DIR / "requirements.txt").read_bytes()).hexdigest()


def validator_venv() -> Path:
    """tests/validator/.venv with 1EdTech's validator, created (once) from tests/validator/requirements.txt."""
    with installing(VALIDATOR_VENV):  # another test process may be building it
        return _validator_venv()


def _validator_venv() -> Path:
    python = VALIDATOR_VENV / "bin" / "python"
    stamp = VALIDATOR_VENV / ".credflow-installed"
    digest = _requirements_digest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    shutil.rmtree(VALIDATOR_VENV, ignore_errors=True)
    # credflow's own interpreter (Python 3.11, which the pins are for) makes the virtualenv.
    subprocess.run([sys.executable, "-m", "venv", str(VALIDATOR_VENV)], check=True, capture_output=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    install = subprocess.run(
        [*pip, "--requirement", str(VALIDATOR_DIR / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        shutil.rmtree(VALIDATOR_VENV, ignore_errors=True)
        unavailable = ("No matching distribution", "Could not find a version", "HTTP error 404")
        if any(marker in output for marker in unavailable):
            pytest.skip(f"1EdTech's validator cannot be installed, a pinned package is unavailable:\n{output[-2000:]}")
        pytest.fail(f"installing 1EdTech's validator failed:\n{output[-4000:]}")
    check = subprocess.run([str(python), "-c", "import openbadges"], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        pytest.fail(f"1EdTech's validator does not import:\n{check.stderr[-4000:]}")
    stamp.write_text(digest + "\n")
    return python


@dataclass(frozen=True)
class Report:
    """What the validator said about one badge."""

    valid: bool
    messages: list[str]
    raw: dict[str, Any]

    def mentions(self, *words: str) -> bool:
        text = " ".join(self.messages).lower()
        return all(word.lower() in text for word in words)


def run_validator(
    python: Path, *, data: str | None = None, file: Path | None = None, email: str | None = None
) -> Report:
    """Validate one badge (``data``: a URL or a signed assertion; ``file``: a baked image) with ``python``."""
    args = [str(python), str(VALIDATOR_DIR / "run_validator.py")]
    args += ["--data", data] if data is not None else ["--file", str(file)]
    if email:
        args += ["--recipient", json.dumps({"email": email})]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    report = result["report"]
    messages = [f"{m.get('messageLevel')} {m.get('name')}: {m.get('result')}" for m in report.get("messages", [])]
    return Report(valid=bool(report.get("valid")), messages=messages, raw=result)
