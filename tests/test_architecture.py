"""Architecture rules: the domain imports no Prefect, outside SDKs stay in adapters, deployments load."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

ADAPTERS = {
    "boto3": {"credflow/storage/s3.py"},
    "botocore": {"credflow/storage/s3.py"},
    "sendgrid": {"credflow/mail/sendgrid.py"},
    "python_http_client": {"credflow/mail/sendgrid.py"},
    "ffmpeg": {"credflow/media/transcode.py", "credflow/media/probe.py", "credflow/media/samples.py"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_package_never_imports_prefect():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "credflow").rglob("*.py") if "prefect" in _imports(p)]
    assert offenders == []
    # Nor transitively: importing every domain module leaves Prefect unloaded.
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "credflow").rglob("*.py")
        if "migrations" not in p.parts
    ]
    code = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("sdk", sorted(ADAPTERS))
def test_outside_sdks_appear_only_in_their_adapters(sdk):
    users = {
        str(p.relative_to(ROOT))
        for folder in ("credflow", "flows", "tasks", "cli")
        for p in (ROOT / folder).rglob("*.py")
        if sdk in _imports(p)
    }
    assert users <= ADAPTERS[sdk]


def test_every_prefect_yaml_entrypoint_loads():
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        flow: Any = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert flow.description, f"{deployment['entrypoint']} has no docstring for the Prefect UI"


def test_flows_and_tasks_have_one_line_docstrings():
    from prefect import Flow, Task

    import flows.submission
    import tasks

    task_modules = [importlib.import_module(f"tasks.{info.name}") for info in pkgutil.iter_modules(tasks.__path__)]
    found = 0
    for module in (flows.submission, *task_modules):
        for obj in vars(module).values():
            if isinstance(obj, Flow | Task) and obj.fn.__module__ == module.__name__:
                doc = (obj.fn.__doc__ or "").strip()
                assert doc and "\n" not in doc, obj.name
                found += 1
    assert found >= 20
