"""The pure rules of accounts: addresses, where a sign-in leads, session and link expiry, grants and scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credflow.accounts.rules import (
    AddressError,
    Grant,
    Identity,
    Role,
    SessionTimes,
    link_problem,
    normalise_email,
    roles_of,
    safe_next,
)
from credflow.reports.rules import ReportScope

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_addresses_are_trimmed_lower_cased_and_checked():
    assert normalise_email("  Ana@Example.ORG ") == "ana@example.org"
    for bad in ("", "ana", "ana@example", "a b@example.org", "ana@example.org\r\nBcc: x@y.z", "a" * 320 + "@x.org"):
        with pytest.raises(AddressError):
            normalise_email(bad)


@pytest.mark.parametrize(
    "path", ["//evil.example", "https://evil.example/", "/\\evil.example", "evil", "/a b", "/" + "x" * 600, ""]
)
def test_a_sign_in_never_leads_off_the_site(path):
    assert safe_next(path) == "/me"


def test_sessions_end_idle_or_at_their_absolute_end():
    times = SessionTimes(idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    end = NOW + times.absolute
    assert times.open_at(last_seen_at=NOW, expires_at=end, now=NOW + timedelta(minutes=29))
    assert not times.open_at(last_seen_at=NOW, expires_at=end, now=NOW + timedelta(minutes=30))
    assert not times.open_at(last_seen_at=end - timedelta(minutes=1), expires_at=end, now=end)


def test_a_link_is_refused_unknown_used_or_expired():
    later = NOW + timedelta(minutes=15)
    assert link_problem(found=True, used_at=None, expires_at=later, now=NOW) is None
    assert "not valid" in str(link_problem(found=False, used_at=None, expires_at=later, now=NOW))
    assert "already used" in str(link_problem(found=True, used_at=NOW, expires_at=later, now=NOW))
    assert "expired" in str(link_problem(found=True, used_at=None, expires_at=later, now=later))


def test_grants_merge_and_make_roles_and_scopes():
    grant = Grant("pa@example.org", organisations=("Westfield High",))
    wider = grant.merged(operator=False, organisations=("Westfield High", "Hillcrest"), programs=("udl",))
    assert wider.organisations == ("Westfield High", "Hillcrest") and wider.programs == ("udl",)
    assert wider.scope() == ReportScope(
        organisations=frozenset({"Westfield High", "Hillcrest"}), programs=frozenset({"udl"})
    )
    assert roles_of(applicant=True, reviewer=True, lead=False, grant=wider) == {
        Role.APPLICANT,
        Role.REVIEWER,
        Role.PROGRAM_ADMIN,
    }
    nobody = Identity(person_id="p", email="a@example.org", roles=frozenset({Role.APPLICANT}))
    assert not nobody.may_see_reports and nobody.report_scope() == ReportScope()
    scope = wider.scope()
    assert scope.allows(program="udl", organisation="hillcrest ") and not scope.allows(program="udl", organisation="X")
    assert not scope.allows(program="deeper-learning", organisation="Hillcrest")


def test_the_accounts_domain_imports_no_web_framework():
    import ast
    from pathlib import Path

    import credflow.accounts

    folder = Path(credflow.accounts.__file__).parent
    for module in folder.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in ("fastapi", "starlette", "prefect")}, module.name
