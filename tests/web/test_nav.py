"""The site header's workspace links follow the signed-in person's roles."""

from __future__ import annotations

from credflow.accounts.rules import Grant, Identity, Role
from web.deps import workspace_links


def _who(*roles: Role, grant: Grant | None = None) -> Identity:
    return Identity(person_id="p1", email="x@example.org", roles=frozenset({Role.APPLICANT, *roles}), grant=grant)


def test_signed_out_and_applicants_get_no_workspace_links() -> None:
    assert workspace_links(None) == ()
    assert workspace_links(_who()) == ()


def test_each_role_opens_its_workspace_in_the_headers_order() -> None:
    links = workspace_links(_who(Role.REVIEWER, Role.LEAD, Role.PROGRAM_ADMIN))
    assert [(link.href, link.section) for link in links] == [
        ("/reviewer", "reviewer"),
        ("/lead", "lead"),
        ("/admin", "admin"),
    ]
    assert [link.href for link in workspace_links(_who(Role.OPERATOR))] == ["/admin"]
    assert [link.href for link in workspace_links(_who(Role.REVIEWER))] == ["/reviewer"]
