"""Resumable uploads in Debian's chromium: a 256 MiB video survives a cut connection and a closed tab (tus)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from cli.demo_reviewers import free_port, running_server
from credflow.db.models import utcnow
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import session_cookie
from tests.utils.uploads import TusTraffic, install_web_assets, sparse_mp4
from web.app import create_app

SHOTS = Path("/tmp/credflow-upload-screens")
MIB = 1 << 20
SIZE = 256 * MIB
#: Bytes a second the server takes: about 4 s for the whole file, time enough to cut it mid-way.
PACE = 64 * MIB

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Services, TusTraffic]]:
    """The app under uvicorn on 127.0.0.1 (local store), its tus traffic recorded and paced."""
    install_web_assets()
    folder = tmp_path_factory.mktemp("resumablebrowser")
    port = free_port()
    settings = load_settings(
        data_dir=folder / "data", catalog_dir=ROOT / "rubrics", public_url=f"http://127.0.0.1:{port}"
    )
    services = build_services(settings)
    traffic = TusTraffic(create_app(services), bytes_per_second=PACE)
    with running_server(traffic, port) as served:
        yield served, services, traffic
    services.close()


@pytest.fixture
def context(browser: Browser, world: tuple[str, Services, TusTraffic]) -> Iterator[BrowserContext]:
    url, services, _ = world
    made = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    name, value = session_cookie(services, "ana@example.org", now=utcnow())
    made.add_cookies([{"name": name, "value": value, "url": url}])
    yield made
    made.close()


def _wait_for(what: str, condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _choose_and_send(page: Page, video: Path) -> None:
    page.get_by_label("Video of the whole-group discussion").set_input_files(str(video))
    page.get_by_role("button", name="Add file").click()


def test_a_large_video_resumes_after_a_cut_connection_and_a_closed_tab(
    world: tuple[str, Services, TusTraffic], context: BrowserContext, tmp_path: Path
) -> None:
    url, services, traffic = world
    axe = install_axe()
    video = sparse_mp4(tmp_path / "discussion.mp4", SIZE)
    page = context.new_page()
    violations = policy_violations(page)
    page.goto(url + "/uploads/try")
    expect(page.get_by_role("heading", name="Try a large upload")).to_be_visible()
    check_page(page, axe, "upload-try", SHOTS)

    # 1. The browser refuses a file of another kind before sending anything.
    wrong = tmp_path / "notes.pdf"
    wrong.write_bytes(b"%PDF-1.4\n")
    _choose_and_send(page, wrong)
    expect(page.get_by_role("alert")).to_contain_text("notes.pdf is not a file this requirement accepts")
    assert traffic.exchanges == []
    check_page(page, axe, "upload-try-refused", SHOTS)

    # 2. The connection drops mid-upload, and comes back: the upload goes on from where it stopped.
    _choose_and_send(page, video)
    _wait_for("the first 48 MiB", lambda: traffic.patched() > 48 * MIB)
    expect(page.locator("progress")).to_be_visible()
    expect(page.locator(".upload-detail")).to_contain_text("left")
    page.screenshot(path=str(SHOTS / "upload-progress-1280.png"))
    context.set_offline(True)
    before_cut = traffic.patched()
    expect(page.locator(".upload-detail")).to_contain_text("The connection is lost", timeout=10_000)
    check_page(page, axe, "upload-try-offline", SHOTS)  # the progress bar, its words and the resume button
    context.set_offline(False)
    expect(page.get_by_role("status")).to_contain_text("discussion.mp4 arrived whole (256.0 MB)", timeout=60_000)
    check_page(page, axe, "upload-try-done", SHOTS)

    [uid] = {e.uid for e in traffic.exchanges if e.method == "PATCH"}
    resumed = [e for e in traffic.exchanges if e.method == "PATCH" and e.offset]
    assert before_cut > 0 and resumed, "no PATCH went on from a non-zero offset"
    assert resumed[0].offset is not None and resumed[0].offset >= 48 * MIB  # from where it stopped, not from 0
    assert any(e.method == "HEAD" for e in traffic.exchanges)  # it asked the server where to go on
    assert SIZE <= traffic.patched(uid) < SIZE + 64 * MIB  # the bytes came about once, never twice
    assert services.store.exists(f"uploads/{uid[:32]}") and services.store.size(f"uploads/{uid[:32]}") == SIZE

    # 3. A tab closed mid-upload: the same file chosen again on a new page goes on where it stopped.
    second = sparse_mp4(tmp_path / "second take.mp4", 128 * MIB)
    seen = len(traffic.exchanges)
    page.goto(url + "/uploads/try")
    _choose_and_send(page, second)
    _wait_for("the first 32 MiB of the second take", lambda: _new_bytes(traffic, seen) > 32 * MIB)
    page.close()
    _wait_for("the server to keep what arrived", lambda: not _patching(traffic, seen), timeout=10)
    kept = _new_bytes(traffic, seen)
    again = context.new_page()
    again.goto(url + "/uploads/try")
    _choose_and_send(again, second)
    expect(again.get_by_role("status")).to_contain_text("second take.mp4 arrived whole (128.0 MB)", timeout=60_000)
    after = traffic.exchanges[seen:]
    uids = {e.uid for e in after if e.method == "PATCH"}
    assert len(uids) == 1, "the reopened page started a new upload instead of resuming"
    first_resumed = next(e for e in after if e.method == "PATCH" and e.offset)
    assert first_resumed.offset is not None and 0 < first_resumed.offset <= kept
    assert _new_bytes(traffic, seen) < 128 * MIB + 64 * MIB
    assert violations == []


def _new_bytes(traffic: TusTraffic, since: int) -> int:
    return sum(e.received for e in traffic.exchanges[since:] if e.method == "PATCH")


def _patching(traffic: TusTraffic, since: int) -> bool:
    """Whether the last PATCH since ``since`` may still be receiving (its byte count still moves)."""
    before = _new_bytes(traffic, since)
    time.sleep(0.3)
    return _new_bytes(traffic, since) != before
