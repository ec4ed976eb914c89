"""The CLI's layout: subcommands share cli/common.py and never import cli/main.py, so each imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

MODULES = sorted(f"cli.{p.stem}" for p in (ROOT / "cli").glob("*.py") if p.stem != "__init__")


def _imported(module: str) -> set[str]:
    path = ROOT / (module.replace(".", "/") + ".py")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # function bodies too
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_entry_point_imports_cli_main():
    assert [m for m in MODULES if m != "cli.main" and "cli.main" in _imported(m)] == []


def test_the_shared_plumbing_imports_no_subcommand():
    assert {name for name in _imported("cli.common") if name.startswith("cli")} == set()


def test_every_cli_module_imports_first_on_its_own():
    # One interpreter: the domain stays loaded, every cli module is forgotten before the next one is imported.
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'cli' or m.startswith('cli.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
