"""The "not yet" branch: resubmit with carry-over, close after the last attempt, unlock, lapsed windows."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import EvidenceItem, IssuedBadge
from credflow.decision.stage import aggregate
from credflow.errors import IntakeRefused
from credflow.intake.rules import CarryOver, IntakeRequest, NothingChanged, Upload
from credflow.intake.stage import submit
from credflow.issuance.stage import issue_for_decision
from credflow.letters.stage import send_result
from credflow.lifecycle import State
from credflow.resubmission.rules import ChainNotice, ChainSweep
from credflow.resubmission.stage import close_if_exhausted, send_chain_notice, sweep_resubmissions, unlock
from credflow.review.stage import submit_review
from credflow.submissions import get_submission, transition
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers, applicant
from tests.utils.review_cycle import NOW, assignments_of, load_pool, review_scores


def _request(
    tmp, *, plan_title: str, previous_id: str | None = None, carry_photo_sha: str | None = None
) -> IntakeRequest:
    plan = ev.pdf(tmp / f"{plan_title}.pdf", plan_title).read_bytes()
    uploads = [Upload("facilitation_plan", "plan.pdf", io.BytesIO(plan))]
    carried = []
    if carry_photo_sha:
        carried.append(CarryOver("dqb_artifact", carry_photo_sha))
    else:
        photo = ev.photo(tmp / "board.jpg").read_bytes()
        uploads.append(Upload("dqb_artifact", "board.jpg", io.BytesIO(photo)))
    return IntakeRequest(
        applicant=applicant(), credential_id="openscied-anchoring-phenomenon", answers=anchoring_answers(),
        uploads=uploads, carried=carried, previous_id=previous_id,
    )  # fmt: skip


def _review(services, sid: str, not_yet: dict[str, str] | None, now) -> State:
    assert run_validation(services, sid, now=now).state is State.AWAITING_REVIEW
    assign_reviewers(services, now=now)
    for assignment in assignments_of(services, sid):
        if assignment.state == "active":
            submit_review(services, assignment.id, review_scores(services, not_yet), now=now)
    return aggregate(services, sid, now=now).state


def test_not_yet_then_a_resubmission_with_one_file_changed_is_earned(services, tmp_path):
    load_pool(services)
    first = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    assert _review(services, first, {"plan_models_routine": "not_yet"}, NOW) is State.NOT_YET
    send_result(services, first)
    with services.db.session() as session:
        photo_sha = session.scalars(
            select(EvidenceItem.sha256).where(
                EvidenceItem.submission_id == first, EvidenceItem.requirement_key == "dqb_artifact"
            )
        ).one()

    later = NOW + timedelta(days=10)
    again = submit(
        services, _request(tmp_path, plan_title="v2", previous_id=first, carry_photo_sha=photo_sha), now=later
    )
    assert again.attempt == 2 and again.previous_id == first
    with services.db.session() as session:
        items = {i.requirement_key: i for i in get_submission(session, again.submission_id).evidence}
        assert items["dqb_artifact"].sha256 == photo_sha  # carried over, stored under a key of its own
        assert get_submission(session, first).state == "resubmitted"
    assert _review(services, again.submission_id, None, later) is State.EARNED
    # "fresh" policy: the second attempt had other reviewers than the first
    first_reviewers = {a.reviewer_id for a in assignments_of(services, first)}
    assert not first_reviewers & {a.reviewer_id for a in assignments_of(services, again.submission_id)}
    issue_for_decision(services, again.submission_id, today=later.date())
    send_result(services, again.submission_id)
    letters = sorted(p.name.split("-")[0] for p in services.settings.resolved_outbox_dir.glob("result-*.eml"))
    assert len(letters) == 2
    with services.db.session() as session:
        assert len(session.scalars(select(IssuedBadge).where(IssuedBadge.kind == "micro")).all()) == 1


def test_a_carry_over_must_name_a_file_of_the_previous_attempt(services, tmp_path):
    first = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    with services.db.session() as session:
        sub = get_submission(session, first)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
            transition(session, sub, state, actor="t", now=NOW)
    with pytest.raises(IntakeRefused, match="send the file itself"):
        submit(services, _request(tmp_path, plan_title="v2", previous_id=first, carry_photo_sha="0" * 64), now=NOW)


def _not_yet(services, sid):
    with services.db.session() as session:
        sub = get_submission(session, sid)
        for state in (State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET):
            transition(session, sub, state, actor="t", now=NOW)


def test_three_not_yets_close_the_chain_until_an_operator_unlocks_a_fourth_attempt(services, tmp_path):
    previous = None
    for attempt in (1, 2, 3):
        result = submit(services, _request(tmp_path, plan_title=f"v{attempt}", previous_id=previous), now=NOW)
        assert result.attempt == attempt
        _not_yet(services, result.submission_id)
        previous = result.submission_id
    assert previous is not None
    assert close_if_exhausted(services, previous, now=NOW)
    with services.db.session() as session:
        assert get_submission(session, previous).state == "closed"
    assert len(list(services.settings.resolved_outbox_dir.glob("chain_closed-*.eml"))) == 1
    with pytest.raises(IntakeRefused, match="closed"):
        submit(services, _request(tmp_path, plan_title="v4", previous_id=previous), now=NOW)
    with pytest.raises(ValueError, match="needs a reason"):
        unlock(services, previous, reason=" ")
    unlock(services, previous, reason="coaching meeting held on 2026-11-20")
    fourth = submit(services, _request(tmp_path, plan_title="v4", previous_id=previous), now=NOW + timedelta(hours=1))
    assert fourth.attempt == 4


def _sweep_and_send(services, now) -> ChainSweep:
    """What the review-sweep flow does: the sweep closes lapsed chains and lists the notices due, one send each."""
    swept = sweep_resubmissions(services, now=now)
    for sid in swept.remind:
        send_chain_notice(services, sid, ChainNotice.REMINDER)
    for sid in swept.closed:
        send_chain_notice(services, sid, ChainNotice.CLOSED, reason="window")
    return swept


def test_a_lapsed_window_closes_the_chain_with_a_reminder_first(services, tmp_path):
    sid = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    _not_yet(services, sid)  # resubmission window: 60 days
    outbox = services.settings.resolved_outbox_dir
    assert _sweep_and_send(services, NOW + timedelta(days=20)).remind == ()
    assert sweep_resubmissions(services, now=NOW + timedelta(days=55)).remind == (sid,)
    assert not list(outbox.glob("resubmit_reminder-*.eml"))  # the sweep sends nothing itself
    assert _sweep_and_send(services, NOW + timedelta(days=55)).remind == (sid,)  # due until it went out
    assert _sweep_and_send(services, NOW + timedelta(days=56)).remind == ()  # once
    assert len(list(outbox.glob("resubmit_reminder-*.eml"))) == 1
    assert _sweep_and_send(services, NOW + timedelta(days=61)).closed == (sid,)
    assert _sweep_and_send(services, NOW + timedelta(days=62)) == ChainSweep((), ())  # closed once
    with services.db.session() as session:
        assert get_submission(session, sid).state == "closed"
    closed = list(outbox.glob("chain_closed-*.eml"))
    assert len(closed) == 1 and "window" in closed[0].read_text()
    with pytest.raises(IntakeRefused):
        submit(services, _request(tmp_path, plan_title="late", previous_id=sid), now=NOW + timedelta(days=62))


def test_a_chain_closed_by_a_sweep_that_died_before_sending_still_gets_its_closing_notice(services, tmp_path):
    sid = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    _not_yet(services, sid)
    outbox = services.settings.resolved_outbox_dir
    assert sweep_resubmissions(services, now=NOW + timedelta(days=61)).closed == (sid,)  # closed; the run dies here
    with services.db.session() as session:
        assert get_submission(session, sid).state == "closed"
    assert not list(outbox.glob("chain_closed-*.eml"))
    assert _sweep_and_send(services, NOW + timedelta(days=62)).closed == (sid,)  # still due: sent now
    assert _sweep_and_send(services, NOW + timedelta(days=63)).closed == ()  # and never again
    assert len(list(outbox.glob("chain_closed-*.eml"))) == 1


def test_a_resubmission_identical_to_an_earlier_attempt_is_refused_and_records_nothing(services, tmp_path):
    first = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    _not_yet(services, first)
    with pytest.raises(NothingChanged, match=f"the same as in attempt 1 \\(submission {first}\\)"):
        submit(services, _request(tmp_path, plan_title="v1", previous_id=first), now=NOW)
    # A new Idempotency-Key (the HTTP API's) makes no difference: the content is compared, not the key.
    keyed = replace(_request(tmp_path, plan_title="v1", previous_id=first), idempotency_key="retry-2")
    with pytest.raises(NothingChanged, match="nothing changed"):
        submit(services, keyed, now=NOW)
    # Nor do the files' names: the same bytes under the same requirement are the same evidence.
    renamed = _request(tmp_path, plan_title="v1", previous_id=first)
    renamed = replace(renamed, uploads=[replace(u, filename=f"new {u.filename}") for u in renamed.uploads])
    with pytest.raises(NothingChanged):
        submit(services, renamed, now=NOW)
    with services.db.session() as session:
        assert get_submission(session, first).state == "not_yet"
        assert len(session.scalars(select(EvidenceItem)).all()) == 2
    stored = [p for p in services.settings.resolved_storage_dir.rglob("*") if p.is_file()]
    assert len(stored) == 2  # the first attempt's files: the refused copies were not kept
    # A changed answer is a new attempt.
    changed = replace(_request(tmp_path, plan_title="v1", previous_id=first), answers=anchoring_answers(words=210))
    assert submit(services, changed, now=NOW).attempt == 2


def test_a_resubmission_repeating_an_older_attempt_is_refused(services, tmp_path):
    first = submit(services, _request(tmp_path, plan_title="v1"), now=NOW).submission_id
    _not_yet(services, first)
    second = submit(services, _request(tmp_path, plan_title="v2", previous_id=first), now=NOW).submission_id
    _not_yet(services, second)
    with pytest.raises(NothingChanged, match=f"attempt 1 \\(submission {first}\\)"):
        submit(services, _request(tmp_path, plan_title="v1", previous_id=second), now=NOW)
