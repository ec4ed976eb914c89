"""Gold standards with real evidence files: checked as intake checks them, stored by content, videos transcoded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.catalog.loader import load_catalog
from credflow.db.models import GoldFile, GoldStandard, Transcode
from credflow.errors import ConfigurationError
from credflow.media.fake import DEFAULT_PROBE, fake_mp4
from credflow.reviewers.rules import parse_gold
from credflow.reviewers.stage import gold_evidence, gold_storage_key, import_gold, import_gold_file
from credflow.states import TranscodeState

ROOT = Path(__file__).resolve().parents[2]
SCORES = "{variability_analysed: true, options_designed: false, reflection_on_barriers: true}"
VIDEO = fake_mp4("gold classroom")
CLIP = dataclasses.replace(DEFAULT_PROBE, duration=90.0)


def gold_yaml(files: str = "") -> str:
    text = f"gold:\n  - name: udl-gold\n    credential: udl-level-1\n    scores: {SCORES}\n"
    return text + (f"    files:\n{files}" if files else "")


BOTH = "      udl_lesson_plan: [evidence/plan.pdf]\n      classroom_video: [evidence/class.mp4]\n"


@pytest.fixture
def folder(tmp_path: Path, fake_media) -> Path:
    """A gold file's folder with a lesson plan (PDF) and a 90-second classroom video in ``evidence/``."""
    fake_media.register(VIDEO, CLIP)
    (tmp_path / "evidence").mkdir()
    ev.pdf(tmp_path / "evidence" / "plan.pdf", "UDL lesson plan")
    (tmp_path / "evidence" / "class.mp4").write_bytes(VIDEO)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "gold.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def files_of(services, name: str = "udl-gold") -> list[GoldFile]:
    with services.db.session() as session:
        gold = session.scalar(select(GoldStandard).where(GoldStandard.name == name))
        rows = session.scalars(select(GoldFile).where(GoldFile.gold_id == gold.id).order_by(GoldFile.requirement_key))
        return list(rows)


def gold_objects(services) -> list[str]:
    root = Path(services.settings.data_dir)
    return sorted(p.name for p in root.rglob("*") if p.is_file() and p.parent.name == "gold")


def test_import_stores_the_files_by_content_and_transcodes_the_video(fake_media_services, fake_media, folder):
    count, files = import_gold_file(fake_media_services, write(folder, gold_yaml(BOTH)))
    assert (count, files) == (1, 2)
    rows = files_of(fake_media_services)
    assert [(r.requirement_key, r.display_name) for r in rows] == [
        ("classroom_video", "class.mp4"),
        ("udl_lesson_plan", "plan.pdf"),
    ]
    pdf = (folder / "evidence" / "plan.pdf").read_bytes()
    assert fake_media_services.store.get_bytes(rows[1].storage_key) == pdf
    assert rows[1].storage_key == gold_storage_key(rows[1].sha256)
    assert rows[1].sniffed_mime == "application/pdf"
    with fake_media_services.db.session() as session:
        transcode = session.scalar(select(Transcode).where(Transcode.input_sha256 == rows[0].sha256))
        assert transcode is not None and transcode.state == TranscodeState.DONE
        gold = session.scalar(select(GoldStandard))
        shown = gold_evidence(session, fake_media_services.catalog.get("udl-level-1"), gold)
    # In the credential's order (plan before video), the video with its review copy and poster.
    assert [(f.name, f.kind) for f in shown] == [("plan.pdf", "document"), ("class.mp4", "video")]
    assert shown[1].video_key == transcode.output_key and shown[1].poster_key == transcode.poster_key
    assert shown[0].video_key is None
    assert [call for call, _ in fake_media.calls].count("transcode") == 1


def test_a_missing_file_is_named_and_nothing_is_stored(fake_media_services, folder):
    text = gold_yaml("      udl_lesson_plan: [evidence/plan.pdf, evidence/gone.pdf]\n")
    with pytest.raises(ConfigurationError) as raised:
        import_gold_file(fake_media_services, write(folder, text))
    assert "gold.0.files.udl_lesson_plan: 'evidence/gone.pdf': no such file" in str(raised.value)
    assert gold_objects(fake_media_services) == []
    with fake_media_services.db.session() as session:
        assert session.scalar(select(GoldStandard)) is None


