"""`credflow catalog show`: what one micro-credential asks for, before anyone prepares a submission."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture
def env(services, monkeypatch):
    """The services the CLI builds from the environment are these (same folders)."""
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    return services


def test_catalog_show_lists_questions_files_limits_and_the_rubric(env):
    shown = CliRunner().invoke(app, ["catalog", "show", "udl-level-1"])
    assert shown.exit_code == 0, shown.output
    out = shown.output  # table cells wrap, so each piece below fits on one line of its cell
    assert "UDL Level 1: Designing for Learner Variability" in out
    assert "3 attempts, 60 days to resubmit after Not Yet" in out
    for expected in (
        "learner_variability",  # a question, how to send it, its word limits and its prompt
        "(answers file)",
        "150 to 600 words",
        "Describe the variability of your learners",
        "(-e udl_lesson_plan=PATH)",  # a file requirement: counts, formats, size
        "1 to 2 files; pdf, docx, pptx; each at most 20.0 MB",
        "up to 2 files (optional); mp4, mov",  # the optional video, its size and length
        "2.0 GB; 1 min to 15 min long",
        "variability_analysed",  # rubric criteria, with what Met looks like
        "Identifies concrete barriers tied to learner variability",
    ):
        assert expected in out, expected


def test_catalog_show_names_the_known_ids_for_an_unknown_one(env):
    refused = CliRunner().invoke(app, ["catalog", "show", "udl"])
    assert refused.exit_code == 2 and "no micro-credential 'udl'" in refused.output and "udl-level-1" in refused.output
