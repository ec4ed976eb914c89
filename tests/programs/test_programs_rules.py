"""The admin workspace's pure rules: hours filters and totals, badge standing, program titles, the confirmation form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from credflow.catalog.loader import check_catalog
from credflow.issuance.hours import HoursRecord
from credflow.programs.rules import (
    BadgeStanding,
    ConfirmationContent,
    HoursLine,
    HoursQuery,
    OutOfScope,
    badge_standing,
    check_confirmation_form,
    confirmation_lines,
    content_digest,
    hours_text,
    hours_totals,
    narrowed,
    organisation_choices,
    overdue,
    parse_hours_query,
    program_titles,
)
from credflow.reports.rules import ReportScope
from tests.conftest import ROOT

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREDENTIALS = {"openscied-anchoring-phenomenon": "Anchoring", "udl-level-1": "UDL Level 1"}


def line(
    name: str = "Ana Alvarez", *, org: str = "Westfield High", on: date = date(2026, 9, 15), **more: object
) -> HoursLine:
    values: dict[str, object] = {
        "applicant_name": name,
        "applicant_email": f"{name.split()[0].lower()}@example.org",
        "organisation": org,
        "credential_id": "openscied-anchoring-phenomenon",
        "credential_title": "Anchoring",
        "hours": 3.0,
        "earned_on": on,
        "decision_id": f"d-{name}-{on}",
        "confirmation": "CF-0000-0001",
    }
    values.update(more)
    return HoursLine(applicant_id=f"id-{name}", program="openscied-facilitator", record=HoursRecord(**values))  # type: ignore[arg-type]


def test_a_query_reads_dates_an_organisation_in_any_case_and_a_credential() -> None:
    parsed = parse_hours_query(
        {"organisation": "  westfield   HIGH ", "from": "2026-09-01", "to": "2026-10-31", "credential": "udl-level-1"},
        organisations=["Westfield High", "Hillcrest"],
        credentials=CREDENTIALS,
    )
    assert parsed.problems == {}
    assert parsed.query == HoursQuery("Westfield High", date(2026, 9, 1), date(2026, 10, 31), "udl-level-1")
    assert parsed.query.params() == {
        "organisation": "Westfield High",
        "from": "2026-09-01",
        "to": "2026-10-31",
        "credential": "udl-level-1",
    }
    assert parse_hours_query({}, organisations=[], credentials={}).query == HoursQuery()


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"from": "2026-13-01"}, "from", "The start date must be a date like 2026-09-01"),
        ({"to": "yesterday"}, "to", "The end date must be a date like"),
        ({"from": "2026-9-1"}, "from", "The start date must be a date like"),
        ({"from": "2026-10-02", "to": "2026-10-01"}, "to", "on or after the start date"),
        ({"credential": "dp-choosing-learning-strategies"}, "credential", "micro-credentials of your programs"),
    ],
)
def test_unreadable_filters_are_named_field_by_field(params: dict[str, str], field: str, words: str) -> None:
    parsed = parse_hours_query(params, organisations=None, credentials=CREDENTIALS)
    assert words in parsed.problems[field]


def test_an_organisation_outside_the_scope_is_refused_not_filtered() -> None:
    with pytest.raises(OutOfScope, match="'Hillcrest' is not one of the organisations you look after"):
        parse_hours_query({"organisation": "Hillcrest"}, organisations=["Westfield High"], credentials={})
    # An operator (no list) may name any organisation.
    assert parse_hours_query({"organisation": "Hillcrest"}, organisations=None, credentials={}).query.organisation


def test_a_query_keeps_lines_of_its_organisation_period_and_credential() -> None:
    ana, cara = line(), line("Cara Diaz", org="Hillcrest", on=date(2026, 10, 20))
    udl = line(on=date(2026, 10, 5), credential_id="udl-level-1", credential_title="UDL")
    assert [x for x in (ana, cara, udl) if HoursQuery(organisation="westfield high").matches(x)] == [ana, udl]
    period = HoursQuery(start=date(2026, 10, 5), end=date(2026, 10, 20))  # both ends included
    assert [x for x in (ana, cara, udl) if period.matches(x)] == [cara, udl]
    assert [x for x in (ana, cara, udl) if HoursQuery(credential="udl-level-1").matches(x)] == [udl]
    words = HoursQuery(start=date(2026, 9, 1), end=date(2027, 6, 30), credential="udl-level-1").describe(CREDENTIALS)
    assert words == "all organisations, 1 September 2026 to 30 June 2027, UDL Level 1"


def test_totals_add_hours_in_all_and_per_educator() -> None:
    totals = hours_totals(
        [line(), line(on=date(2026, 10, 5), hours=1.5), line("Cara Diaz", org="Hillcrest"), line("Ben Okoro")]
    )
    assert (totals.lines, totals.hours) == (4, 10.5)
    assert [(e.name, e.credentials, e.hours) for e in totals.educators] == [
        ("Cara Diaz", 1, 3.0),  # Hillcrest before Westfield High
        ("Ana Alvarez", 2, 4.5),
        ("Ben Okoro", 1, 3.0),
    ]
    assert hours_totals([]).hours == 0 and hours_text(1) == "1 hour" and hours_text(4.5) == "4.5 hours"


def test_a_badge_expiring_within_sixty_days_is_marked_and_one_past_its_end_is_expired() -> None:
    assert badge_standing(None, now=NOW) is BadgeStanding.PERMANENT
    assert badge_standing(NOW + timedelta(days=61), now=NOW) is BadgeStanding.VALID
    assert badge_standing(NOW + timedelta(days=60), now=NOW) is BadgeStanding.EXPIRING
    assert badge_standing(NOW, now=NOW) is BadgeStanding.EXPIRED
    assert BadgeStanding.EXPIRING.label == "Expires soon"


def test_work_is_overdue_only_past_its_target() -> None:
    assert not overdue(business_days=5, target=5) and overdue(business_days=6, target=5)


def test_programs_are_titled_by_the_catalog_then_their_pathway(tmp_path: Path) -> None:
    from credflow.services import build_services
    from credflow.settings import load_settings

    services = build_services(load_settings(data_dir=tmp_path, catalog_dir=ROOT / "rubrics"))
    titles = program_titles(services.catalog.credentials, services.pathways)
    assert titles["openscied-facilitator"] == "OpenSciEd Facilitator Series"
    assert titles["udl"] == "Universal Design for Learning"
    untitled = {cid: c.model_copy(update={"program_title": None}) for cid, c in services.catalog.credentials.items()}
    titles = program_titles(untitled, services.pathways)
    assert titles["openscied-facilitator"] == "OpenSciEd Facilitator Certification"  # the pathway's title
    assert titles["udl"] == "udl"  # nothing better to say
    services.close()


def test_the_catalog_refuses_two_titles_for_one_program(tmp_path: Path) -> None:
    for name in ("udl-level-1.yaml", "udl-level-2.yaml"):
        (tmp_path / name).write_text((ROOT / "rubrics" / name).read_text())
    second = tmp_path / "udl-level-2.yaml"
    second.write_text(second.read_text().replace("program_title: Universal Design for Learning", "program_title: UDL"))
    _, problems = check_catalog(tmp_path)
    assert [(p.field, "give its credentials one title" in p.message) for p in problems] == [("program_title", True)]


def test_filter_choices_are_the_grant_s_organisations_else_those_seen() -> None:
    grant = ReportScope(organisations=frozenset({"Westfield High", "westfield  high", "Hillcrest"}))
    assert organisation_choices(grant, ["Elsewhere"]) == ("Hillcrest", "Westfield High")
    programs = ReportScope(programs=frozenset({"udl"}))
    assert organisation_choices(programs, ["b", "A", "a"]) == ("A", "b")
    kept = narrowed(programs, "Hillcrest")
    assert kept.allows(program="udl", organisation="hillcrest")
    assert not kept.allows(program="udl", organisation="Westfield High")
    assert not kept.allows(program="openscied-facilitator", organisation="Hillcrest")
    assert narrowed(programs, None) is programs


def form(**changes: str) -> dict[str, str]:
    values = {
        "educator": "ana",
        "from": "2026-07-01",
        "to": "2027-06-30",
        "director_name": " Dr.  Keith Wilson ",
        "director_email": "KWilson@Westfield.org ",
    }
    return {**values, **changes}


def test_the_confirmation_form_reads_a_request() -> None:
    checked = check_confirmation_form(form(), educators={"ana"})
    assert checked.problems == {} and checked.request is not None
    assert checked.request.director_name == "Dr. Keith Wilson"
    assert checked.request.director_email == "kwilson@westfield.org"
    assert (checked.request.start, checked.request.end) == (date(2026, 7, 1), date(2027, 6, 30))


def test_the_confirmation_form_names_each_problem() -> None:
    checked = check_confirmation_form(
        form(educator="cara", to="2026-06-30", director_name="", director_email="not an address"), educators={"ana"}
    )
    assert checked.request is None
    assert set(checked.problems) == {"educator", "to", "director_name", "director_email"}
    assert "on or after its start" in checked.problems["to"]
    assert "Enter the start" in check_confirmation_form(form(**{"from": ""}), educators={"ana"}).problems["from"]


def test_a_confirmation_lists_the_period_s_lines_and_its_digest_changes_with_any_word() -> None:
    lines = [line(on=date(2026, 6, 30)), line(on=date(2026, 7, 1)), line(on=date(2027, 6, 30), hours=1.5)]
    kept = confirmation_lines(lines, start=date(2026, 7, 1), end=date(2027, 6, 30))
    assert [x.earned_on for x in kept] == [date(2026, 7, 1), date(2027, 6, 30)]
    content = ConfirmationContent(
        educator_name="Ana Alvarez",
        educator_email="ana@example.org",
        organisation="Westfield High",
        start=date(2026, 7, 1),
        end=date(2027, 6, 30),
        lines=kept,
        director_name="Dr. Keith Wilson",
        director_email="kwilson@westfield.org",
        sent_by="pd@westfield.org",
        sent_at=NOW,
    )
    assert content.total_hours == 4.5
    data = content.to_json()
    assert ConfirmationContent.from_json(data) == content
    assert content_digest(data) == content_digest(dict(reversed(list(data.items()))))  # key order does not matter
    changed = {**data, "lines": [{**data["lines"][0], "hours": 30.0}, data["lines"][1]]}
    assert content_digest(changed) != content_digest(data)
