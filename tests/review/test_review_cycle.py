"""The review cycle in the domain: pool import, assignment, scoring, adjudication, decisions, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from credflow.assignment.stage import assign_reviewers
from credflow.db.models import Decision, Event, Reviewer
from credflow.decision.rules import is_backread
from credflow.decision.stage import aggregate
from credflow.errors import ConfigurationError
from credflow.lifecycle import State
from credflow.notifications.rules import ReviewerMail
from credflow.notifications.stage import review_link, send_reviewer_mail
from credflow.review.links import AccessDenied
from credflow.review.rules import ScoringError
from credflow.review.stage import decline, open_assignment, submit_review, sweep_deadlines
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import export_pool
from credflow.submissions import get_submission
from tests.utils.builders import applicant
from tests.utils.review_cycle import CRED, NOW, POOL, assignments_of, load_pool, ready_submission, review_scores


def test_pool_import_updates_without_losing_history(services):
    report = load_pool(services)
    assert len(report.added) == 6
    changed = POOL.replace("max_active: 3, lead: true", "max_active: 4, lead: true").replace(
        "  - {name: Max Uncal, email: max@review.org, organisation: Eastside, certified_for: ["
        + CRED
        + "], max_active: 3}\n",
        "",
    )
    again = load_pool(services, changed)
    assert again.updated == ["ola@review.org"] and again.left_pool == ["max@review.org"] and len(again.unchanged) == 4
    with services.db.session() as session:
        max_row = session.scalar(select(Reviewer).where(Reviewer.email == "max@review.org"))
        assert max_row is not None and not max_row.in_pool  # kept, with its history
        kinds = [e.kind for e in session.scalars(select(Event).where(Event.submission_id.is_(None)).order_by(Event.id))]
        assert kinds.count("reviewer_added") == 6 and "reviewer_updated" in kinds and "reviewer_left_pool" in kinds
        exported = export_pool(session)
    assert "max@review.org" not in exported and "ola@review.org" in exported
    with pytest.raises(ConfigurationError, match=r"reviewers\.0\.certified_for: unknown micro-credentials \['nope'\]"):
        parse_pool(
            "reviewers: [{name: A, email: a@b.org, organisation: O, certified_for: [nope]}]", catalog=services.catalog
        )


def test_assignment_respects_conflicts_and_sends_private_links(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path)  # Ana is from Riverside Unified, like Lee
    round_ = assign_reviewers(services, now=NOW)
    assert len(round_.assigned) == 2 and not round_.shortfalls
    reviews = assignments_of(services, sid)
    emails = {a.reviewer.email for a in reviews}
    assert "lee@review.org" not in emails  # same organisation
    assert "max@review.org" not in emails  # never calibrated
    with services.db.session() as session:
        assert get_submission(session, sid).state == "in_review"
    # 5 business days from Monday 23 November 2026, Thanksgiving (Thursday 26) skipped: Tuesday 1 December.
    assert reviews[0].due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    send_reviewer_mail(services, reviews[0].id, ReviewerMail.ASSIGNMENT)
    send_reviewer_mail(services, reviews[0].id, ReviewerMail.ASSIGNMENT)
    mails = list(services.settings.resolved_outbox_dir.glob("assignment*.eml"))
    assert len(mails) == 1
    # A reviewer's answer goes to the program's support address (OpenSciEd's email), not the no-reply sender.
    assert "Reply-To: credentials@openscied.org" in mails[0].read_text()
    link = review_link(services, reviews[0])
    assert link in mails[0].read_text().replace("=\n", "")
    token = link.rsplit("/", 1)[1]
    assert open_assignment(services, token, now=NOW).id == reviews[0].id
    with pytest.raises(AccessDenied, match="not valid"):
        open_assignment(services, token[:-2] + "xx", now=NOW)
    with pytest.raises(AccessDenied, match="expired"):
        open_assignment(services, token, now=NOW + timedelta(days=30))


def test_an_infeasible_round_explains_each_candidate(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path, who=applicant("Rita Lake", org="Lakeside ISD"))
    with services.db.session() as session:
        for reviewer in session.scalars(
            select(Reviewer).where(Reviewer.email.in_(["sam@review.org", "ola@review.org", "kim@review.org"]))
        ):
            reviewer.max_active = 0
    round_ = assign_reviewers(services, now=NOW)
    text = round_.shortfalls[sid]
    assert "conflict_organisation" in text or "same organisation" in text
    assert "calibration" in text and "capacity" in text
    # Round two differs (the reviewer found in round one is now "already assigned"); round three
    # repeats round two's reasons and is not logged again.
    second = assign_reviewers(services, now=NOW).shortfalls[sid]
    assert "excluded" in second
    assert assign_reviewers(services, now=NOW).shortfalls[sid] == second
    with services.db.session() as session:
        logged = session.scalars(select(Event).where(Event.kind == "assignment_shortfall").order_by(Event.id)).all()
    assert [e.detail["explanation"] for e in logged] == [text, second]


def test_split_verdicts_go_to_a_lead_whose_adjudication_decides(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    first, second = assignments_of(services, sid)
    submit_review(services, first.id, review_scores(services), now=NOW)
    assert aggregate(services, sid, now=NOW).waiting_for == 1
    with pytest.raises(ScoringError, match="comment is required"):
        submit_review(
            services, second.id, {**review_scores(services), "facilitator_moves": {"verdict": "not_yet"}}, now=NOW
        )
    submit_review(services, second.id, review_scores(services, {"facilitator_moves": "not_yet"}), now=NOW)
    outcome = aggregate(services, sid, now=NOW)
    assert outcome.state is State.ADJUDICATING and outcome.new_assignment
    [adjudication] = assignments_of(services, sid, "adjudication")
    assert adjudication.criteria == ["facilitator_moves"] and adjudication.reviewer.is_lead
    with pytest.raises(ScoringError):  # only the split criterion may be scored
        submit_review(services, adjudication.id, review_scores(services), now=NOW)
    submit_review(services, adjudication.id, {"facilitator_moves": {"verdict": "met", "comment": ""}}, now=NOW)
    decided = aggregate(services, sid, now=NOW)
    assert decided.state is State.EARNED
    with services.db.session() as session:
        decision = session.scalar(select(Decision).where(Decision.submission_id == sid))
        assert decision.outcome == "earned"
        assert decision.criteria["facilitator_moves"]["source"] == "adjudication"
        assert decision.criteria["facilitator_moves"]["adjudication"] == adjudication.id
        assert decision.criteria["purpose_explained"] == {
            "verdict": "met",
            "source": "reviews",
            "reviews": [first.id, second.id],
        }
    assert aggregate(services, sid, now=NOW).decision_id == decided.decision_id  # idempotent


def test_a_single_not_yet_agreed_by_both_means_not_yet(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    for assignment in assignments_of(services, sid):
        submit_review(services, assignment.id, review_scores(services, {"reflection_on_learners": "not_yet"}), now=NOW)
    assert aggregate(services, sid, now=NOW).state is State.NOT_YET


def test_backread_sample_is_deterministic_and_near_the_share():
    sample = [is_backread(f"{i:032x}", 0.10) for i in range(4000)]
    assert 0.08 < sum(sample) / len(sample) < 0.12
    assert sample == [is_backread(f"{i:032x}", 0.10) for i in range(4000)]


def test_deadlines_remind_once_then_withdraw_revoke_and_reassign(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    first, _ = assignments_of(services, sid)
    token = review_link(services, first).rsplit("/", 1)[1]
    assert sweep_deadlines(services, now=NOW + timedelta(days=1)).remind == []  # Tuesday: too early
    # Due Tuesday 1 December (Thanksgiving, Thursday 26, does not count): 2 business days before is Friday 27.
    assert sweep_deadlines(services, now=NOW + timedelta(days=3)).remind == []  # Thanksgiving: still too early
    friday = NOW + timedelta(days=4)  # the reminder goes on Friday
    reminded = sweep_deadlines(services, now=friday)
    assert first.id in reminded.remind
    assert sweep_deadlines(services, now=friday + timedelta(hours=5)).remind == []  # once
    for _ in range(2):  # a retried send is still one email
        send_reviewer_mail(services, first.id, ReviewerMail.REMINDER)
    assert len(list(services.settings.resolved_outbox_dir.glob("reminder-*.eml"))) == 1
    late = NOW + timedelta(days=9)  # Wednesday 2 December, the day after the deadline
    swept = sweep_deadlines(services, now=late)
    assert first.id in swept.withdrawn and sid in swept.submissions
    with pytest.raises(AccessDenied, match="no longer active"):
        open_assignment(services, token, now=late)
    round_ = assign_reviewers(services, now=late)
    assert len(round_.assigned) == 2  # both overdue reviews go to reviewers not used before
    new = {a.reviewer_id for a in assignments_of(services, sid) if a.state == "active"}
    old = {a.reviewer_id for a in assignments_of(services, sid) if a.state == "withdrawn"}
    assert new and not new & old


def test_decline_revokes_the_link_and_frees_the_slot(services, tmp_path):
    load_pool(services)
    sid = ready_submission(services, tmp_path)
    assign_reviewers(services, now=NOW)
    first, _ = assignments_of(services, sid)
    with pytest.raises(ScoringError, match="say why"):
        decline(services, first.id, "  ", now=NOW)
    decline(services, first.id, "I coached this teacher last year", now=NOW)
    assert [a.state for a in assignments_of(services, sid)].count("declined") == 1
    round_ = assign_reviewers(services, now=NOW)
    assert len(round_.assigned) == 1
    replacement = next(a for a in assignments_of(services, sid) if a.id == round_.assigned[0])
    assert replacement.reviewer_id != first.reviewer_id
