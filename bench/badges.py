"""Open Badges 3.0 throughput: Python signing and verification against Digital Bazaar's node verifier.

Run alone with ``python -m bench.badges [--quick]``. Each side gets one untimed warm-up (context processing,
imports, JIT); node's time is measured inside one node process verifying the whole batch, so process start is
excluded. Every credential carries a revocation status, and both verifiers check the signed status list too.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from credflow.badges import (
    AchievementInfo,
    EvidenceLink,
    IssuerProfile,
    KeyStore,
    StatusEntry,
    StatusList,
    add_proof,
    build_credential,
    build_status_list_credential,
    sign_credential,
    verify_credential,
)

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js" / "ob3-verify"
FULL_N = 200
QUICK_N = 10
LIST_URL = "https://badges.example.org/status/bench/1"
ISSUED = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def _node_ready() -> str | None:
    """None when the node verifier can run (installing it from the lock file if needed), else why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if not (JS_DIR / "node_modules").is_dir():
        proc = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            return f"npm ci failed: {proc.stderr.strip()[-500:]}"
    return None


def _credentials(keys: KeyStore, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    key = keys.current("bench-issuer")
    issuer = IssuerProfile(
        id=key.controller, name="Bench Issuer", url="https://bench.example.org", email="b@example.org"
    )
    achievement = AchievementInfo(
        id="https://badges.example.org/achievements/bench",
        name="Benchmark Facilitator",
        description="A micro-credential used to measure signing and verification.",
        criteria_narrative="Submit a video and a plan; two reviewers score them against the rubric.",
        image_url="https://badges.example.org/images/bench.png",
        achievement_type="MicroCredential",
    )
    unsigned = [
        build_credential(
            issuer=issuer,
            achievement=achievement,
            valid_from=ISSUED,
            recipient_email=f"teacher{i}@district.example.org",
            evidence=[
                EvidenceLink(id=f"https://credflow.example.org/submissions/{i}/evidence/video", narrative="video")
            ],
            status=StatusEntry(list_url=LIST_URL, index=i),
        )
        for i in range(n)
    ]
    bits = StatusList()
    status_list = add_proof(
        build_status_list_credential(list_url=LIST_URL, issuer=key.controller, status_list=bits, valid_from=ISSUED),
        key,
    )
    return unsigned, status_list


def _node_rate(signed: list[dict[str, Any]], status_list: dict[str, Any], workdir: Path) -> tuple[float, int]:
    batch = workdir / "batch.json"
    batch.write_text(json.dumps(signed))
    list_file = workdir / "status-list.json"
    list_file.write_text(json.dumps(status_list))
    proc = subprocess.run(
        ["node", "verify.mjs", "--batch", str(batch), "--status-list", str(list_file), "--now", NOW.isoformat()],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report = json.loads(proc.stdout)
    return len(signed) / report["seconds"], int(report["verified"])


def run(quick: bool) -> dict[str, Any]:
    """Sign and verify N credentials (200; 10 when ``quick``) and report rates and their ratios.

    Returns:
        ``sign_per_s``, ``python_verify_per_s`` and ``node_verify_per_s`` (credentials per second), the ratios
        ``python_verify_vs_node`` and ``sign_vs_python_verify``, how many each verifier accepted, and
        ``node_error`` when node could not run (its figures are then None).
    """
    n = QUICK_N if quick else FULL_N
    with tempfile.TemporaryDirectory(prefix="bench-badges-") as tmp:
        workdir = Path(tmp)
        keys = KeyStore(workdir / "keys")
        key = keys.current("bench-issuer")
        unsigned, status_list = _credentials(keys, n)
        lists = {LIST_URL: status_list}

        verify_credential(sign_credential(unsigned[0], key), now=NOW, status_lists=lists)  # warm-up
        start = time.perf_counter()
        signed = [sign_credential(credential, key) for credential in unsigned]
        sign_s = time.perf_counter() - start
        start = time.perf_counter()
        python_ok = sum(verify_credential(c, now=NOW, status_lists=lists).verified for c in signed)
        verify_s = time.perf_counter() - start

        node_error = _node_ready()
        node_rate: float | None = None
        node_ok: int | None = None
        if node_error is None:
            node_rate, node_ok = _node_rate(signed, status_list, workdir)

    sign_rate = n / sign_s
    python_rate = n / verify_s
    return {
        "n": n,
        "sign_per_s": sign_rate,
        "python_verify_per_s": python_rate,
        "node_verify_per_s": node_rate,
        "python_verify_vs_node": python_rate / node_rate if node_rate else None,
        "sign_vs_python_verify": sign_rate / python_rate,
        "python_verified": python_ok,
        "node_verified": node_ok,
        "node_error": node_error,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
