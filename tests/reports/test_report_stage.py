"""Reports' stage and rules apart: the operator summary of one submission, the program report built from rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from credflow.errors import NotFoundError
from credflow.intake.stage import submit
from credflow.reports.rules import ReportScope, build_report
from credflow.reports.stage import submission_summary
from tests.utils.builders import anchoring_request
from tests.utils.review_cycle import NOW


def test_the_submission_summary_is_what_the_operator_artifact_shows(services, tmp_path) -> None:
    submission_id = submit(services, anchoring_request(tmp_path), now=NOW).submission_id

    summary = submission_summary(services, submission_id)

    assert summary.key == f"submission-{submission_id.lower()}"
    assert summary.state == "received"
    assert summary.description == "openscied-anchoring-phenomenon attempt 1: received"
    assert f"**Submission id:** `{submission_id}`" in summary.markdown and "## Timeline" in summary.markdown


def test_a_summary_of_an_unknown_submission_is_refused(services) -> None:
    with pytest.raises(NotFoundError):
        submission_summary(services, "no-such-submission")


def test_with_no_rows_every_catalog_program_gets_an_empty_section(services) -> None:
    catalog = services.catalog.credentials
    report = build_report(
        catalog=catalog,
        applicants={},
        enrolments=[],
        submissions=[],
        decided=[],
        now=NOW + timedelta(days=1),
        scope=ReportScope.everything(),
        calendars=services.calendars,
    )

    assert [section.program for section in report.programs] == sorted({c.program for c in catalog.values()})
    assert all(section.rows == () and section.decision_times.decided == 0 for section in report.programs)
    assert all(section.decision_times.median_business_days is None for section in report.programs)
    assert report.counts()["educators"] == 0 and report.generated_at == NOW + timedelta(days=1)
    assert (
        build_report(
            catalog={},
            applicants={},
            enrolments=[],
            submissions=[],
            decided=[],
            now=NOW,
            scope=ReportScope(),
            calendars=services.calendars,
        ).programs
        == ()
    )
