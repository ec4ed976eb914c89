"""Pathways: the OpenSciEd certification timeline (issue, renew, expert, lapse), reminders, idempotency, YAML errors."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest

from credflow.catalog import load_catalog
from credflow.catalog.loader import check_catalog
from credflow.issuance.rules import (
    EarnedStep,
    Expire,
    HeldBadge,
    Issue,
    Pathway,
    PathwayError,
    Renew,
    add_duration,
    apply_actions,
    check_pathways,
    evaluate,
    expired,
    expiring,
    load_pathway,
    load_pathways,
)

ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"
CERTIFIED = "openscied-certified-facilitator"
EXPERT = "openscied-expert-facilitator"
ANCHORING = "openscied-anchoring-phenomenon"
COHERENCE = "openscied-supporting-coherence"
DISCUSSIONS = "openscied-facilitating-discussions"


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    catalog = load_catalog(RUBRICS)
    return load_pathway(RUBRICS / "pathways" / "openscied.yaml", known_credentials=set(catalog.credentials))


class Holder:
    """One facilitator's earned steps and held badges, advanced by evaluating and applying actions."""

    def __init__(self, pathway: Pathway) -> None:
        self.pathway = pathway
        self.earned: list[EarnedStep] = []
        self.held: list[HeldBadge] = []
        self._ids = itertools.count(1)

    def earn(self, credential_id: str, on: date) -> list:
        self.earned.append(EarnedStep(credential_id, on))
        return self.sweep(on)

    def sweep(self, today: date) -> list:
        actions = evaluate(self.pathway, self.earned, self.held, today)
        self.held = apply_actions(self.held, actions, new_id=lambda _: f"b{next(self._ids)}")
        assert evaluate(self.pathway, self.earned, self.held, today) == [], "evaluation is not idempotent"
        return actions

    def badge(self, held_id: str) -> HeldBadge:
        return next(h for h in self.held if h.id == held_id)

    def current(self, badge_id: str) -> list[HeldBadge]:
        return [h for h in self.held if h.badge_id == badge_id and h.current]


def test_the_shipped_pathway_names_the_seed_badges_and_the_catalog_ignores_it(pathway):
    assert pathway.steps == (ANCHORING, COHERENCE, DISCUSSIONS)
    assert {b.id: (b.name, b.validity) for b in pathway.badges} == {
        CERTIFIED: ("OpenSciEd-Certified Facilitator", "P1Y"),
        EXPERT: ("OpenSciEd Expert Facilitator", "never"),
    }
    assert set(load_pathways(RUBRICS / "pathways")) == {"openscied-facilitator"}
    _, problems = check_catalog(RUBRICS)
    assert problems == []  # the pathway file is not read as a micro-credential


def test_first_step_certifies_for_one_year(pathway):
    holder = Holder(pathway)
    actions = holder.earn(ANCHORING, date(2025, 3, 10))
    assert actions == [Issue(CERTIFIED, date(2025, 3, 10), date(2026, 3, 10), "certified-facilitator", ANCHORING)]
    assert holder.current(EXPERT) == []


def test_second_step_within_the_year_renews_and_supersedes_without_revoking(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))
    actions = holder.earn(COHERENCE, date(2025, 11, 2))
    assert actions == [Renew(CERTIFIED, "b1", date(2025, 11, 2), date(2026, 11, 2), "certified-facilitator", COHERENCE)]
    old = holder.badge("b1")
    assert old.superseded and not old.expired
    assert old.valid_on(date(2025, 12, 1))  # superseded, not revoked: still verifies until its own end
    assert [h.valid_until for h in holder.current(CERTIFIED)] == [date(2026, 11, 2)]
    # The superseded credential never expires into a notice of its own.
    assert holder.sweep(date(2026, 3, 10)) == []


def test_third_step_in_the_second_year_awards_expert_which_never_expires(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))
    holder.earn(COHERENCE, date(2026, 2, 1))
    actions = holder.earn(DISCUSSIONS, date(2027, 1, 20))  # second year: before 2027-02-01
    assert actions == [
        Renew(CERTIFIED, "b2", date(2027, 1, 20), date(2028, 1, 20), "certified-facilitator", DISCUSSIONS),
        Issue(EXPERT, date(2027, 1, 20), None, "expert-facilitator", DISCUSSIONS),
    ]
    holder.sweep(date(2028, 1, 20))  # the certification lapses with nothing left to earn
    assert holder.current(CERTIFIED) == []
    assert [h.id for h in holder.current(EXPERT)] == ["b4"]
    assert holder.sweep(date(2040, 1, 1)) == []
    assert holder.badge("b4").valid_on(date(2040, 1, 1))


