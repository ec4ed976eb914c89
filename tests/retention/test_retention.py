"""Evidence retention: only what is due goes (bytes, not records); open chains keep their files; dry runs do nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cli import demo_evidence as ev
from credflow.db.models import Decision, EvidenceItem, Submission, Transcode, utcnow
from credflow.errors import ConfigurationError, IntakeRefused
from credflow.intake.rules import CarryOver, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.retention.stage import sweep_retention
from credflow.services import build_services
from credflow.validation.stage import run_validation
from tests.utils.builders import anchoring_answers, applicant, pdf_bytes
from tests.utils.review_cycle import CRED, NOW, load_pool, review_and_decide, to_review
from tests.utils.review_world import assign
from web.app import create_app

DUE = NOW + timedelta(days=400)  # the default retention is 365 days


@pytest.fixture
def db_services(make_settings, database_url):
    """Services on SQLite and on PostgreSQL."""
    svc = build_services(make_settings(database_url=database_url))
    yield svc
    svc.close()


def _items(services, sid: str) -> list[EvidenceItem]:
    with services.db.session() as session:
        return list(session.scalars(select(EvidenceItem).where(EvidenceItem.submission_id == sid)))


def _stored(services, sid: str) -> list[bool]:
    return [services.store.exists(item.storage_key) for item in _items(services, sid)]


def _photo_sha(services, sid: str) -> str:
    return next(i.sha256 for i in _items(services, sid) if i.requirement_key == "dqb_artifact")


def _resubmit(services, tmp_path, previous: str, who, *, title: str, carry: str | None, now) -> str:
    request = IntakeRequest(
        applicant=who,
        credential_id=CRED,
        answers=anchoring_answers(),
        uploads=[Upload("facilitation_plan", "plan.pdf", io.BytesIO(pdf_bytes(tmp_path, title)))],
        carried=[CarryOver("dqb_artifact", carry)] if carry else [],
        previous_id=previous,
    )
    return submit(services, request, now=now).submission_id


def _returned(services, tmp_path, who) -> str:
    photo = ev.photo(tmp_path / "board.jpg").read_bytes()
    request = IntakeRequest(
        applicant=who,
        credential_id=CRED,
        answers=anchoring_answers(),
        uploads=[Upload("dqb_artifact", "board.jpg", io.BytesIO(photo))],  # the plan is missing
    )
    sid = submit(services, request, now=NOW).submission_id
    assert run_validation(services, sid, now=NOW).state is State.RETURNED
    return sid


@pytest.fixture
def world(db_services, tmp_path):
    """Attempts in every state that matters, decided or stopped at NOW."""
    services = db_services
    load_pool(services)
    ana, ben, cy, dee, eve = (
        applicant(n, org=o)
        for n, o in [("Ana Alvarez", "A"), ("Ben Okafor", "B"), ("Cy Diallo", "C"), ("Dee Moss", "D"), ("Eve Li", "E")]
    )
    earned = to_review(services, tmp_path, ana)
    assert review_and_decide(services, earned, name=ana.name) is State.EARNED
    open_chain = to_review(services, tmp_path, ben)
    assert review_and_decide(services, open_chain, not_yet={"plan_models_routine": "not_yet"}) is State.NOT_YET
    first = to_review(services, tmp_path, cy)
    assert review_and_decide(services, first, not_yet={"plan_models_routine": "not_yet"}) is State.NOT_YET
    second = _resubmit(
        services, tmp_path, first, cy, title="v2", carry=_photo_sha(services, first), now=NOW + timedelta(days=1)
    )
    assert run_validation(services, second, now=NOW + timedelta(days=1)).state is State.AWAITING_REVIEW
    from credflow.assignment.stage import assign_reviewers

    assign_reviewers(services, now=NOW + timedelta(days=1))
    assert review_and_decide(services, second, not_yet={"plan_models_routine": "not_yet"}) is State.NOT_YET
    in_review = to_review(services, tmp_path, dee)
    returned = _returned(services, tmp_path, eve)
    return {
        "services": services,
        "earned": earned,
        "open_chain": open_chain,
        "superseded": first,
        "carried_to": second,
        "in_review": in_review,
        "returned": returned,
        "cy": cy,
        "eve": eve,
    }


def test_only_attempts_ended_longer_ago_than_the_period_lose_their_files(world, tmp_path):
    services = world["services"]
    due = {world["earned"], world["superseded"], world["returned"]}
    kept = {world["open_chain"], world["carried_to"], world["in_review"]}
    assert sweep_retention(services, now=NOW + timedelta(days=300)).attempts == ()

    dry = sweep_retention(services, now=DUE, dry_run=True)
    assert {a.submission_id for a in dry.attempts} == due and dry.files == 5
    for sid in due | kept:
        assert all(_stored(services, sid)) and all(i.purged_at is None for i in _items(services, sid))

    result = sweep_retention(services, now=DUE)
    assert {a.submission_id for a in result.attempts} == due and result.files == 5
    for sid in due:
        items = _items(services, sid)
        assert items and not any(_stored(services, sid))  # the bytes went, the records stayed
        assert all(i.purged_at == DUE and len(i.sha256) == 64 for i in items)
    for sid in kept:
        assert all(_stored(services, sid)) and all(i.purged_at is None for i in _items(services, sid))
    with services.db.session() as session:
        assert session.get_one(Submission, world["earned"]).state == "earned"
        assert session.scalar(select(Decision).where(Decision.submission_id == world["earned"])) is not None
    assert sweep_retention(services, now=DUE + timedelta(days=1)).attempts == ()  # once

    # The open chain's carried-over photo is still there to carry over again.
    third = _resubmit(
        services, tmp_path, world["carried_to"], world["cy"], title="v3",
        carry=_photo_sha(services, world["carried_to"]), now=NOW + timedelta(days=2),
    )  # fmt: skip
    assert all(_stored(services, third))
    # A correction of a purged attempt must send the file again.
    with pytest.raises(IntakeRefused, match="send the file itself"):
        _resubmit(
            services, tmp_path, world["returned"], world["eve"], title="fix",
            carry=_photo_sha(services, world["returned"]), now=DUE,
        )  # fmt: skip


def test_a_review_video_shared_with_live_evidence_is_kept(world):
    services = world["services"]
    photo = _photo_sha(services, world["earned"])
    assert photo == _photo_sha(services, world["open_chain"])  # the same bytes, sent by two applicants
    keys = ["transcodes/shared.mp4", "transcodes/shared.jpg"]
    for key in keys:
        services.store.put_stream(key, io.BytesIO(b"review version"))
    with services.db.session() as session:
        session.add(Transcode(input_sha256=photo, state="done", output_key=keys[0], poster_key=keys[1]))
    sweep_retention(services, now=DUE)
    assert all(services.store.exists(key) for key in keys)
    with services.db.session() as session:
        assert session.scalar(select(Transcode).where(Transcode.input_sha256 == photo)) is not None


def test_retention_zero_keeps_everything_and_nonsense_is_refused(make_settings, tmp_path):
    with pytest.raises(ConfigurationError, match=r"CREDFLOW_EVIDENCE_RETENTION_DAYS: .*0 to keep evidence forever"):
        make_settings(evidence_retention_days=-5)
    with pytest.raises(ConfigurationError, match="CREDFLOW_EVIDENCE_RETENTION_DAYS"):
        make_settings(evidence_retention_days="a year")
    services = build_services(make_settings(evidence_retention_days=0))
    try:
        load_pool(services)
        sid = to_review(services, tmp_path)
        assert review_and_decide(services, sid) is State.EARNED
        result = sweep_retention(services, now=NOW + timedelta(days=3650))
        assert result.retention_days == 0 and result.attempts == ()
        assert all(_stored(services, sid))
        short = build_services(make_settings(evidence_retention_days=30))
        try:
            assert {a.submission_id for a in sweep_retention(short, now=NOW + timedelta(days=31)).attempts} == {sid}
        finally:
            short.close()
    finally:
        services.close()


def test_the_review_page_says_a_purged_file_was_removed(services, tmp_path):
    load_pool(services)
    sid = to_review(services, tmp_path)
    assert review_and_decide(services, sid) is State.EARNED
    sweep_retention(services, now=DUE)
    link = assign(services, sid, role="backread")  # a back-read opened after the purge
    client = TestClient(create_app(services))
    assert client.get(link.path).status_code == 200
    for item in _items(services, sid):
        response = client.get(f"{link.path}/files/{item.id}")
        assert response.status_code == 410 and "removed under the retention policy" in response.text


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_the_retention_flow_sweeps_and_reports_counts(services, tmp_path):
    from credflow.submissions import transition
    from flows.retention import retention_sweep
    from tasks.runtime import use_services
    from tests.utils.review_cycle import evidence_request

    long_ago = utcnow() - timedelta(days=400)  # the flow reads the wall clock: this world is built on it too
    sid = submit(services, evidence_request(tmp_path), now=long_ago).submission_id
    assert run_validation(services, sid, now=long_ago).state is State.AWAITING_REVIEW
    with services.db.session() as session:  # withdrawn long ago
        transition(session, session.get_one(Submission, sid), State.WITHDRAWN, actor="t", now=long_ago)
    with use_services(services):
        assert retention_sweep(dry_run=True) == {"attempts": 1, "files": 2, "bytes": sum(
            i.size for i in _items(services, sid)), "objects": 2}  # fmt: skip
        assert all(_stored(services, sid))
        assert retention_sweep()["files"] == 2
    assert not any(_stored(services, sid))


def test_an_attempt_being_back_read_keeps_its_files(world):
    services = world["services"]
    assign(services, world["earned"], role="backread")
    swept = {a.submission_id for a in sweep_retention(services, now=DUE).attempts}
    assert world["earned"] not in swept and world["superseded"] in swept
    assert all(_stored(services, world["earned"]))
