"""The micro-credential catalog: every shipped file parses, and bad files are reported by file and field."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from credflow.catalog import CatalogError, load_catalog
from credflow.catalog.loader import check_catalog
from credflow.catalog.models import EvidenceKind

ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"


@pytest.mark.parametrize("path", sorted(RUBRICS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_file_parses(path):
    catalog, problems = check_catalog(path.parent)
    assert problems == []
    ids = {p.name: c.id for c, p in ((catalog.get(i), catalog.files[i]) for i in catalog.credentials)}
    assert path.name in ids


def test_the_shipped_catalog_has_the_six_credentials_with_seed_rules():
    catalog = load_catalog(RUBRICS)
    assert set(catalog.credentials) == {
        "openscied-anchoring-phenomenon",
        "openscied-supporting-coherence",
        "openscied-facilitating-discussions",
        "dp-choosing-learning-strategies",
        "udl-level-1",
        "udl-level-2",
    }
    for credential in catalog:
        assert credential.max_attempts == 3
        assert credential.in_service_hours == 3
        assert credential.reviewers_per_submission == 2
        assert {s.kind.value for s in credential.rubric} == {"overview", "artifacts", "reflection"}
    video = catalog.get("openscied-facilitating-discussions").requirement("discussion_video")
    assert video is not None and video.kind is EvidenceKind.VIDEO and video.required
    assert (video.min_duration_s, video.max_duration_s) == (600, 2700)
    strategies = catalog.get("dp-choosing-learning-strategies")
    assert {r.key for r in strategies.evidence} >= {
        "lesson_plan",
        "student_work",
        "student_reflections",
        "teacher_reflection",
    }


def _write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_every_error_is_reported_with_file_and_field(tmp_path):
    good = yaml.safe_load((RUBRICS / "udl-level-1.yaml").read_text())
    bad = yaml.safe_load((RUBRICS / "udl-level-1.yaml").read_text())
    bad["id"] = "udl-broken"
    bad["evidence"][1]["formats"] = ["pdf", "exe"]
    bad["evidence"][2]["max_count"] = 0
    bad["reviewer_count"] = 2  # a typo of reviewers_per_submission
    del bad["badge"]["criteria"]
    _write(tmp_path, "good.yaml", good)
    _write(tmp_path, "bad.yaml", bad)
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")

    catalog, problems = check_catalog(tmp_path)
    assert set(catalog.credentials) == {"udl-level-1"}
    where = {(p.file.name, p.field) for p in problems}
    assert ("bad.yaml", "evidence[1].formats") in where or ("bad.yaml", "evidence[1]") in where
    assert ("bad.yaml", "evidence[2].max_count") in where
    assert ("bad.yaml", "reviewer_count") in where
    assert ("bad.yaml", "badge.criteria") in where
    assert ("broken.yaml", "line 2, column 1") in where  # a YAML slip is located by line and column
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    assert "bad.yaml: reviewer_count" in str(info.value)


def test_cross_references_and_duplicates_are_checked(tmp_path):
    data = yaml.safe_load((RUBRICS / "udl-level-1.yaml").read_text())
    data["rubric"][0]["criteria"][0]["evidence"] = ["no_such_evidence"]
    _write(tmp_path, "a.yaml", data)
    _, problems = check_catalog(tmp_path)
    assert any("no_such_evidence" in p.message for p in problems)

    twin = yaml.safe_load((RUBRICS / "udl-level-1.yaml").read_text())
    _write(tmp_path, "a.yaml", twin)
    _write(tmp_path, "b.yaml", twin)
    _, problems = check_catalog(tmp_path)
    assert [(p.file.name, p.field) for p in problems] == [("b.yaml", "id")]


def test_catalog_check_command_exits_non_zero_with_each_error(tmp_path):
    data = yaml.safe_load((RUBRICS / "udl-level-1.yaml").read_text())
    data["max_attempts"] = 0
    _write(tmp_path, "x.yaml", data)
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "x.yaml: max_attempts" in result.output
    ok = runner.invoke(app, ["catalog", "check", str(RUBRICS)])
    assert ok.exit_code == 0 and "6 micro-credentials OK" in ok.output