def test_all_three_within_the_first_year_award_expert(pathway):
    holder = Holder(pathway)
    holder.earn(DISCUSSIONS, date(2025, 1, 5))  # any order counts
    holder.earn(ANCHORING, date(2025, 1, 5))  # same day: nothing to renew
    actions = holder.earn(COHERENCE, date(2025, 4, 1))
    assert [type(a).__name__ for a in actions] == ["Renew", "Issue"]
    assert holder.current(EXPERT)[0].valid_from == date(2025, 4, 1)


def test_no_second_step_within_the_year_expires_the_certification(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))
    assert holder.sweep(date(2026, 3, 9)) == []  # its last valid day
    assert holder.sweep(date(2026, 3, 10)) == [Expire("b1", CERTIFIED, date(2026, 3, 10))]
    assert holder.badge("b1").expired
    assert expired(holder.held, date(2026, 6, 1)) == []  # recorded once


def test_a_step_after_the_lapse_recertifies_and_the_earlier_step_still_counts(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))
    holder.sweep(date(2026, 3, 10))
    actions = holder.earn(COHERENCE, date(2026, 8, 1))
    assert actions == [Issue(CERTIFIED, date(2026, 8, 1), date(2027, 8, 1), "certified-facilitator", COHERENCE)]
    assert holder.badge("b1").expired and not holder.badge("b1").superseded
    # The third within the new certification year completes the series while certified.
    actions = holder.earn(DISCUSSIONS, date(2027, 5, 1))
    assert Issue(EXPERT, date(2027, 5, 1), None, "expert-facilitator", DISCUSSIONS) in actions


def test_completing_the_series_after_a_lapse_recertifies_but_is_not_expert(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))
    holder.earn(COHERENCE, date(2025, 9, 1))
    actions = holder.earn(DISCUSSIONS, date(2026, 10, 1))  # the renewed year ended on 2026-09-01
    assert actions == [
        Expire("b2", CERTIFIED, date(2026, 9, 1)),
        Issue(CERTIFIED, date(2026, 10, 1), date(2027, 10, 1), "certified-facilitator", DISCUSSIONS),
    ]
    assert holder.current(EXPERT) == []
    assert holder.sweep(date(2030, 1, 1)) == [Expire("b3", CERTIFIED, date(2027, 10, 1))]
    assert holder.current(EXPERT) == []


def test_late_evaluation_catches_up_in_one_pass(pathway):
    # Three steps recorded before the first evaluation: only the current certification is issued.
    holder = Holder(pathway)
    holder.earned += [EarnedStep(ANCHORING, date(2025, 1, 1)), EarnedStep(COHERENCE, date(2025, 6, 1))]
    holder.earned.append(EarnedStep(DISCUSSIONS, date(2026, 2, 1)))
    actions = holder.sweep(date(2026, 2, 2))
    assert actions == [
        Issue(CERTIFIED, date(2026, 2, 1), date(2027, 2, 1), "certified-facilitator", DISCUSSIONS),
        Issue(EXPERT, date(2026, 2, 1), None, "expert-facilitator", DISCUSSIONS),
    ]
    # Steps outside the pathway, and steps dated after today, change nothing.
    holder.earned += [EarnedStep("udl-level-1", date(2026, 3, 1)), EarnedStep(ANCHORING, date(2030, 1, 1))]
    assert holder.sweep(date(2026, 3, 2)) == []


def test_evaluation_is_pure_and_ignores_other_pathways_badges(pathway):
    other = HeldBadge("x1", "some-other-badge", date(2020, 1, 1), date(2021, 1, 1))
    earned = [EarnedStep(ANCHORING, date(2025, 3, 10))]
    first = evaluate(pathway, earned, [other], date(2025, 3, 10))
    assert first == evaluate(pathway, earned, [other], date(2025, 3, 10))
    assert all(not isinstance(a, Expire) for a in first)


