"""Intake: idempotent submissions, the access window, attempt chains, and nothing left behind on refusal."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from credflow.db.models import EvidenceItem, Submission
from credflow.errors import IntakeRefused
from credflow.intake.rules import ApplicantInfo, IdempotencyKeyReused, IntakeRequest, Upload, access_ends
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.submissions import get_submission, transition
from tests.utils.builders import anchoring_request, applicant


def _objects(services) -> list:
    root = services.settings.resolved_storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _count(services) -> int:
    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission))


def test_a_submission_is_recorded_with_its_evidence(services, tmp_path):
    result = submit(services, anchoring_request(tmp_path))
    assert result.created and result.state == "received" and result.attempt == 1
    with services.db.session() as session:
        sub = get_submission(session, result.submission_id)
        assert sub.applicant.email == "ana.alvarez@example.org"
        [item] = sub.evidence
        assert item.original_name == "plan.pdf" and item.display_name == "plan.pdf"
        assert item.storage_key.startswith("evidence/") and "plan" not in item.storage_key
        assert len(item.sha256) == 64 and item.size > 0
    assert len(_objects(services)) == 1


def test_the_same_submission_twice_is_one_submission(services, tmp_path):
    first = submit(services, anchoring_request(tmp_path))
    again = submit(services, anchoring_request(tmp_path))
    assert again.submission_id == first.submission_id and not again.created
    assert _count(services) == 1
    assert len(_objects(services)) == 1  # the duplicate's bytes were not kept


def test_a_client_key_makes_the_submission_idempotent_and_refuses_other_content(services, tmp_path):
    first = submit(services, anchoring_request(tmp_path, key="k-1", title="one"))
    again = submit(services, anchoring_request(tmp_path, key="k-1", title="one"))
    assert again.submission_id == first.submission_id and not again.created
    with pytest.raises(IdempotencyKeyReused, match="already used for a submission with other content"):
        submit(services, anchoring_request(tmp_path, key="k-1", title="two"))  # other bytes, same file name
    assert _count(services) == 1 and len(_objects(services)) == 1
    other = submit(
        services, anchoring_request(tmp_path, key="k-1", who=applicant("Bo Chen"), title="three")
    )  # another applicant's same key is their own submission
    assert other.submission_id != first.submission_id


def test_access_window_is_enforced_with_a_clear_message(services, tmp_path):
    now = datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(IntakeRefused, match=r"ended on 2026-11-01: enrolled on 2023-11-01 with 3 years"):
        submit(services, anchoring_request(tmp_path, enrolled_on=date(2023, 11, 1)), now=now)
    assert _count(services) == 0 and _objects(services) == []
    ok = submit(services, anchoring_request(tmp_path, enrolled_on=date(2023, 11, 24)), now=now)
    assert ok.created
    assert access_ends(date(2024, 2, 29), 3) == date(2027, 2, 28)


def test_the_first_enrolment_date_is_kept(services, tmp_path):
    now = datetime(2026, 11, 23, tzinfo=UTC)
    first = submit(services, anchoring_request(tmp_path, enrolled_on=date(2023, 11, 24)), now=now)
    with services.db.session() as session:
        sub = get_submission(session, first.submission_id)
        transition(session, sub, State.VALIDATING, actor="t")
        transition(session, sub, State.RETURNED, actor="t")
    later = now + timedelta(days=10)
    # A later send claiming a fresh enrolment does not extend the window.
    with pytest.raises(IntakeRefused, match="enrolled on 2023-11-24"):
        submit(services, anchoring_request(tmp_path, title="v2", enrolled_on=date(2026, 11, 1)), now=later)


def _move(services, submission_id, *states):
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        for state in states:
            transition(session, sub, state, actor="test")


def test_a_correction_after_return_keeps_the_attempt_and_links_the_chain(services, tmp_path):
    first = submit(services, anchoring_request(tmp_path, title="v1"))
    with pytest.raises(IntakeRefused, match="still received"):
        submit(services, anchoring_request(tmp_path, title="v2"))
    _move(services, first.submission_id, State.VALIDATING, State.RETURNED)
    second = submit(services, anchoring_request(tmp_path, title="v2"))
    assert second.attempt == 1 and second.previous_id == first.submission_id
    with services.db.session() as session:
        assert get_submission(session, first.submission_id).state == "resubmitted"


def test_not_yet_costs_an_attempt_up_to_the_limit(services, tmp_path):
    previous = submit(services, anchoring_request(tmp_path, title="a1"))
    for attempt in (2, 3):
        _move(
            services,
            previous.submission_id,
            State.VALIDATING,
            State.AWAITING_REVIEW,
            State.IN_REVIEW,
            State.NOT_YET,
        )
        previous = submit(services, anchoring_request(tmp_path, title=f"a{attempt}"))
        assert previous.attempt == attempt
    _move(services, previous.submission_id, State.VALIDATING, State.AWAITING_REVIEW, State.IN_REVIEW, State.NOT_YET)
    with pytest.raises(IntakeRefused, match="all 3 attempts"):
        submit(services, anchoring_request(tmp_path, title="a4"))


@pytest.mark.parametrize(
    ("applicant_info", "message"),
    [
        (ApplicantInfo(name="", email="a@example.org", organisation="X"), "name is empty"),
        (ApplicantInfo(name="A", email="not-an-email", organisation="X"), "not an email address"),
        (ApplicantInfo(name="A", email="a@example.org", organisation=" "), "organisation is empty"),
    ],
)
def test_bad_applicant_details_are_refused(services, applicant_info, message):
    request = IntakeRequest(applicant=applicant_info, credential_id="udl-level-1", answers={})
    with pytest.raises(IntakeRefused, match=message):
        submit(services, request)


def test_an_unknown_credential_is_refused_listing_the_known_ones(services):
    request = IntakeRequest(applicant=applicant(), credential_id="nope", answers={})
    with pytest.raises(IntakeRefused, match="known: dp-choosing-learning-strategies"):
        submit(services, request)


def test_files_over_the_upload_cap_are_refused_and_not_kept(make_settings, tmp_path):
    from credflow.services import build_services

    services = build_services(make_settings(ingest_max_bytes=1000))
    request = anchoring_request(tmp_path, extra=[Upload("dqb_artifact", "big.jpg", io.BytesIO(b"x" * 5000))])
    with pytest.raises(IntakeRefused, match=r"'big\.jpg' is larger than the upload cap"):
        submit(services, request)
    assert _objects(services) == [] and _count(services) == 0
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceItem)) == 0


def test_submissions_are_found_by_a_unique_prefix(services, tmp_path):
    from credflow.errors import NotFoundError
    from credflow.submissions import resolve_id

    sid = submit(services, anchoring_request(tmp_path)).submission_id
    with services.db.session() as session:
        assert resolve_id(session, sid[:8]) == sid
        assert resolve_id(session, sid.upper()) == sid
        with pytest.raises(NotFoundError, match="at least its first 6"):
            resolve_id(session, sid[:3])
        with pytest.raises(NotFoundError, match="no submission"):
            resolve_id(session, "ffffffffff")
