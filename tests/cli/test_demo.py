"""``credflow demo`` then ``credflow serve``: quiet output, every demo badge verifies, every link in its mail works."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from cli.demo_reviewers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
CREDFLOW = str(Path(sys.executable).parent / "credflow")
URL = re.compile(r"""https?://[^\s"'<>()]+""")
BADGE = re.compile(r"/badges/([A-Za-z0-9_\-]+)$")


def _links(outbox: Path) -> set[str]:
    """Every http(s) link in the outbox's letters: the text and HTML parts of each .eml, and any .html file."""
    texts = [p.read_text(encoding="utf-8") for p in outbox.glob("*.html")]
    for eml in outbox.glob("*.eml"):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        texts += [
            part.get_content() for part in message.walk() if part.get_content_type() in ("text/plain", "text/html")
        ]
    return {html.unescape(link).rstrip(".,;") for text in texts for link in URL.findall(text)}


def _serve(env: dict[str, str], port: int, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [CREDFLOW, "serve", "--port", str(port), "--in-process"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=2).status_code == 200:
                return serve
        except httpx.HTTPError:
            pass
        if serve.poll() is not None or time.monotonic() > deadline:
            serve.kill()
            raise AssertionError(f"serve did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def test_the_demo_is_quiet_and_its_badges_and_links_work_under_serve(tmp_path):
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    data = tmp_path / "var"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CREDFLOW_", "PREFECT_"))},
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "CREDFLOW_DATA_DIR": str(data),
        "CREDFLOW_CATALOG_DIR": str(ROOT / "rubrics"),
        "CREDFLOW_PUBLIC_URL": web,  # the URL serve binds below: what the demo must sign, link and mail
        "COLUMNS": "160",
    }
    demo = subprocess.run(
        [CREDFLOW, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=720, check=False
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]

    # Quiet: Prefect's logs went to the file the summary names, and the outcome table comes last.
    log = data / "logs" / "demo.log"
    assert "Finished in state Completed" in log.read_text()
    assert " | INFO    | " not in demo.stdout + demo.stderr
    assert str(log.resolve()) in demo.stdout
    lines = demo.stdout.rstrip().splitlines()
    table = max(i for i, line in enumerate(lines) if "Demo outcomes" in line)
    assert lines[-1].startswith("└") and "Where things are" not in "\n".join(lines[table:])
    assert "earned" in "\n".join(lines[table:])

    links = _links(data / "outbox")
    # Every link names the URL serve answers on (before, each named the demo's temporary port).
    assert links and all(link.startswith(web + "/") for link in links), sorted(links)
    badges = sorted({m.group(1) for link in links if (m := BADGE.search(link))})
    assert len(badges) >= 2  # the demo's earned submissions

    serve = _serve(env, port, tmp_path / "serve.log", tmp_path)
    try:
        with httpx.Client(follow_redirects=True, timeout=60) as browser:
            for link in sorted(links):
                answer = browser.get(link)
                if "/review/" in link and answer.status_code == 403:
                    # The demo's reviewers used every review link; a used link says so (by design, never reopens).
                    assert "no longer active" in answer.text, link
                else:
                    assert answer.status_code == 200, link
            for badge in badges:
                page = browser.get(f"{web}/badges/{badge}").text
                assert "<strong>Verified.</strong>" in page, badge
        for badge in badges:
            verify = subprocess.run(
                [CREDFLOW, "badge", "verify", f"{web}/badges/{badge}/credential.json"],  # its own public URL
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert verify.returncode == 0 and verify.stdout.rstrip().endswith("VALID"), verify.stdout + verify.stderr
    finally:
        serve.send_signal(2)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
