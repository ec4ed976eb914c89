"""A flow process SIGKILLed while transcoding, aggregating, mailing or issuing is completed by a re-run, once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from cli import demo_evidence as ev
from credflow.assignment.stage import assign_reviewers
from credflow.db.models import (
    Decision,
    Event,
    InServiceHours,
    IssuedBadge,
    OutgoingMessage,
    Transcode,
    utcnow,
)
from credflow.decision.stage import aggregate
from credflow.errors import TransientError
from credflow.intake.rules import IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.media import samples
from credflow.notifications.rules import Notice
from credflow.notifications.stage import send_notice
from credflow.review.stage import submit_review
from credflow.submissions import get_submission
from credflow.transcoding.stage import _claim as claim_transcode
from flows.review import decide_submission
from flows.submission import run_submission
from tasks.runtime import use_services
from tests.utils.builders import anchoring_request, applicant
from tests.utils.review_cycle import assignments_of, load_pool, pool_yaml, ready_submission, review_scores

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 60


@pytest.fixture
def api_url(prefect_server) -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test server has no API URL"
    return str(url)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return samples.make_video(
        tmp_path_factory.mktemp("crashclip") / "clip.mp4", seconds=61, width=160, height=90, fps=10
    )


def _crash(services, tmp_path: Path, api_url: str, point: str, flow: str, sid: str, **extra_env: str) -> None:
    """Run ``flow`` for ``sid`` in a child process that SIGKILLs itself at ``point``."""
    scratch = tmp_path / f"child-{point}"
    scratch.mkdir()
    env = {
        **os.environ,
        "CREDFLOW_DATA_DIR": str(services.settings.data_dir),
        "CREDFLOW_CATALOG_DIR": str(services.settings.catalog_dir),
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(scratch / "prefect"),
        "TMPDIR": str(scratch),  # the killed transcoder's temporary folder stays in tmp_path
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.utils.crash_child", point, flow, sid],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (
        f"child exited {proc.returncode}, not killed at {point!r}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def _state(services, sid: str) -> str:
    with services.db.session() as session:
        return str(get_submission(session, sid).state)


def _count(services, model, *where) -> int:
    with services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _outbox(services) -> Counter[str]:
    """Messages in the outbox by idempotency key; each key must be exactly one .eml and one .json."""
    folder = services.settings.resolved_outbox_dir
    emls = sorted(folder.glob("*.eml"))
    metas = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    assert not list(folder.glob(".*.tmp")), "a half-written outbox file was left behind"
    assert sorted(m["eml"] for m in metas) == [p.name for p in emls]
    return Counter(m["idempotency_key"] for m in metas)


def _all_sent_once(services) -> None:
    keys = _outbox(services)
    assert all(n == 1 for n in keys.values()), keys
    with services.db.session() as session:
        rows = session.scalars(select(OutgoingMessage)).all()
        assert {r.idempotency_key: r.state for r in rows} == dict.fromkeys(keys, "sent")


def _store_files(services, prefix: str) -> list[str]:
    root = Path(services.store.root)
    folder = root / prefix
    return sorted(p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _video_request(tmp_path: Path, clip: Path) -> IntakeRequest:
    plan = ev.docx(tmp_path / "plan.docx", ["UDL plan", "Dev Patel"]).read_bytes()
    return IntakeRequest(
        applicant=applicant("Dev Patel"),
        credential_id="udl-level-1",
        answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
        uploads=[
            Upload("udl_lesson_plan", "plan.docx", io.BytesIO(plan)),
            Upload("classroom_video", "clip.mp4", io.BytesIO(clip.read_bytes())),
        ],
    )


def _reviewed(services, tmp_path: Path) -> str:
    """A submission whose two reviews (all Met) are in, not yet aggregated (on the wall clock, as the flows are)."""
    now = utcnow()
    load_pool(services, pool_yaml(now.date()))
    sid = ready_submission(services, tmp_path, now=now)
    assign_reviewers(services, now=now)
    for assignment in assignments_of(services, sid):
        submit_review(services, assignment.id, review_scores(services), now=now)
    return sid


def _assert_earned_once(services, sid: str) -> None:
    """The end state of an earned decision, each record and message exactly once."""
    assert _state(services, sid) == "earned"
    assert _count(services, Decision, Decision.submission_id == sid) == 1
    assert _count(services, IssuedBadge, IssuedBadge.submission_id == sid, IssuedBadge.kind == "micro") == 1
    with services.db.session() as session:
        sub = get_submission(session, sid)
        badges = session.scalars(select(IssuedBadge).where(IssuedBadge.applicant_id == sub.applicant_id)).all()
        pathway = [b.id for b in badges if b.kind == "pathway"]
        decision_id = session.scalar(select(Decision.id).where(Decision.submission_id == sid))
        issued_events = session.scalars(
            select(Event).where(Event.submission_id == sid, Event.kind == "badge_issued")
        ).all()
    assert len({b.idempotency_key for b in badges}) == len(badges)
    assert len(issued_events) == 1  # the event log tells of one micro badge, as there is one
    # Exactly one set of images per badge (the anchoring micro-credential also earns a pathway badge).
    assert _store_files(services, "badges") == sorted(
        f"badges/{b.id}{suffix}" for b in badges for suffix in (".png", ".svg", "-ob2.png")
    )
    # Each pathway badge's notice went out once, even when the first run died before sending it.
    assert all(_outbox(services)[f"badge_issued:{badge_id}"] == 1 for badge_id in pathway)
    assert _count(services, InServiceHours, InServiceHours.decision_id == decision_id) == 1
    _all_sent_once(services)
    assert _outbox(services)[f"result:{sid}"] == 1
    assert _count(services, OutgoingMessage, OutgoingMessage.idempotency_key == f"result:{sid}") == 1


def test_killed_while_transcoding_a_rerun_after_the_lease_finishes_it(services, tmp_path, api_url, clip):
    sid = submit(services, _video_request(tmp_path, clip)).submission_id
    _crash(services, tmp_path, api_url, "transcode", "submission", sid)

    assert _state(services, sid) == "transcoding"
    with services.db.session() as session:
        row = session.scalars(select(Transcode)).one()
        sha = row.input_sha256
        assert row.state == "running" and row.attempts == 1 and row.lease_until is not None
    assert _store_files(services, "transcodes") == [] and _store_files(services, "posters") == []
    # While the dead worker's lease runs, nobody else takes the video (the retry waits).
    with pytest.raises(TransientError, match="being transcoded"):
        claim_transcode(services, sha, "someone-else", utcnow())
    # Time passes: the lease lapses.
    with services.db.session() as session:
        session.execute(
            update(Transcode).where(Transcode.input_sha256 == sha).values(lease_until=utcnow() - timedelta(seconds=1))
        )

    with use_services(services):
        assert run_submission(sid) == "awaiting_review"  # no reviewer pool here, so it waits for one
    with services.db.session() as session:
        row = session.scalars(select(Transcode)).one()
        assert row.state == "done" and row.attempts == 2 and row.owner is None
    assert _store_files(services, "transcodes") == [f"transcodes/{sha}.mp4"]
    assert _store_files(services, "posters") == [f"posters/{sha}.jpg"]
    _all_sent_once(services)
    assert _outbox(services) == Counter({f"received:{sid}": 1})


def test_killed_after_the_mail_went_out_but_before_it_was_recorded_it_is_not_sent_twice(services, tmp_path, api_url):
    sid = submit(services, anchoring_request(tmp_path, who=applicant())).submission_id  # the flow's clock
    _crash(services, tmp_path, api_url, "mail", "submission", sid, CRASH_MAIL_KIND="received")

    key = f"received:{sid}"
    assert _outbox(services) == Counter({key: 1})  # it went out ...
    with services.db.session() as session:
        row = session.scalars(select(OutgoingMessage)).one()
        assert row.state == "sending" and row.attempts == 1  # ... and the record does not say so
    [eml] = services.settings.resolved_outbox_dir.glob("*.eml")
    written = eml.read_bytes()
    # While the dead sender's claim runs, a retry does not send.
    with pytest.raises(TransientError, match="being sent by another run"):
        send_notice(services, sid, Notice.RECEIVED)
    with services.db.session() as session:
        session.execute(
            update(OutgoingMessage)
            .where(OutgoingMessage.idempotency_key == key)
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )

    with use_services(services):
        assert run_submission(sid) == "awaiting_review"
    # The outbox names files by idempotency key: the resend found the message and wrote nothing.
    # (SendGrid would send again here: its crash window between send and record is best effort.)
    _all_sent_once(services)
    assert _outbox(services) == Counter({key: 1})
    assert eml.read_bytes() == written
    with services.db.session() as session:
        row = session.scalars(select(OutgoingMessage)).one()
        assert row.state == "sent" and row.attempts == 2


def test_killed_after_the_decision_committed_a_rerun_issues_and_writes_once(services, tmp_path, api_url):
    sid = _reviewed(services, tmp_path)
    _crash(services, tmp_path, api_url, "aggregate", "decide", sid)

    assert _state(services, sid) == "earned"
    assert _count(services, Decision, Decision.submission_id == sid) == 1
    assert _count(services, IssuedBadge) == 0
    assert not _outbox(services)

    with use_services(services):
        assert decide_submission(sid) == "earned"
        assert decide_submission(sid) == "earned"  # and once more: nothing new
    _assert_earned_once(services, sid)


def test_killed_after_the_badge_committed_a_rerun_keeps_that_badge(services, tmp_path, api_url):
    sid = _reviewed(services, tmp_path)
    assert aggregate(services, sid).decision_id
    _crash(services, tmp_path, api_url, "issue", "decide", sid)

    with services.db.session() as session:
        [badge] = session.scalars(select(IssuedBadge).where(IssuedBadge.submission_id == sid)).all()
        first_id = badge.id
    # The pathway badge the decision also earns was committed too: neither has images, mail or hours yet.
    assert _count(services, IssuedBadge, IssuedBadge.kind == "pathway") == 1
    assert _store_files(services, "badges") == []
    assert _count(services, InServiceHours) == 0
    assert not _outbox(services)

    with use_services(services):
        assert decide_submission(sid) == "earned"
    _assert_earned_once(services, sid)
    with services.db.session() as session:
        assert session.scalar(select(IssuedBadge.id).where(IssuedBadge.submission_id == sid)) == first_id
