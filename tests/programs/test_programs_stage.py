"""The workspace's stage: scoped hours and badges, and a confirmation's life (sent, verified, erased)."""

from __future__ import annotations

from datetime import date

import pytest

from credflow.privacy.erase import erase_applicant
from credflow.programs.rules import BadgeStanding, ConfirmationRequest
from credflow.programs.stage import (
    NothingToConfirm,
    held_badges,
    hours_lines,
    send_confirmation,
    verification_token,
    verify_confirmation,
    workspace,
)
from credflow.reports.rules import ReportScope
from tests.utils.admin_world import HILLCREST, NOW, WESTFIELD, build_world

WESTFIELD_SCOPE = ReportScope(organisations=frozenset({WESTFIELD}))


def request(applicant_id: str, **changes: object) -> ConfirmationRequest:
    values: dict[str, object] = {
        "applicant_id": applicant_id,
        "start": date(2026, 7, 1),
        "end": date(2027, 6, 30),
        "director_name": "Dr. Keith Wilson",
        "director_email": "kwilson@westfield.org",
    }
    return ConfirmationRequest(**{**values, **changes})  # type: ignore[arg-type]


def test_hours_and_badges_stay_within_the_scope(services) -> None:
    build_world(services)
    assert {line.record.organisation for line in hours_lines(services, scope=WESTFIELD_SCOPE)} == {WESTFIELD}
    program = ReportScope(programs=frozenset({"udl"}))
    assert [line.record.credential_id for line in hours_lines(services, scope=program)] == ["udl-level-1"]
    badges = held_badges(services, ReportScope(organisations=frozenset({HILLCREST})), now=NOW)
    assert [(b.educator, b.name, b.standing) for b in badges] == [
        ("Cara Diaz", "OpenSciEd Expert Facilitator", BadgeStanding.PERMANENT)
    ]
    assert held_badges(services, program, now=NOW) == []  # the pathway's badges count in its own program


def test_the_workspace_titles_programs_and_counts_work_past_its_target(services) -> None:
    build_world(services)
    ws = workspace(services, scope=WESTFIELD_SCOPE, now=NOW)
    views = {view.section.program: view for view in ws.programs}
    assert views["openscied-facilitator"].title == "OpenSciEd Facilitator Series"
    assert views["openscied-facilitator"].overdue == 1 and views["udl"].overdue == 0
    assert ws.organisations == (WESTFIELD,)
    # A week after receipt (Friday to Friday) it is still within its five business days.
    early = workspace(services, scope=WESTFIELD_SCOPE, now=NOW.replace(day=13))
    assert {v.section.program: v.overdue for v in early.programs}["openscied-facilitator"] == 0


def test_a_confirmation_lists_only_the_scope_s_hours_and_refuses_an_empty_period(services) -> None:
    world = build_world(services)
    udl_only = send_confirmation(
        services,
        request(world.ana),
        scope=ReportScope(programs=frozenset({"udl"})),
        sent_by="cast@example.org",
        now=NOW,
    )
    assert [line.credential_id for line in udl_only.content.lines] == ["udl-level-1"]
    with pytest.raises(NothingToConfirm, match="nothing to confirm"):
        send_confirmation(
            services, request(world.ana, end=date(2026, 9, 1)), scope=WESTFIELD_SCOPE, sent_by="x@y.org", now=NOW
        )


def test_a_forged_token_and_an_erased_educator_do_not_verify(services) -> None:
    world = build_world(services)
    sent = send_confirmation(services, request(world.ana), scope=WESTFIELD_SCOPE, sent_by="pd@westfield.org", now=NOW)
    token = sent.url.rsplit("/", 1)[1]
    assert verify_confirmation(services, token).valid
    # Signed for a digest that is not the stored content's: refused though the signature holds.
    assert not verify_confirmation(services, verification_token(services, sent.id, "0" * 64)).valid
    assert not verify_confirmation(services, "x" * 500).valid
    erase_applicant(services, "ana@westfield.org", reason="asked", now=NOW)
    gone = verify_confirmation(services, token)
    assert not gone.valid and "no longer on record" in gone.reason
