"""Architecture rules: one home per step, pure rules, tasks on stages, no Prefect/SDK/web in the domain, tests apart."""

from __future__ import annotations

import ast
import importlib
import os
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


def imported_test_modules(source: str) -> list[str]:
    """The ``tests.**.test_*`` modules ``source`` imports (a test's helpers that others use belong in tests/utils)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names if alias.name.startswith("tests.")]
        elif isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("tests")):
            base = node.module or ""
            modules = [base, *(f"{base}.{alias.name}".lstrip(".") for alias in node.names)]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            tests = [i for i, part in enumerate(parts) if part.startswith("test_")]
            if tests:
                found.append(".".join(parts[: tests[0] + 1]))  # the test module, not the name taken from it
    return sorted(set(found))


def _test_sources() -> list[Path]:
    sources = []
    for folder, dirs, files in os.walk(ROOT / "tests"):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "node_modules"]
        sources += [Path(folder) / name for name in files if name.endswith(".py")]
    return sources


def test_no_test_module_imports_another_test_module():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in _test_sources()
        if (found := imported_test_modules(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "from tests.review.test_review_cycle import NOW",
        "from tests.review import test_review_cycle",
        "import tests.review.test_review_cycle",
        "def f():\n    from tests.letters.test_results import decided\n",
        "from .test_results import decided",
    ],
)
def test_the_test_import_rule_sees_each_way_of_importing_a_test_module(source):
    assert imported_test_modules(source)


def test_the_test_import_rule_allows_shared_helpers():
    source = "from tests.utils.review_cycle import NOW\nfrom tests import conftest\nimport os, tests.utils.locks"
    assert imported_test_modules(source) == []


def test_every_test_file_opens_with_a_one_line_docstring():
    missing = []
    for path in _test_sources():
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
        lines = doc.strip("\n").split("\n")
        if not lines[0].strip() or (len(lines) > 1 and lines[1].strip()):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


# --- the layout: one home per lifecycle step ------------------------------------------------------
# Each rule is a function from a source tree to its offenders, so a test of the test can show it fails.

STEPS = (
    "assessment",
    "drafts",
    "intake",
    "validation",
    "transcoding",
    "assignment",
    "reviewers",
    "review",
    "decision",
    "letters",
    "issuance",
    "notifications",
    "resubmission",
    "retention",
    "plans",
    "cohorts",
)
# What a step's pure modules (every module but stage.py) may not import: sessions and services.
SESSION_OR_SERVICES = ("credflow.services", "credflow.db", "sqlalchemy")
# The kernel beneath the steps, which tasks may name besides the stages (types, the services handle).
KERNEL = {"credflow.errors", "credflow.lifecycle", "credflow.settings", "credflow.services", "credflow.states"}
FRAMEWORKS = ("prefect", "fastapi", "starlette", "uvicorn", "typer", "web", "cli", "tasks", "flows")


def _modules_imported(path: Path) -> set[str]:
    """Every absolute module a file imports, in full (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def missing_step_files(root: Path) -> list[str]:
    """Steps lacking one of the files every step has."""
    return [
        f"credflow/{step}/{name}"
        for step in STEPS
        for name in ("__init__.py", "rules.py", "stage.py")
        if not (root / "credflow" / step / name).is_file()
    ]


def impure_rules(root: Path) -> list[str]:
    """A step's modules other than stage.py that reach for a session, the services or a stage."""
    offenders = []
    for step in STEPS:
        for path in sorted((root / "credflow" / step).glob("*.py")):
            if path.name == "stage.py":
                continue
            for name in sorted(_modules_imported(path)):
                if _under(name, SESSION_OR_SERVICES) or name.endswith(".stage") or ".stage." in name:
                    offenders.append(f"{path.relative_to(root)} imports {name}")
    return offenders


def tasks_past_the_stages(root: Path) -> list[str]:
    """Task modules that call the domain anywhere but a stage (types, named in CapWords, may come from rules)."""
    offenders = []
    for path in sorted((root / "tasks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "credflow"):
                continue
            if node.module.endswith(".stage") or node.module in KERNEL:
                continue
            for alias in node.names:
                if not alias.name[:1].isupper() or alias.name.isupper():  # a function or a constant
                    offenders.append(f"{path.relative_to(root)} imports {node.module}.{alias.name}")
    return offenders


def domain_reaching_out(root: Path) -> list[str]:
    """Domain modules importing an orchestrator, a web framework, or an inbound adapter."""
    return [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted((root / "credflow").rglob("*.py"))
        for name in sorted(_modules_imported(path))
        if _under(name, FRAMEWORKS)
    ]


LAYOUT_RULES = [missing_step_files, impure_rules, tasks_past_the_stages, domain_reaching_out]


@pytest.mark.parametrize("rule", LAYOUT_RULES, ids=lambda r: r.__name__)
def test_the_layout_holds(rule):
    assert rule(ROOT) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for step in STEPS:
        for name in ("__init__.py", "rules.py", "stage.py"):
            (root / "credflow" / step).mkdir(parents=True, exist_ok=True)
            (root / "credflow" / step / name).write_text('"""A step."""\n')
    (root / "tasks").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


BROKEN = {
    missing_step_files: ("credflow/letters/stage.py", None),
    impure_rules: ("credflow/decision/rules.py", "from credflow.services import Services\n"),
    tasks_past_the_stages: ("tasks/decision.py", "from credflow.decision.rules import Verdict, decide\n"),
    domain_reaching_out: ("credflow/review/rules.py", "from fastapi import Request\n"),
}


@pytest.mark.parametrize("rule", LAYOUT_RULES, ids=lambda r: r.__name__)
def test_each_layout_rule_fails_when_broken(rule, tmp_path):
    """The rules are not vacuous: a clean tree passes them, and each one catches its own breach."""
    clean = _tree(tmp_path / "clean", {"tasks/decision.py": "from credflow.decision.stage import aggregate\n"})
    assert rule(clean) == []
    name, text = BROKEN[rule]
    broken = _tree(tmp_path / "broken", {})
    if text is None:
        (broken / name).unlink()
    else:
        (broken / name).write_text(text)
    offenders = rule(broken)
    assert offenders and name in offenders[0]


# Test folders that hold no mirror of a code package: helpers, data, and the cross-cutting suites.
TEST_FOLDERS_APART = {"utils", "js", "snapshots", "validator", "security", "kernel"}


def unmirrored_test_folders(root: Path) -> list[str]:
    """Folders of tests/ that mirror no package of credflow/ (or web/, cli/, flows/, tasks/, infra/)."""
    return sorted(
        f"tests/{folder.name}"
        for folder in (root / "tests").iterdir()
        if folder.is_dir()
        and not folder.name.startswith((".", "_"))
        and folder.name not in TEST_FOLDERS_APART
        and not (root / "credflow" / folder.name).is_dir()
        and not (root / folder.name).is_dir()
    )


def test_test_folders_mirror_the_code(tmp_path):
    assert unmirrored_test_folders(ROOT) == []
    (tmp_path / "credflow" / "letters").mkdir(parents=True)
    (tmp_path / "tests" / "letters").mkdir(parents=True)
    assert unmirrored_test_folders(tmp_path) == []
    (tmp_path / "tests" / "misc").mkdir()
    assert unmirrored_test_folders(tmp_path) == ["tests/misc"]
