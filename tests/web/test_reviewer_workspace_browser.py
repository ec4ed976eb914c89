"""The reviewer workspace in Debian's chromium: queue, a keyboard review, calibration, axe at both widths."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from cli import demo_evidence as ev
from cli.demo_reviewers import free_port, running_server
from credflow.db.models import Assignment, Reviewer
from credflow.reviewers.stage import import_gold_file
from tests.utils.browser import CHROMIUM, check_page, install_axe, policy_violations
from tests.utils.identity import session_cookie
from tests.utils.portal import sign_in
from tests.utils.review_world import make_clip, make_services
from tests.utils.reviewer_world import GOLD, NOW, ROSA, SAM, ReviewerWorld, build_reviewer_world
from web import create_app

SHOTS = Path("/tmp/credflow-screens/reviewer")
TITLE = "UDL Level 1: Designing for Learner Variability"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing (`make test` installs it)"),
]


@dataclass(frozen=True)
class Served:
    world: ReviewerWorld
    url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The app under uvicorn on a fixed clock (Monday 7 December 2026), over the workspace world."""
    folder = tmp_path_factory.mktemp("reviewerbrowser")
    services = make_services(folder)
    world = build_reviewer_world(services, folder)
    # Gold 1 gets its real files: the lesson plan and a short classroom video (transcoded at import).
    (folder / "gold").mkdir()
    ev.pdf(folder / "gold" / "ratios lesson plan.pdf", "UDL lesson plan: Grade 7 ratios")
    make_clip(folder / "gold")
    scores = "    scores: {variability_analysed: true, options_designed: false, reflection_on_barriers: true}\n"
    files = "    files: {udl_lesson_plan: [ratios lesson plan.pdf], classroom_video: [classroom.mp4]}\n"
    (folder / "gold" / "gold.yaml").write_text(GOLD.replace(scores, scores + files, 1), encoding="utf-8")
    assert import_gold_file(services, folder / "gold" / "gold.yaml") == (2, 2)
    with running_server(create_app(services, now=lambda: NOW), free_port()) as url:
        yield Served(world, url)
    services.close()


def _signed_in(browser: Browser, served: Served, email: str, **options: Any) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, **options)
    name, value = session_cookie(served.world.services, email, now=NOW)
    context.add_cookies([{"name": name, "value": value, "url": served.url}])
    return context


