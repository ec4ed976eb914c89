"""Tasks run alone through ``.fn()`` with installed services: each does its one step, and mail goes out once."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prefect.logging import disable_run_logger

from cli import demo_evidence as ev
from credflow.db.models import IssuedBadge, utcnow
from credflow.intake.rules import IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.notifications.rules import BadgeNotice, Delivery, Notice
from credflow.resubmission.rules import ChainNotice
from credflow.submissions import get_submission, transition
from credflow.validation.stage import run_validation
from tasks.decision import aggregate_verdicts
from tasks.issuance import badge_sweep_task, issue_badges, record_earned_hours
from tasks.notifications import badge_notice, chain_notice, notify_applicant
from tasks.resubmission import resubmission_sweep
from tasks.runtime import use_services
from tasks.validation import validate_evidence
from tests.utils import badfiles
from tests.utils.builders import anchoring_request, applicant
from tests.utils.review_world import assign


@pytest.fixture
def installed(services) -> Iterator:
    """The test's services installed for tasks, with Prefect's run logger quiet outside a run."""
    with use_services(services), disable_run_logger():
        yield services


def _mails(services, kind: str) -> int:
    return len(list(services.settings.resolved_outbox_dir.glob(f"{kind}-*.eml")))


def _earned(services, tmp_path) -> str:
    """An anchoring-phenomenon submission with two all-Met reviews in, decided by the decision task."""
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    assert run_validation(services, sid).state is State.AWAITING_REVIEW
    with services.db.session() as session:
        transition(session, get_submission(session, sid), State.IN_REVIEW, actor="test")
    credential = services.catalog.get("openscied-anchoring-phenomenon")
    met = {c.key: {"verdict": "met", "comment": ""} for c in credential.criteria}
    for _ in range(credential.reviewers_per_submission):
        assign(services, sid, state="submitted", scores=met, completed_at=utcnow())
    assert aggregate_verdicts.fn(sid).state is State.EARNED
    return sid


def test_validate_evidence_moves_a_complete_submission_on_and_returns_a_bad_one(installed, tmp_path):
    good = submit(installed, anchoring_request(tmp_path)).submission_id
    assert validate_evidence.fn(good) is State.AWAITING_REVIEW
    assert validate_evidence.fn(good) is State.AWAITING_REVIEW  # a re-run reports, and moves nothing

    bomb = badfiles.zip_bomb_docx(tmp_path)
    bad = IntakeRequest(
        applicant=applicant("Bo Bad"),
        credential_id="udl-level-1",
        answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
        uploads=[Upload("udl_lesson_plan", "plan.docx", io.BytesIO(bomb.read_bytes()))],
    )
    bad_id = submit(installed, bad).submission_id
    assert validate_evidence.fn(bad_id) is State.RETURNED
    with installed.db.session() as session:
        assert get_submission(session, bad_id).problems


def test_send_notice_emails_the_applicant_once(installed, tmp_path):
    sid = submit(installed, anchoring_request(tmp_path)).submission_id
    assert notify_applicant.fn(sid, Notice.RECEIVED).delivery is Delivery.SENT
    assert notify_applicant.fn(sid, Notice.RECEIVED).delivery is Delivery.ALREADY_SENT  # a retry or re-run
    assert _mails(installed, "received") == 1


def test_issue_badges_issues_and_sends_nothing_the_flow_then_notifies_each_badge_once(installed, tmp_path):
    sid = _earned(installed, tmp_path)
    report = issue_badges.fn(sid)
    assert report.micro is not None and len(report.issued) == 1  # the anchoring badge starts a pathway
    assert issue_badges.fn(sid).micro == report.micro  # never twice
    assert list(installed.settings.resolved_outbox_dir.glob("badge_*.eml")) == []  # notices are the flow's loop

    for _ in range(2):
        assert record_earned_hours.fn(sid) == 3
        for badge_id in report.issued:
            badge_notice.fn(badge_id, BadgeNotice.ISSUED)
    assert _mails(installed, "badge_issued") == len(report.issued)


def test_no_badge_or_hours_before_an_earned_decision(installed, tmp_path):
    sid = submit(installed, anchoring_request(tmp_path)).submission_id
    assert issue_badges.fn(sid).micro is None
    assert record_earned_hours.fn(sid) is None


def test_the_badge_sweep_sends_nothing_the_flow_then_reminds_each_due_badge_once(installed, tmp_path):
    sid = _earned(installed, tmp_path)
    micro = issue_badges.fn(sid).micro
    assert micro is not None
    with installed.db.session() as session:
        session.get_one(IssuedBadge, micro).valid_until = utcnow() + timedelta(days=30)  # due its reminder

    for _ in range(2):  # the second time: a re-run of the whole flow after it died before the reminder
        swept = badge_sweep_task.fn()
        assert swept.remind == (micro,)
        assert _mails(installed, "badge_expiring") == 0  # reminders are the flow's loop
    for _ in range(2):  # a retried notice task
        badge_notice.fn(micro, BadgeNotice.EXPIRING)
    assert _mails(installed, "badge_expiring") == 1
    assert badge_sweep_task.fn().remind == ()  # reminded: a re-run sends nothing new
    assert _mails(installed, "badge_expiring") == 1


def test_the_resubmission_sweep_sends_nothing_the_flow_then_sends_each_chain_notice_once(installed, tmp_path):
    waiting = {}
    for name, days in (("Rita Reminded", 55), ("Carl Closed", 61)):  # a 60-day window ended "not yet" days ago
        sid = submit(installed, anchoring_request(tmp_path, who=applicant(name))).submission_id
        with installed.db.session() as session:
            sub = get_submission(session, sid)
            for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
                transition(session, sub, state, actor="test", now=utcnow() - timedelta(days=days))
        waiting[name] = sid

    swept = resubmission_sweep.fn()
    assert (swept.remind, swept.closed) == ((waiting["Rita Reminded"],), (waiting["Carl Closed"],))
    assert _mails(installed, "resubmit_reminder") + _mails(installed, "chain_closed") == 0  # the flow's loop
    with installed.db.session() as session:
        assert get_submission(session, waiting["Carl Closed"]).state == State.CLOSED  # closed by the sweep

    def notices(swept) -> None:  # the review-sweep flow's loop
        for sid in swept.remind:
            chain_notice.fn(sid, ChainNotice.REMINDER)
        for sid in swept.closed:
            chain_notice.fn(sid, ChainNotice.CLOSED, reason="window")

    notices(swept)
    notices(swept)  # retried notice tasks
    assert (_mails(installed, "resubmit_reminder"), _mails(installed, "chain_closed")) == (1, 1)
    again = resubmission_sweep.fn()  # a re-run: the reminder went out, the chain is closed already
    assert (again.remind, again.closed) == ((), ())
    notices(again)
    assert (_mails(installed, "resubmit_reminder"), _mails(installed, "chain_closed")) == (1, 1)
