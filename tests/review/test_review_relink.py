"""Reissuing review links (after a key leak): old links die at once, each reviewer is emailed a working new one."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from typer.testing import CliRunner

from cli.main import app
from credflow.db.models import utcnow
from credflow.notifications.stage import reissue_links
from credflow.review.links import AccessDenied
from credflow.review.stage import open_assignment
from tests.utils.review_world import assign, assignment_row, udl_submission


def _reissued_links(services) -> dict[str, list[str]]:
    """The review links of the reissue emails in the outbox, by recipient."""
    links: dict[str, list[str]] = {}
    for path in sorted(services.settings.resolved_outbox_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if not str(message["Subject"]).startswith("New link:"):
            continue
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert "no longer works" in text
        found = re.findall(r"http://127\.0\.0\.1:8000/review/(\S+)", text)
        links.setdefault(str(message["To"]), []).extend(found)
    return links


def _opens(services, token: str) -> bool:
    try:
        open_assignment(services, token, now=utcnow())
    except AccessDenied:
        return False
    return True


def test_every_active_link_is_replaced_and_only_the_new_one_opens(services, tmp_path) -> None:
    applied = udl_submission(services, tmp_path, name="Ana Alvarez")
    first = assign(services, applied.submission_id)
    second = assign(services, applied.submission_id)
    done = assign(services, applied.submission_id, state="completed", completed_at=utcnow())
    done_nonce = assignment_row(services, done.assignment_id).token_nonce

    assert sorted(reissue_links(services)) == sorted([first.assignment_id, second.assignment_id])

    now = utcnow()
    for link in (first, second):
        with pytest.raises(AccessDenied, match="no longer active"):
            open_assignment(services, link.token, now=now)
    links = _reissued_links(services)
    assert len(links) == 2 and all(len(tokens) == 1 for tokens in links.values())
    opened = {open_assignment(services, tokens[0], now=now).id for tokens in links.values()}
    assert opened == {first.assignment_id, second.assignment_id}
    assert assignment_row(services, done.assignment_id).token_nonce == done_nonce  # closed work is left alone

    reissue_links(services)  # a second reissue is a second email each, and the first reissue's links die too
    again = _reissued_links(services)
    assert all(len(tokens) == 2 for tokens in again.values())
    for tokens in again.values():
        assert sum(_opens(services, token) for token in tokens) == 1  # only the newest link opens


def test_the_cli_asks_first_and_changes_nothing_when_told_no(services, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    applied = udl_submission(services, tmp_path, name="Ben Brown")
    link = assign(services, applied.submission_id)
    runner = CliRunner()
    refused = runner.invoke(app, ["review", "relink"], input="n\n")
    assert refused.exit_code == 2 and "nothing changed" in refused.output
    open_assignment(services, link.token, now=utcnow())
    replaced = runner.invoke(app, ["review", "relink", "--yes"])
    assert replaced.exit_code == 0 and "1 review link(s) replaced" in replaced.output
    with pytest.raises(AccessDenied):
        open_assignment(services, link.token, now=utcnow())