@pytest.fixture
def rosa(browser: Browser, served: Served) -> Iterator[Page]:
    """Rosa signed in through the sign-in page and the emailed link, under the pages' real Content Security Policy."""
    outbox = served.world.services.settings.resolved_outbox_dir
    page: Page = sign_in(browser, served.url, outbox, ROSA, next_path="/reviewer", bypass_csp=False)
    yield page
    page.context.close()


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def test_a_reviewer_reviews_one_assignment_from_the_queue_with_the_keyboard(served: Served, rosa: Page) -> None:
    violations = policy_violations(rosa)
    rosa.goto(served.url + "/reviewer")
    expect(rosa.get_by_role("heading", name="Your review queue", level=1)).to_be_visible()
    queue = rosa.locator("section[aria-labelledby=queue-heading]")
    expect(queue.locator(".rw-item")).to_have_count(2)
    expect(queue.locator(".rw-item").first).to_contain_text("due Tue 8 Dec, 1 business day left")
    expect(queue.locator(".rw-item").nth(1)).to_contain_text("due Mon 14 Dec, 4 business days left")

    queue.get_by_role("link", name="Start review").first.click()
    expect(rosa.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(rosa.locator("#shortcut-hint")).to_be_visible()  # review.js ran under the page's policy

    # Evidence beside the rubric on a wide screen; the verdicts are large targets.
    evidence, rubric = _box(rosa, ".review-evidence"), _box(rosa, ".review-rubric")
    assert evidence["x"] + evidence["width"] <= rubric["x"] and abs(evidence["y"] - rubric["y"]) < 5
    for label in rosa.locator(".verdicts label").all():
        box = label.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44

    # J to the first criterion, M: Met (and on), N: Not Yet into its comment box, where letters are only typed.
    rosa.keyboard.press("j")
    rosa.keyboard.press("m")
    rosa.keyboard.press("n")
    comment = rosa.locator("#comment__options_designed")
    expect(comment).to_be_focused()
    rosa.keyboard.type("Name the UDL guideline behind each option; mark the engagement options too.")
    rosa.keyboard.press("Escape")
    expect(rosa.locator("input[name=verdict__options_designed][value=not_yet]")).to_be_focused()
    rosa.keyboard.press("j")
    rosa.keyboard.press("m")
    expect(rosa.locator("input[name=verdict__variability_analysed][value=met]")).to_be_checked()
    expect(rosa.locator("input[name=verdict__options_designed][value=not_yet]")).to_be_checked()
    expect(rosa.locator("input[name=verdict__reflection_on_barriers][value=met]")).to_be_checked()
    expect(comment).to_have_value("Name the UDL guideline behind each option; mark the engagement options too.")

    rosa.get_by_role("button", name="Submit review").click()
    expect(rosa.get_by_role("heading", name="Review submitted")).to_be_visible()
    expect(rosa.locator("body")).not_to_contain_text("You can close this page")
    expect(rosa.get_by_text("Next in your queue")).to_be_visible()
    rosa.get_by_role("link", name="Back to your queue").click()

    expect(rosa.locator("section[aria-labelledby=queue-heading] .rw-item")).to_have_count(1)
    history = rosa.locator("section[aria-labelledby=history-heading]")
    expect(history).to_contain_text("Submitted 7 December 2026")
    with served.world.services.db.session() as session:
        row = session.get_one(Assignment, served.world.soon)
        assert row.state == "submitted" and row.scores["options_designed"]["verdict"] == "not_yet"
    assert violations == []


def test_a_reviewer_calibrates_on_a_gold_standard_in_the_browser(served: Served, rosa: Page) -> None:
    violations = policy_violations(rosa)
    rosa.goto(served.url + "/reviewer")
    calibration = rosa.locator("section[aria-labelledby=calibration-heading]")
    expect(calibration).to_contain_text("lapses on 20 December 2026 (in 13 days)")
    calibration.get_by_role("link", name=f"Calibrate on a gold standard for {TITLE}").click()
    expect(rosa.get_by_role("heading", name="Calibrate on a gold standard", level=1)).to_be_visible()
    rosa.get_by_role("link", name="Score this gold standard (UDL gold 1: Grade 7 ratios)").click()

    expect(rosa.get_by_role("heading", name="Gold standard: UDL gold 1: Grade 7 ratios")).to_be_visible()
    expect(rosa.locator(".review-evidence")).to_contain_text("My 28 learners read at levels")
    # The gold standard's real files, as the review page shows evidence: the video plays from its poster.
    video = rosa.locator(".review-evidence video")
    expect(video).to_have_attribute("poster", re.compile(r"^/reviewer/calibration/\w+/poster/\w+$"))
    # Polled from Python: under the page's real policy (no 'unsafe-eval') wait_for_function's polling may not run.
    deadline = time.monotonic() + 20
    while video.evaluate("v => v.readyState") < 1:
        assert time.monotonic() < deadline, "the gold video's metadata never loaded"
        time.sleep(0.1)
    assert 60 < video.evaluate("v => v.duration") < 62
    poster = rosa.request.get(served.url + str(video.get_attribute("poster")))
    assert poster.status == 200 and poster.headers["content-type"] == "image/jpeg"
    assert poster.body().startswith(b"\xff\xd8")  # a real JPEG, made at import by the flows' transcoder
    with rosa.expect_download() as download:
        rosa.get_by_role("link", name="ratios lesson plan.pdf").click()
    assert download.value.suggested_filename == "ratios lesson plan.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
    # Large labels: a click anywhere on them chooses.
    for key, label in (
        ("variability_analysed", "Met"),
        ("options_designed", "Not Yet"),
        ("reflection_on_barriers", "Met"),
    ):
        rosa.locator(f"#criterion-{key} label", has_text=label).first.click()
    rosa.get_by_role("button", name="Submit my scores").click()

    expect(rosa.get_by_role("heading", name="You are calibrated")).to_be_visible()
    expect(rosa.locator(".rw-outcome")).to_contain_text("3 of 3")
    expect(rosa.locator(".rw-agree-yes")).to_have_count(3)
    expect(rosa.locator("body")).to_contain_text("the plan names no guideline for any option")
    rosa.get_by_role("link", name="Your review queue").last.click()
    expect(rosa.locator("section[aria-labelledby=calibration-heading]")).to_contain_text(
        "Calibrated on 7 December 2026; lapses on 7 December 2027."
    )
    with served.world.services.db.session() as session:
        rosa_row = session.scalar(select(Reviewer).where(Reviewer.email == ROSA))
        assert rosa_row is not None and rosa_row.calibrated_on == NOW.date()
    assert violations == []


def test_every_workspace_page_passes_axe_at_both_widths(browser: Browser, served: Served) -> None:
    axe = install_axe()
    world = served.world
    with world.services.db.session() as session:  # Sam gets a second one, so the thank-you page shows what is next
        sams = session.get_one(Assignment, world.sams)
        session.add(
            Assignment(
                submission_id=session.get_one(Assignment, world.later).submission_id,
                reviewer_id=sams.reviewer_id,
                role="review",
                state="active",
                assigned_at=NOW,
                due_at=NOW + timedelta(days=7),
            )
        )
    context = _signed_in(browser, served, SAM, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(served.url + "/reviewer")
        check_page(page, axe, "queue", SHOTS)
        page.goto(served.url + "/reviewer/calibration")
        check_page(page, axe, "calibration", SHOTS)
        page.get_by_role("link", name="Score this gold standard (UDL gold 1: Grade 7 ratios)").click()
        check_page(page, axe, "calibration-form", SHOTS)
        page.set_viewport_size({"width": 390, "height": 844})
        evidence, rubric = _box(page, ".review-evidence"), _box(page, ".review-rubric")
        assert rubric["y"] >= evidence["y"] + evidence["height"]  # one column on a phone
        page.set_viewport_size({"width": 1280, "height": 800})
        for key, label in (
            ("variability_analysed", "Met"),
            ("options_designed", "Met"),
            ("reflection_on_barriers", "Met"),
        ):
            page.locator(f"#criterion-{key} label", has_text=label).first.click()
        page.get_by_role("button", name="Submit my scores").click()
        expect(page.get_by_role("heading", name="Not calibrated yet")).to_be_visible()
        check_page(page, axe, "calibration-result", SHOTS)

        page.goto(served.url + "/reviewer")
        page.get_by_role("link", name="Start review").first.click()
        expect(page.locator("#shortcut-hint")).to_be_visible()
        check_page(page, axe, "review", SHOTS)
        for radio in page.locator("input[type=radio][value=met]").all():
            radio.check()
        page.get_by_role("button", name="Submit review").click()
        expect(page.get_by_role("heading", name="Review submitted")).to_be_visible()
        check_page(page, axe, "done", SHOTS)
    finally:
        context.close()