def test_sixty_day_reminder_window(pathway):
    holder = Holder(pathway)
    holder.earn(ANCHORING, date(2025, 3, 10))  # valid until 2026-03-10
    start = date(2026, 3, 10) - timedelta(days=60)
    assert expiring(holder.held, start - timedelta(days=1)) == []
    assert [h.id for h in expiring(holder.held, start)] == ["b1"]
    assert [h.id for h in expiring(holder.held, date(2026, 3, 9))] == ["b1"]
    assert expiring(holder.held, date(2026, 3, 10)) == []  # expired now, not expiring
    assert [h.id for h in expired(holder.held, date(2026, 3, 10))] == ["b1"]
    assert [h.id for h in expiring(holder.held, date(2025, 12, 1), remind_days=120)] == ["b1"]
    holder.earn(COHERENCE, start)  # renewed: the old one needs no reminder, the new one not yet
    assert expiring(holder.held, start) == []


def test_duration_arithmetic_keeps_the_day_or_clamps_it():
    assert add_duration(date(2024, 2, 29), "P1Y") == date(2025, 2, 28)
    assert add_duration(date(2025, 1, 31), "P1M") == date(2025, 2, 28)
    assert add_duration(date(2025, 1, 1), "P1Y2M3D") == date(2026, 3, 4)
    with pytest.raises(ValueError, match="not a duration"):
        add_duration(date(2025, 1, 1), "1 year")


GOOD = (RUBRICS / "pathways" / "openscied.yaml").read_text()


def _problems(tmp_path: Path, text: str, **kwargs) -> list[tuple[str, str]]:
    path = tmp_path / "pathways" / "broken.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    with pytest.raises(PathwayError) as caught:
        load_pathways(path.parent, **kwargs)
    assert all(p.file == path for p in caught.value.problems)
    assert str(path) in str(caught.value)
    return [(p.field, p.message) for p in caught.value.problems]


def test_yaml_errors_name_file_and_field(tmp_path):
    problems = _problems(tmp_path, GOOD.replace("validity: P1Y", "validity: one year"))
    assert [f for f, _ in problems] == ["badges[0].validity"]
    assert "not a duration like P1Y" in problems[0][1]

    problems = _problems(tmp_path, GOOD.replace("badge: openscied-expert-facilitator", "badge: expert"))
    assert problems[0][0] == "rules"
    assert "'expert', which is not in badges" in problems[0][1]

    problems = _problems(tmp_path, GOOD.replace("kind: certify", "kind: certifyy"))
    assert problems[0][0] == "rules[0]" and "certify" in problems[0][1]

    problems = _problems(tmp_path, GOOD.replace("    validity: P1Y", "    validity: never"))
    assert "never expires" in problems[0][1]

    problems = _problems(tmp_path, GOOD + "colour: blue\n")
    assert problems == [("colour", "Extra inputs are not permitted")]

    problems = _problems(
        tmp_path,
        GOOD.replace("  - openscied-supporting-coherence\n", "  - openscied-supporting\n"),
        known_credentials={ANCHORING, COHERENCE, DISCUSSIONS},
    )
    assert problems[0][0] == "steps[1]" and "no micro-credential 'openscied-supporting'" in problems[0][1]

    problems = _problems(tmp_path, "steps: [a\n")
    assert problems[0] == (
        "line 2, column 1",
        "the file ends before every [ or { is closed (the one at line 1, column 8)",
    )


def test_a_missing_pathways_folder_means_no_pathways(tmp_path):
    assert check_pathways(tmp_path / "absent") == ({}, [])


def test_services_parse_the_pathways_once_per_process(make_settings, tmp_path):
    import shutil

    from credflow.services import build_services

    catalog = tmp_path / "rubrics"
    shutil.copytree(RUBRICS, catalog)
    services = build_services(make_settings(catalog_dir=catalog), migrate=False)
    try:
        first = services.pathways
        assert set(first) == {"openscied-facilitator"}
        for path in (catalog / "pathways").glob("*.yaml"):
            path.write_text("not: [a pathway", encoding="utf-8")  # a re-read would now fail
        assert services.pathways is first  # a badge page's second look reads no file
    finally:
        services.close()
    fresh = build_services(make_settings(catalog_dir=catalog), migrate=False)
    try:
        with pytest.raises(PathwayError):
            _ = fresh.pathways  # a new process would see the broken file
    finally:
        fresh.close()
