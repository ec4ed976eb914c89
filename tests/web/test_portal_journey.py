"""A teacher's journey in chromium: sign in, draft, check, coach, a resumed 200 MB upload, not yet, earned.

The app runs under uvicorn with the submission and decision flows started in-process (Prefect, in threads) as
``credflow serve`` starts them; reviewers score through the links in their assignment emails; the badge's
OB 3.0 credential, downloaded from its page, verifies in Digital Bazaar's verifier (node).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from cli import demo_evidence as ev
from cli.demo_reviewers import free_port, review_over_http, running_server
from cli.launch import decide_in_background, process_in_background
from credflow.db.models import Submission
from credflow.lifecycle import State
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils import badfiles
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS, check_page, install_axe
from tests.utils.cluster import write_pool
from tests.utils.ob3_verify import node_verifier
from tests.utils.portal import MIB, low_contrast_controls, new_review_links, padded_mp4, sign_in, wait_for
from tests.utils.review_cycle import load_pool
from tests.utils.uploads import TusTraffic, install_web_assets
from web import create_app

SHOTS = Path("/tmp/credflow-journey-screens")
CRED = "openscied-facilitating-discussions"
TITLE = "Facilitating OpenSciEd Discussions"
EMAIL = "ana@example.org"
VIDEO_SIZE = 200 * MIB + 4321
#: Bytes a second the server takes of an upload: about 3 s for the video, time enough to cut it mid-way.
PACE = 64 * MIB
NOT_YET = "talk_moves_visible"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@pytest.fixture
def world(prefect_server: None, tmp_path: Path) -> Iterator[tuple[str, Services, TusTraffic]]:
    """The app under uvicorn on 127.0.0.1 as ``credflow serve`` runs it (flows in-process), its tus traffic paced."""
    install_web_assets()
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path / "data",
        catalog_dir=ROOT / "rubrics",
        public_url=f"http://127.0.0.1:{port}",
        backread_share=0.0,  # a back-read would hold the decision for a lead: not this journey
    )
    services = build_services(settings)
    pool = write_pool(tmp_path / "pool.yaml", 4, [CRED], leads=1)
    load_pool(services, pool.read_text())
    app = create_app(
        services,
        on_submitted=process_in_background(services),
        on_review_submitted=decide_in_background(services),
    )
    traffic = TusTraffic(app, bytes_per_second=PACE)
    with running_server(traffic, port) as served:
        yield served, services, traffic
    services.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _add_file(page: Page, requirement: str, title: str, path: Path) -> None:
    """Choose ``path`` for a requirement and send it (upload.js sends it with tus, then posts the form)."""
    page.get_by_label(f"Add a file for {title}").set_input_files(str(path))
    page.locator(f'form[data-requirement="{requirement}"] button[type="submit"]').click()


def _patched_since(traffic: TusTraffic, mark: int) -> int:
    return sum(e.received for e in traffic.exchanges[mark:] if e.method == "PATCH")


def _attempts(services: Services) -> list[tuple[int, str]]:
    with services.db.session() as session:
        return [(s.attempt, s.state) for s in session.scalars(select(Submission).order_by(Submission.attempt))]


def _score(services: Services, seen: set[str], attempt: int, verdicts: dict[str, tuple[str, str]]) -> None:
    """Wait for the attempt's two assignment emails; each reviewer scores through the link in theirs."""
    outbox = services.settings.resolved_outbox_dir
    links: list[str] = []

    def two_links() -> bool:
        links.extend(new_review_links(outbox, seen))
        return len(links) >= 2

    wait_for(f"the reviewers' assignment emails of attempt {attempt}", two_links, timeout=90)
    assert _attempts(services)[-1] == (attempt, State.IN_REVIEW.value)
    for link in links:
        assert review_over_http(link, verdicts) == 200  # the "thank you" page


def _reload_until(page: Page, what: str, locator: Any, timeout: float = 90) -> None:
    """Reload the page until ``locator`` shows (a flow finishes in the background meanwhile)."""

    def shown() -> bool:
        page.reload()
        return bool(locator.count())

    wait_for(what, shown, timeout=timeout, every=0.5)


