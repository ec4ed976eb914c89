"""Program reports: each educator's status and recommended action, decision times, the CSV and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Enrolment, utcnow
from credflow.decision.stage import aggregate
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.reports.rules import CLOSED_ACTION, STATUS_OF_STATE, ProgramReport, ReportStatus
from credflow.reports.stage import program_report
from credflow.review.stage import submit_review
from credflow.submissions import get_submission, transition
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers, anchoring_request, applicant
from tests.utils.review_cycle import NOW, assignments_of, load_pool, pool_yaml, ready_submission, review_scores

LATER = NOW + timedelta(days=10)  # Thursday 3 December 2026


def _world(services, tmp_path, base: datetime = NOW) -> dict[str, str]:
    """Five educators, a row per status (Ana also enrolled in UDL); decisions 1 and 6 business days after receipt.

    Everything happens from ``base`` (a Monday) on.
    """
    load_pool(services, pool_yaml(base.date()))
    ana = ready_submission(services, tmp_path, who=applicant("Ana Alvarez", org="Westfield High"), now=base)
    ben = ready_submission(services, tmp_path, who=applicant("Ben Okafor", org="=cmd|' /C calc'!A0"), now=base)
    eve = ready_submission(services, tmp_path, who=applicant("Eve Stone", org="Westfield High"), now=base)
    assign_reviewers(services, now=base)
    for assignment in assignments_of(services, ana):
        submit_review(services, assignment.id, review_scores(services), now=base)
    for assignment in assignments_of(services, ben):
        submit_review(services, assignment.id, review_scores(services, {"reflection_on_learners": "not_yet"}), now=base)
    # Counted in the issuer's calendar: a holiday in the week (Thanksgiving at NOW) moves the day, not the count.
    business = services.calendar_for("openscied-anchoring-phenomenon")
    assert aggregate(services, ana, now=business.add_business_days(base, 1)).state is State.EARNED  # 1 business day
    assert aggregate(services, ben, now=business.add_business_days(base, 6)).state is State.NOT_YET  # 6: late
    cara = submit(
        services,
        anchoring_request(tmp_path, who=applicant("Cara Diaz", org="Westfield High"), answers=anchoring_answers(3)),
        now=base,
    ).submission_id
    assert run_validation(services, cara, now=base).state is State.RETURNED
    dan = submit(
        services, anchoring_request(tmp_path, who=applicant("Dan Wu", org="Hillcrest"), title="Dan"), now=base
    ).submission_id
    with services.db.session() as session:
        ana_id = get_submission(session, ana).applicant_id
        session.add(Enrolment(applicant_id=ana_id, credential_id="udl-level-1", enrolled_on=base.date()))
    return {"ana": ana, "ben": ben, "cara": cara, "dan": dan, "eve": eve}


def _monday_before_the_wall_clock() -> datetime:
    """A Monday 09:00 two to three weeks ago, for ``_world`` when the code under test reads the wall clock."""
    day = utcnow() - timedelta(days=14)
    return (day - timedelta(days=day.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)


def _row(report: ProgramReport, name: str, credential_id: str = "openscied-anchoring-phenomenon"):
    return next(
        row
        for section in report.programs
        for row in section.rows
        if row.educator == name and row.credential_id == credential_id
    )


def test_every_educator_gets_a_status_and_the_guides_action(services, tmp_path):
    _world(services, tmp_path)
    report = program_report(services, now=LATER)
    expected = {
        "Ana Alvarez": (ReportStatus.EARNED, "Celebrate the accomplishment"),
        "Ben Okafor": (ReportStatus.NOT_YET, "Give feedback on the evidence before resubmitting"),
        "Cara Diaz": (ReportStatus.RETURNED, "Help with creating and capturing evidence"),
        "Dan Wu": (ReportStatus.SUBMITTED, "Recognise the effort: the evidence is uploaded"),
        "Eve Stone": (ReportStatus.IN_REVIEW, "Nothing to do: reviewers decide within 5 business days"),
    }
    for name, (status, action) in expected.items():
        row = _row(report, name)
        assert (row.status, row.action, row.attempt, row.program) == (status, action, 1, "openscied-facilitator")
    assert _row(report, "Ana Alvarez").days_in_state == 9  # earned on Tuesday 24th, report on Thursday 3rd
    assert _row(report, "Dan Wu").days_in_state == 10
    udl_row = _row(report, "Ana Alvarez", "udl-level-1")
    assert (udl_row.program, udl_row.status, udl_row.state, udl_row.attempt, udl_row.days_in_state) == (
        "udl",
        "not_started",
        "enrolled",
        0,
        10,
    )
    assert udl_row.action == "Getting started: plan which evidence to collect and when"

    [section] = [s for s in report.programs if s.program == "openscied-facilitator"]
    # Sorted by organisation, then educator.
    assert [r.educator for r in section.rows] == ["Ben Okafor", "Dan Wu", "Ana Alvarez", "Cara Diaz", "Eve Stone"]
    assert section.counts()[ReportStatus.IN_REVIEW] == 1 and section.counts()[ReportStatus.NOT_STARTED] == 0
    times = section.decision_times
    assert (times.decided, times.median_business_days, times.within_target) == (2, 3.5, 1)
    assert times.share_within_target == 0.5 and times.target_business_days == "5"
    udl = next(s for s in report.programs if s.program == "udl")
    assert udl.decision_times.decided == 0 and udl.decision_times.share_within_target is None
    assert report.counts() == {
        "not_started": 1,
        "returned": 1,
        "submitted": 1,
        "in_review": 1,
        "not_yet": 1,
        "earned": 1,
        "educators": 5,
    }


def test_a_closed_chain_reads_not_yet_with_its_own_action_and_every_state_maps(services, tmp_path):
    ids = _world(services, tmp_path)
    with services.db.session() as session:
        transition(session, get_submission(session, ids["ben"]), State.CLOSED, actor="test", now=LATER)
    row = _row(program_report(services, now=LATER), "Ben Okafor")
    assert (row.status, row.state, row.action, row.days_in_state) == (ReportStatus.NOT_YET, "closed", CLOSED_ACTION, 0)
    assert set(STATUS_OF_STATE) == set(State)
    assert STATUS_OF_STATE[State.WITHDRAWN] is ReportStatus.NOT_STARTED


def test_the_csv_has_every_row_and_disarms_formulas(services, tmp_path):
    _world(services, tmp_path)
    text = program_report(services, now=LATER).to_csv()
    assert text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    ben = next(r for r in rows if r["educator"] == "Ben Okafor")
    assert ben["organisation"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text
    assert (ben["status"], ben["attempt"], ben["program"]) == ("not_yet", "1", "openscied-facilitator")
    assert list(rows[0]) == [
        "program",
        "organisation",
        "educator",
        "email",
        "credential_id",
        "credential",
        "status",
        "state",
        "attempt",
        "days_in_state",
        "action",
    ]


def test_the_cli_prints_the_report_as_csv_and_as_a_table(services, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app

    _world(services, tmp_path, _monday_before_the_wall_clock())  # the CLI reports as of the wall clock
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    result = CliRunner().invoke(app, ["report", "programs", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("program,organisation,educator,")
    assert "Eve Stone" in result.output and "in_review" in result.output
    table = CliRunner().invoke(app, ["report", "programs"])
    assert table.exit_code == 0, table.output
    assert "openscied-facilitator: 2 decided, median 3.5 business days, 50% within 5 business days" in table.output
    assert "Celebrate the" in table.output
    bad = CliRunner().invoke(app, ["report", "programs", "--format", "xml"])
    assert bad.exit_code == 2


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_flow_publishes_the_program_report_table_artifact(services, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    from cli.launch import run_in_process
    from flows.reports import program_report as program_report_flow

    _world(services, tmp_path, _monday_before_the_wall_clock())  # the flow reports as of the wall clock
    counts = run_in_process(services, program_report_flow)
    assert isinstance(counts, dict)
    assert counts["earned"] == 1 and counts["in_review"] == 1 and counts["educators"] == 5
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["program-report"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert table.type == "table"
    assert "Eve Stone" in str(table.data) and "Celebrate the accomplishment" in str(table.data)


def test_a_scope_keeps_only_its_organisations_and_programs_and_their_decision_times(services, tmp_path):
    from credflow.reports.rules import ReportScope

    _world(services, tmp_path)
    everything = program_report(services, now=LATER)
    assert program_report(services, now=LATER, scope=ReportScope.everything()) == everything

    westfield = program_report(services, now=LATER, scope=ReportScope(organisations=frozenset({" westfield  HIGH"})))
    names = {(row.educator, row.program) for section in westfield.programs for row in section.rows}
    assert names == {
        ("Ana Alvarez", "openscied-facilitator"),
        ("Cara Diaz", "openscied-facilitator"),
        ("Eve Stone", "openscied-facilitator"),
        ("Ana Alvarez", "udl"),
    }
    openscied = next(s for s in westfield.programs if s.program == "openscied-facilitator")
    assert openscied.decision_times.decided == 1  # Ana's; Ben's (another organisation) is not counted
    assert "Ben Okafor" not in westfield.to_csv() and "Hillcrest" not in westfield.to_csv()

    udl = program_report(services, now=LATER, scope=ReportScope(programs=frozenset({"udl"})))
    assert [s.program for s in udl.programs] == ["udl"] and [r.educator for r in udl.programs[0].rows] == [
        "Ana Alvarez"
    ]
    both = ReportScope(organisations=frozenset({"Hillcrest"}), programs=frozenset({"udl"}))
    assert [(s.program, s.rows) for s in program_report(services, now=LATER, scope=both).programs] == [("udl", ())]
    assert program_report(services, now=LATER, scope=ReportScope()).programs == ()
