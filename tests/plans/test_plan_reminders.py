"""The plan's stage: target dates stored, and reminders emailed 7 and 1 days before, each once, linking to the draft."""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import select

from credflow.db.models import Applicant, PlanTargetRow
from credflow.plans.stage import due_plan_reminders, save_plan, send_plan_reminders
from tests.utils.review_cycle import CRED, NOW, decided_submission, ready_submission


def ana(services) -> str:
    with services.db.session() as session:
        applicant_id = session.scalar(select(Applicant.id))
        assert applicant_id is not None
        return applicant_id


def plan_mails(services) -> list[tuple[str, str]]:
    """(subject, plain text) of every plan reminder in the outbox."""
    found = []
    for eml in sorted(Path(services.settings.resolved_outbox_dir).glob("plan_reminder-*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        found.append((str(message["Subject"]), body.get_content()))
    return found


def test_reminders_go_out_seven_and_one_days_before_each_once(services, tmp_path):
    decided_submission(services, tmp_path, not_yet={"facilitator_moves": "not_yet"})  # revising: the plan is open
    today = NOW.date()
    save_plan(
        services,
        ana(services),
        CRED,
        {"facilitation_plan": today + timedelta(days=7), "reflection": today + timedelta(days=1)},
        now=NOW,
    )
    first = send_plan_reminders(services, now=NOW)
    assert len(first.sent) == 2 and first.failed == ()
    assert send_plan_reminders(services, now=NOW + timedelta(hours=6)).sent == ()  # the same day: nothing new
    assert send_plan_reminders(services, now=NOW + timedelta(days=3)).sent == ()  # between the two: nothing
    eve = send_plan_reminders(services, now=NOW + timedelta(days=6))
    assert [key.rsplit(":", 1)[1] for key in eve.sent] == ["1"]  # the plan's eve; the reflection's date is past
    assert send_plan_reminders(services, now=NOW + timedelta(days=7)).sent == ()
    mails = plan_mails(services)
    assert len(mails) == 3
    subjects = sorted(subject for subject, _ in mails)
    title = '"Preparing to Facilitate the Anchoring Phenomenon Routine"'
    assert subjects == [
        f'Your plan: "Facilitation plan" for {title} is due in 7 days',
        f'Your plan: "Facilitation plan" for {title} is due tomorrow',
        f'Your plan: "Reflection" for {title} is due tomorrow',
    ]
    draft = f"{services.settings.public_url}/me/credentials/{CRED}/draft"
    for _, text in mails:
        assert f"Open your draft: {draft}" in text and f"{draft[: -len('/draft')]}/plan" in text
        assert "credflow " not in text  # a link to the portal, never a terminal command
    with services.db.session() as session:
        assert all(row.reminded_at is not None for row in session.scalars(select(PlanTargetRow)))


def test_a_changed_date_gets_its_own_reminders(services, tmp_path):
    decided_submission(services, tmp_path, not_yet={"facilitator_moves": "not_yet"})
    who, today = ana(services), NOW.date()
    save_plan(services, who, CRED, {"reflection": today + timedelta(days=5)}, now=NOW)
    assert len(send_plan_reminders(services, now=NOW).sent) == 1
    save_plan(services, who, CRED, {"reflection": today + timedelta(days=6)}, now=NOW)
    again = send_plan_reminders(services, now=NOW)
    assert len(again.sent) == 1 and (today + timedelta(days=6)).isoformat() in again.sent[0]


def test_no_reminders_while_the_attempt_is_with_reviewers(services, tmp_path):
    ready_submission(services, tmp_path)  # awaiting review: nothing to collect
    save_plan(services, ana(services), CRED, {"reflection": NOW.date() + timedelta(days=1)}, now=NOW)
    assert due_plan_reminders(services, now=NOW) == []
    assert send_plan_reminders(services, now=NOW).sent == () and plan_mails(services) == []