def test_a_teacher_earns_a_micro_credential_in_the_browser(
    world: tuple[str, Services, TusTraffic], browser: Browser, tmp_path: Path
) -> None:
    url, services, traffic = world
    outbox = services.settings.resolved_outbox_dir
    axe = install_axe()
    draft_path = f"/me/credentials/{CRED}/draft"
    context_answer = ev.words(150)
    reflection = ev.words(300, seed=3)

    # 1. Signed in from the emailed link, the teacher browses to the micro-credential's page and reads it.
    page = sign_in(browser, url, outbox, EMAIL, next_path="/")
    assert low_contrast_controls(page) == []
    page.get_by_role("link", name="Browse all micro-credentials").click()
    page.get_by_role("link", name=TITLE, exact=True).click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("Video of the whole-group discussion").first).to_be_visible()

    # 2. Visit 1: start it (who you are), write one answer, save.
    page.get_by_role("button", name="Start this micro-credential").click()
    page.get_by_label("Your name").fill("Ana Alvarez")
    page.get_by_label("Your organisation").fill("Riverside Unified")
    page.get_by_role("button", name="Start and open my draft").click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    page.get_by_label("Your answer: Context of the discussion").fill(context_answer)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.context.close()

    # Visit 2, another day's browser: the answer is kept; the second one is written.
    page = sign_in(browser, url, outbox, EMAIL, next_path=draft_path)
    expect(page.get_by_label("Your answer: Context of the discussion")).to_have_value(context_answer)
    page.get_by_label("Your answer: Reflection on talk moves").fill(reflection)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()

    # 3. A plan with macros: Check my evidence names it; it is replaced by a good one.
    _add_file(page, "discussion_plan", "Discussion plan", badfiles.macro_docx(tmp_path, "plan-with-macros.docx"))
    expect(page.get_by_text("Added plan-with-macros.docx.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Check my evidence").click()
    expect(page.get_by_role("heading", name="Check my evidence")).to_be_visible()
    expect(page.locator(".bad-file")).to_have_text("plan-with-macros.docx")
    page.get_by_role("link", name="Back to your draft").click()
    page.get_by_role("button", name="Remove plan-with-macros.docx").click()
    expect(page.get_by_text("Removed plan-with-macros.docx.")).to_be_visible()
    _add_file(page, "discussion_plan", "Discussion plan", ev.pdf(tmp_path / "plan.pdf", "Discussion plan"))
    expect(page.get_by_text("Added plan.pdf.")).to_be_visible(timeout=20_000)

    # 4. A coach reads the draft through the link, without an account, and comments.
    page.get_by_role("button", name="Make a coach link").click()
    link = page.locator("#coach-link").inner_text().strip()
    coach_context = browser.new_context(viewport={"width": 1280, "height": 800})
    coach = coach_context.new_page()
    coach.goto(link)
    expect(coach.get_by_role("heading", name=re.compile("Ana Alvarez's draft"))).to_be_visible()
    expect(coach.get_by_role("link", name="plan.pdf")).to_be_visible()
    coach.get_by_label("Your comment for Ana Alvarez").fill("Name the talk moves in the plan.")
    coach.get_by_role("button", name="Send comment").click()
    expect(coach.get_by_text("Your comment was sent.")).to_be_visible()
    coach_context.close()
    page.goto(url + draft_path)
    expect(page.get_by_text("Name the talk moves in the plan.")).to_be_visible()

    # 5. The 200 MB video: the connection drops mid-upload; the upload goes on from where it stopped.
    video = padded_mp4(tmp_path / "discussion.mp4", VIDEO_SIZE)
    mark = len(traffic.exchanges)
    _add_file(page, "discussion_video", "Video of the whole-group discussion", video)
    wait_for("the first 48 MiB of the video", lambda: _patched_since(traffic, mark) > 48 * MIB, timeout=30)
    page.context.set_offline(True)
    expect(page.locator(".upload-detail")).to_contain_text("The connection is lost", timeout=10_000)
    cut_at = _patched_since(traffic, mark)
    assert cut_at < VIDEO_SIZE, "the whole video arrived before the connection was cut"
    page.context.set_offline(False)
    expect(page.get_by_text("Added discussion.mp4.")).to_be_visible(timeout=60_000)
    patches = [e for e in traffic.exchanges[mark:] if e.method == "PATCH"]
    assert len({e.uid for e in patches}) == 1, "the upload started again under a new id"
    resumed = [e for e in patches if e.offset]
    assert resumed and resumed[0].offset is not None and resumed[0].offset >= 48 * MIB  # from where it stopped
    assert any(e.method == "HEAD" for e in traffic.exchanges[mark:])  # it asked the server where to go on
    assert VIDEO_SIZE <= _patched_since(traffic, mark) < VIDEO_SIZE + 64 * MIB  # the bytes came about once
    expect(page.get_by_role("link", name="discussion.mp4")).to_be_visible()

    # 6. Apply (after the confirmation); the flows validate and transcode it, reviewers are emailed.
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", name="Apply with this draft?")).to_be_visible()
    page.get_by_role("button", name="Yes, apply now").click()
    expect(page.get_by_role("heading", name="You applied")).to_be_visible()
    seen: set[str] = set()
    comment = "The plan lists talk moves, but the video does not show them named for participants."
    _score(services, seen, 1, {NOT_YET: ("not_yet", comment)})

    # 7. The "not yet" letter, from My micro-credentials; Revise and resubmit opens the draft with kept files.
    page.goto(url + "/me/credentials")
    letter_link = page.get_by_role("link", name=re.compile(r"^Attempt 1: Not yet"))
    _reload_until(page, "the letter of attempt 1", letter_link)
    letter_link.click()
    expect(page.get_by_role("heading", name="Your result: not yet")).to_be_visible()
    expect(page.get_by_text(comment).first).to_be_visible()
    page.get_by_role("link", name="Revise and resubmit").click()
    expect(page.get_by_text("This draft revises attempt 1")).to_be_visible()
    expect(page.get_by_label("Your answer: Reflection on talk moves")).to_have_value(reflection)
    for name in ("discussion.mp4", "plan.pdf"):
        expect(page.locator(".file-name", has_text=name)).to_contain_text("kept (from attempt 1)")
    check_page(page, axe, "journey-revising", SHOTS)
    page.get_by_role("button", name="Replace or remove plan.pdf").click()
    expect(page.get_by_text("Removed plan.pdf.")).to_be_visible()
    mark = len(traffic.exchanges)
    _add_file(page, "discussion_plan", "Discussion plan", ev.pdf(tmp_path / "plan-v2.pdf", "Plan with talk moves"))
    expect(page.get_by_text("Added plan-v2.pdf.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Apply…").click()
    expect(page.get_by_role("heading", name="Apply with this draft?")).to_be_visible()
    page.get_by_role("button", name="Yes, apply now").click()
    expect(page.get_by_role("heading", name="You applied")).to_be_visible()
    assert _patched_since(traffic, mark) < MIB, "the kept video was uploaded again"  # only the new plan was sent
    with services.db.session() as session:
        first, second = session.scalars(select(Submission).order_by(Submission.attempt)).all()
        kept = {e.requirement_key: e.sha256 for e in first.evidence}
        now = {e.requirement_key: e.sha256 for e in second.evidence}
        assert now["discussion_video"] == kept["discussion_video"]  # carried over, the same bytes
        assert now["discussion_plan"] != kept["discussion_plan"]

    # 8. All Met: earned. My micro-credentials shows it; the badge opens from the wallet and verifies.
    _score(services, seen, 2, {})
    page.goto(url + "/me/credentials")
    enrolment = page.locator(".mine-item", has_text=TITLE)
    _reload_until(page, "the badge on My micro-credentials", enrolment.locator('.mine-links a[href^="/badges/"]'))
    expect(enrolment.locator(".mine-tag").first).to_have_text("Earned")
    expect(enrolment.get_by_role("link", name=re.compile(r"^Attempt 2: Earned"))).to_be_visible()
    page.get_by_role("link", name="My badges").first.click()
    expect(page.get_by_role("heading", name="My badges", level=1)).to_be_visible()
    page.get_by_role("heading", name=TITLE, exact=True).get_by_role("link").click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("Ana Alvarez").first).to_be_visible()
    expect(page.get_by_role("link", name="Add to LinkedIn")).to_be_visible()
    assert low_contrast_controls(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Open Badges 3\.0 credential \(JSON\)")).click()
    credential: dict[str, Any] = json.loads(Path(download.value.path()).read_text())
    status_url = credential["credentialStatus"]["statusListCredential"]
    status_list = httpx.get(status_url, timeout=30).json()  # the list the issuer publishes, as a verifier fetches it
    [verdict] = node_verifier()([credential], status_lists=[status_list])
    assert verdict["verified"], verdict
    assert [state for _, state in _attempts(services)] == [State.RESUBMITTED.value, State.EARNED.value]
    page.context.close()
