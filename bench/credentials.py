"""Benchmark 6: signing and verifying OB 3.0 credentials, against the independent node verifier."""

from __future__ import annotations

from pathlib import Path

from bench import badges
from bench.common import Sizes
from bench.report import Result

NAME = "badges"


def empty() -> Result:
    """The result record before any measurement."""
    return Result(
        name=NAME,
        title="6. OB 3.0 verification rate",
        unit="credentials/s",
        baseline_label="node verifier (@digitalbazaar/vc)",
        subject_label="credflow verify_credential",
    )


def run(sizes: Sizes, workdir: Path) -> Result:
    """Sign N credentials, verify them in Python and in node (timed inside node), report rates."""
    figures = badges.run(sizes.quick)
    result = empty()
    result.baseline = figures.get("node_verify_per_s")
    result.subject = figures["python_verify_per_s"]
    result.ratio = figures.get("python_verify_vs_node")
    result.details = figures
    result.notes = [
        f"{figures['n']} credentials with a revocation status; signing {figures['sign_per_s']:.0f}/s in Python",
        f"accepted: Python {figures['python_verified']}, node {figures['node_verified']}",
    ]
    return result
