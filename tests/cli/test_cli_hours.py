"""``credflow report hours``: filters by organisation, dates and micro-credential, and a real XLSX file."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli.main import app
from tests.utils.admin_world import build_world


@pytest.fixture
def env(services, monkeypatch):
    """The CLI's services are these (same folders), over the admin world."""
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    build_world(services)
    return services


def test_the_filters_keep_an_organisation_s_hours_in_a_period(env) -> None:
    done = CliRunner().invoke(
        app, ["report", "hours", "--format", "csv", "--organisation", "westfield high", "--from", "2026-10-01"]
    )
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["applicant_name"], r["credential_id"]) for r in rows] == [
        ("Ana Alvarez", "udl-level-1"),
        ("Ana Alvarez", "openscied-supporting-coherence"),
    ]
    one = CliRunner().invoke(app, ["report", "hours", "--format", "csv", "--credential", "udl-level-1"])
    assert [r["credential_id"] for r in csv.DictReader(io.StringIO(one.stdout))] == ["udl-level-1"]


def test_xlsx_is_written_to_the_output_file(env, tmp_path) -> None:
    target = tmp_path / "hours.xlsx"
    done = CliRunner().invoke(
        app, ["report", "hours", "--format", "xlsx", "--output", str(target), "--to", "2026-09-30"]
    )
    assert done.exit_code == 0, done.output
    sheet = load_workbook(target).active
    assert sheet is not None
    names = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert names == ["Ben Okoro", "Ana Alvarez", "Total (2 micro-credentials, 2 educators)"]


def test_xlsx_without_a_file_and_bad_filters_are_refused_clearly(env) -> None:
    no_file = CliRunner().invoke(app, ["report", "hours", "--format", "xlsx"])
    assert no_file.exit_code == 2 and "name the file with --output" in no_file.output
    bad = CliRunner().invoke(app, ["report", "hours", "--from", "2026-13-01", "--credential", "nope"])
    words = " ".join(bad.output.split())
    assert bad.exit_code == 2 and "The start date must be a date like 2026-09-01" in words
    assert "no micro-credential 'nope'; known:" in words