def test_a_file_of_the_wrong_type_is_refused_as_intake_refuses_it(fake_media_services, folder):
    (folder / "evidence" / "notes.pdf").write_text("just some notes, not a PDF at all\n" * 20)
    text = gold_yaml("      udl_lesson_plan: [evidence/notes.pdf]\n")
    with pytest.raises(ConfigurationError) as raised:
        import_gold_file(fake_media_services, write(folder, text))
    message = str(raised.value)
    assert "'evidence/notes.pdf'" in message and "'notes.pdf'" in message
    assert "accepts pdf, docx, pptx" in message
    assert gold_objects(fake_media_services) == []


def test_a_file_over_the_requirements_limit_is_refused(fake_media_services, folder):
    big = folder / "evidence" / "big.pdf"
    big.write_bytes((folder / "evidence" / "plan.pdf").read_bytes())
    with big.open("r+b") as handle:
        handle.truncate(20 * 1024 * 1024 + 1)  # one byte over the plan's 20 MB
    with pytest.raises(ConfigurationError) as raised:
        import_gold_file(fake_media_services, write(folder, gold_yaml("      udl_lesson_plan: [evidence/big.pdf]\n")))
    assert "'evidence/big.pdf': 'big.pdf' is 20.0 MB; the limit for 'UDL lesson plan' is 20.0 MB" in str(raised.value)
    assert gold_objects(fake_media_services) == []


def test_a_video_too_short_or_that_cannot_be_converted_is_named(fake_media_services, fake_media, folder):
    fake_media.register(VIDEO, dataclasses.replace(DEFAULT_PROBE, duration=12.0))
    with pytest.raises(ConfigurationError) as raised:
        import_gold_file(fake_media_services, write(folder, gold_yaml(BOTH)))
    assert "gold.0.files.classroom_video: 'evidence/class.mp4'" in str(raised.value)
    assert "12 s" in str(raised.value)

    fake_media.register(VIDEO, CLIP)
    fake_media.break_transcode(VIDEO, "the stream ends early")
    with pytest.raises(ConfigurationError) as raised:
        import_gold_file(fake_media_services, write(folder, gold_yaml(BOTH)))
    assert "'class.mp4' could not be converted for reviewers: the stream ends early" in str(raised.value)


def test_reimport_replaces_the_files_keeping_unchanged_ones_and_every_stored_object(fake_media_services, folder):
    path = write(folder, gold_yaml(BOTH))
    import_gold_file(fake_media_services, path)
    before = {r.requirement_key: r for r in files_of(fake_media_services)}

    ev.pdf(folder / "evidence" / "plan.pdf", "UDL lesson plan, second draft")
    import_gold_file(fake_media_services, path)
    after = {r.requirement_key: r for r in files_of(fake_media_services)}
    assert after["classroom_video"].id == before["classroom_video"].id  # same bytes, same record, same links
    assert after["udl_lesson_plan"].id != before["udl_lesson_plan"].id
    assert after["udl_lesson_plan"].sha256 != before["udl_lesson_plan"].sha256
    # Content-addressed objects are never deleted: another gold standard may hold the same bytes.
    assert fake_media_services.store.exists(before["udl_lesson_plan"].storage_key)

    import_gold_file(fake_media_services, write(folder, gold_yaml()))  # files absent: none any more
    assert files_of(fake_media_services) == []


def test_gold_files_without_evidence_files_stay_valid_and_session_import_refuses_listed_files(services, folder):
    with services.db.session() as session:
        assert import_gold(session, gold_yaml(), catalog=services.catalog) == 1
    with services.db.session() as session, pytest.raises(ConfigurationError) as raised:
        import_gold(session, gold_yaml(BOTH), catalog=services.catalog, source="g.yaml")
    assert "g.yaml: lists evidence files; import it with `credflow gold import FILE`" in str(raised.value)


def test_parse_gold_names_unknown_requirements_absolute_paths_and_too_many_files():
    catalog = load_catalog(ROOT / "rubrics")
    text = gold_yaml(
        "      reflection: [r.pdf]\n      udl_lesson_plan: [/etc/passwd, a.pdf, b.pdf]\n      lesson_plan: [c.pdf]\n"
    )
    with pytest.raises(ConfigurationError) as raised:
        parse_gold(text, catalog=catalog, source="g.yaml")
    message = str(raised.value)
    assert "g.yaml: gold.0.files: unknown file requirements ['lesson_plan', 'reflection']" in message
    assert "takes files for ['classroom_video', 'udl_lesson_plan']" in message
    assert "gold.0.files.udl_lesson_plan: 3 files; 'UDL lesson plan' takes at most 2" in message
    assert "gold.0.files.udl_lesson_plan: '/etc/passwd' must be a path relative to the gold file" in message
