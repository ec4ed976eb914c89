"""A gold standard's files on the calibration form: scoped to the reviewer's credentials, served as evidence is."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.db.models import GoldFile, GoldStandard
from credflow.media.fake import DEFAULT_PROBE, FAKE_POSTER, FakeMedia, fake_mp4
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_gold_file, import_pool
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.utils.identity import signed_in_client
from tests.utils.reviewer_world import NOW, POOL, ROSA, SAM

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Starlette asks for httpx2; its test client works with httpx
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
VIDEO = fake_mp4("udl 2 gold classroom")
GOLD = """
gold:
  - name: "UDL 2 gold: fractions unit"
    credential: udl-level-2
    scores: {goals_separated: true, unit_options: true, options_in_use: false, evidence_driven_revision: true}
    files:
      unit_plan: ["files/unit plan (final).pdf"]
      classroom_video: [files/lesson.mp4]
"""


@dataclass(frozen=True)
class World:
    """Rosa (certified for UDL 1 and 2) and Sam (UDL 1 only), one UDL 2 gold standard with a plan and a video."""

    services: Services
    gold: str
    plan: str
    video: str
    plan_bytes: bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    """The pool and the gold standard, imported once through ``import_gold_file`` on the fake media tool."""
    folder = tmp_path_factory.mktemp("goldfiles")
    media = FakeMedia()
    media.register(VIDEO, dataclasses.replace(DEFAULT_PROBE, duration=240.0))
    services = build_services(load_settings(data_dir=folder / "data", catalog_dir=ROOT / "rubrics"), media=media)
    (folder / "files").mkdir()
    plan = ev.pdf(folder / "files" / "unit plan (final).pdf", "Fractions unit").read_bytes()
    (folder / "files" / "lesson.mp4").write_bytes(VIDEO)
    (folder / "gold.yaml").write_text(GOLD, encoding="utf-8")
    with services.db.session() as session:
        import_pool(session, parse_pool(POOL, catalog=services.catalog))
    import_gold_file(services, folder / "gold.yaml")
    with services.db.session() as session:
        gold = session.scalar(select(GoldStandard))
        assert gold is not None
        rows = {f.requirement_key: f.id for f in session.scalars(select(GoldFile))}
        gold_id = gold.id
    yield World(services, gold_id, rows["unit_plan"], rows["classroom_video"], plan)
    services.close()


@pytest.fixture
def rosa(world: World) -> Iterator[TestClient]:
    with signed_in_client(world.services, ROSA, now=lambda: NOW, follow_redirects=False) as client:
        yield client


def test_the_form_offers_the_plan_as_a_download_and_plays_the_video_with_its_poster(world: World, rosa: TestClient):
    page = rosa.get(f"/reviewer/calibration/{world.gold}")
    assert page.status_code == 200
    base = f"/reviewer/calibration/{world.gold}"
    assert f'<a href="{base}/files/{world.plan}" download>unit plan (final).pdf</a>' in page.text
    assert "Redesigned unit plan · " in page.text
    video = re.search(r"<video [^>]*>", page.text)
    assert video is not None
    assert f'poster="{base}/poster/{world.video}"' in video.group(0)
    assert f'src="{base}/video/{world.video}"' in video.group(0)
    assert "Classroom video: lesson.mp4" in page.text


def test_a_download_is_an_attachment_never_sniffed(world: World, rosa: TestClient):
    answer = rosa.get(f"/reviewer/calibration/{world.gold}/files/{world.plan}")
    assert answer.status_code == 200
    assert answer.content == world.plan_bytes
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"unit plan (final).pdf\"; filename*=UTF-8''unit%20plan%20%28final%29.pdf"
    )
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_video_and_poster_answer_byte_ranges(world: World, rosa: TestClient):
    base = f"/reviewer/calibration/{world.gold}"
    whole = rosa.get(f"{base}/video/{world.video}")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    size = len(whole.content)
    part = rosa.get(f"{base}/video/{world.video}", headers={"Range": "bytes=5-9"})
    assert part.status_code == 206
    assert part.content == whole.content[5:10]
    assert part.headers["content-range"] == f"bytes 5-9/{size}"
    past = rosa.get(f"{base}/video/{world.video}", headers={"Range": f"bytes={size + 10}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    poster = rosa.get(f"{base}/poster/{world.video}")
    assert poster.status_code == 200 and poster.content == FAKE_POSTER
    assert poster.headers["content-type"] == "image/jpeg"
    # A document has no review copy or poster.
    assert rosa.get(f"{base}/video/{world.plan}").status_code == 404
    assert rosa.get(f"{base}/poster/{world.plan}").status_code == 404


@pytest.mark.parametrize("kind", ["files", "video", "poster"])
def test_a_reviewer_not_certified_for_the_gold_gets_404_and_signed_out_goes_to_sign_in(world: World, kind: str):
    path = f"/reviewer/calibration/{world.gold}/{kind}/{world.video}"
    with signed_in_client(world.services, SAM, now=lambda: NOW, follow_redirects=False) as sam:
        answer = sam.get(path)
        assert answer.status_code == 404
        assert "No such gold standard of yours" in answer.text
    with signed_in_client(world.services, None, now=lambda: NOW, follow_redirects=False) as nobody:
        answer = nobody.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/sign-in?next=")
    with signed_in_client(world.services, "ana.alvarez@example.org", now=lambda: NOW, follow_redirects=False) as ana:
        assert ana.get(path).status_code == 403


def test_a_file_of_another_gold_or_none_is_404(world: World, rosa: TestClient):
    assert rosa.get(f"/reviewer/calibration/{world.gold}/files/nosuchfile").status_code == 404
    assert rosa.get(f"/reviewer/calibration/nosuchgold/files/{world.plan}").status_code == 404
