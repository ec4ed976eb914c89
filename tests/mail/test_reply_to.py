"""Mail that can be answered: each program's support address (or its issuer's email) is the Reply-To of its mail."""

from __future__ import annotations

import email
import shutil
from email import policy
from pathlib import Path

from credflow.catalog.loader import check_catalog
from credflow.notifications.rules import Notice
from credflow.notifications.stage import send_notice
from credflow.services import build_services
from tests.utils.review_cycle import ready_submission

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = "facilitators@help.openscied.org"


def catalog_with_support(tmp_path: Path, *, only: str | None = None) -> Path:
    """The shipped catalog with ``support_email`` on every OpenSciEd credential (or only on ``only``)."""
    folder = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", folder)
    for path in folder.glob("openscied-*.yaml"):
        if only is None or path.stem == only:
            path.write_text(path.read_text() + f"support_email: {SUPPORT}\n")
    return folder


def test_a_programs_support_address_is_the_reply_to_and_the_issuer_email_the_default(tmp_path):
    catalog, problems = check_catalog(catalog_with_support(tmp_path))
    assert problems == []
    assert catalog.get("openscied-anchoring-phenomenon").reply_to == SUPPORT
    assert catalog.get("udl-level-1").reply_to == "credentials@cast.org"  # no support address: the issuer's email


def test_the_credentials_of_one_program_must_agree_on_its_support_address(tmp_path):
    _, problems = check_catalog(catalog_with_support(tmp_path, only="openscied-supporting-coherence"))
    [problem] = problems
    assert problem.file.name == "openscied-supporting-coherence.yaml" and problem.field == "support_email"
    assert "program 'openscied-facilitator' answers at credentials@openscied.org" in problem.message


def test_an_applicants_notice_can_be_answered_at_the_programs_support_address(make_settings, tmp_path):
    services = build_services(make_settings(catalog_dir=catalog_with_support(tmp_path)))
    try:
        sid = ready_submission(services, tmp_path)
        send_notice(services, sid, Notice.RECEIVED)
        [path] = services.settings.resolved_outbox_dir.glob("received*.eml")
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["Reply-To"] == SUPPORT
        assert message["From"] == services.settings.mail_sender
        html = message.get_body(("html",))
        assert html is not None and f"Reply to this email if something looks wrong: it reaches {SUPPORT}" in str(
            html.get_content()
        )
    finally:
        services.close()
