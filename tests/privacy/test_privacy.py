"""An applicant's data on request: the export zip, erasure (what goes, what stays), the migration, the CLI."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli.main import app
from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.db.models import (
    Applicant,
    Assignment,
    Base,
    Event,
    EvidenceItem,
    IssuedBadge,
    OutgoingMessage,
    Reviewer,
    ReviewerRelation,
    Submission,
    Transcode,
    utcnow,
)
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.privacy.erase import REVOKE_REASON, ErasureRefused, erase_applicant
from credflow.privacy.export import ApplicantErased, export_applicant
from credflow.privacy.identity import UnknownApplicant
from credflow.services import build_services
from tests.utils.builders import applicant
from tests.utils.review_cycle import (
    CRED,
    NOW,
    POOL,
    assignments_of,
    evidence_request,
    load_pool,
    pool_yaml,
    review_and_decide,
    to_review,
    verify_issued,
)
from tests.utils.review_world import make_clip, udl_submission

NAME, EMAIL = "Ana Alvarez", "ana.alvarez@example.org"
LATER = NOW + timedelta(days=3)  # when the tests erase: after every fixed-clock decision
REVIEWER_NAMES = re.findall(r"name: ([^,]+),", POOL)
REVIEWER_EMAILS = re.findall(r"email: ([^,]+),", POOL)


@pytest.fixture
def db_services(make_settings, database_url):
    """Services on SQLite and on PostgreSQL."""
    svc = build_services(make_settings(database_url=database_url))
    yield svc
    svc.close()


def _earned(services, tmp_path, who=None, *, now: datetime = NOW) -> str:
    sid = to_review(services, tmp_path, who, now=now)
    assert review_and_decide(services, sid, name=(who or applicant()).name, now=now) is State.EARNED
    return sid


def _evidence(services, sid: str) -> list[EvidenceItem]:
    with services.db.session() as session:
        return list(session.scalars(select(EvidenceItem).where(EvidenceItem.submission_id == sid)))


def _rows_mentioning(services, *needles: str) -> list[str]:
    """Every row of every table whose text (JSON included) contains one of ``needles``, case-insensitively."""
    found = []
    lowered = [n.lower() for n in needles]
    with services.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    textual = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
                    if any(n in textual.lower() for n in lowered):
                        found.append(f"{table.name}.{column}: {textual[:120]}")
    return found


# --- export -----------------------------------------------------------------------------------------------------


def test_the_export_holds_every_record_and_the_files_with_their_hashes_and_no_reviewer(services, tmp_path):
    load_pool(services)
    sid = _earned(services, tmp_path)
    report = export_applicant(services, EMAIL.upper(), out=tmp_path / "out" / "ana.zip")
    assert report.submissions == 1 and report.files == 2 and report.removed == 0
    with zipfile.ZipFile(report.path) as archive:
        names = set(archive.namelist())
        assert names == {"applicant.json", f"evidence/{sid}/plan.pdf", f"evidence/{sid}/Ana Alvarez board.jpg"}
        raw = archive.read("applicant.json").decode()
        document = json.loads(raw)
        [sub] = document["submissions"]
        recorded = {item.sha256 for item in _evidence(services, sid)}
        for entry in sub["evidence"]:
            assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]
            assert entry["sha256_matches"] is True
        assert {entry["sha256"] for entry in sub["evidence"]} == recorded
    assert (report.path.stat().st_mode & 0o777) == 0o600
    assert document["applicant"] == {
        "id": document["applicant"]["id"],
        "name": NAME,
        "email": EMAIL,
        "organisation": "Riverside Unified",
        "first_seen": document["applicant"]["first_seen"],
    }
    assert document["enrolments"][0]["credential"] == CRED
    assert sub["state"] == "earned" and sub["answers"]["reflection"].startswith("As Ana Alvarez")
    decision = sub["decision"]
    assert decision["outcome"] == "earned" and all(c["verdict"] == "met" for c in decision["criteria"])
    purpose = next(c for c in decision["criteria"] if c["criterion"] == "purpose_explained")
    assert [c["by"] for c in purpose["comments"]] == ["Reviewer 1", "Reviewer 2"]
    assert {e["kind"] for e in sub["events"]} >= {"state", "review_submitted", "badge_issued"}
    assert {e["actor"] for e in sub["events"]} <= {"applicant", "pre-assessor", "assigner", "reviewer", "aggregator",
                                                   "issuer", "mailer", "pipeline", "validation"}  # fmt: skip
    [micro] = [b for b in document["badges"] if b["kind"] == "micro"]
    assert micro["ob3"]["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["inservice_hours"][0]["hours"] == 3
    assert {m["kind"] for m in document["messages"]} >= {"received", "result_earned"}
    assert all("subject" in m and "created_at" in m for m in document["messages"])
    # Blind review: no reviewer's name, email or id.
    with services.db.session() as session:
        reviewer_ids = list(session.scalars(select(Reviewer.id)))
    for secret in (*REVIEWER_NAMES, *REVIEWER_EMAILS, *reviewer_ids):
        assert secret not in raw, secret


def test_an_export_lists_files_removed_under_retention_without_their_bytes(services, tmp_path):
    load_pool(services)
    sid = _earned(services, tmp_path)
    from credflow.retention.stage import sweep_retention

    assert sweep_retention(services, now=NOW + timedelta(days=400)).files == 2
    report = export_applicant(services, EMAIL, out=tmp_path / "ana.zip")
    assert report.files == 0 and report.removed == 2
    with zipfile.ZipFile(report.path) as archive:
        assert archive.namelist() == ["applicant.json"]
        [sub] = json.loads(archive.read("applicant.json"))["submissions"]
    assert sub["id"] == sid
    assert all(
        e["file"] is None and e["removed"]["why"] == "removed under the retention policy" for e in sub["evidence"]
    )


def test_an_unknown_email_is_refused_clearly(services, tmp_path):
    with pytest.raises(UnknownApplicant, match=r"no applicant with email 'nobody@example\.org'"):
        export_applicant(services, "Nobody@example.org", out=tmp_path / "x.zip")
    with pytest.raises(UnknownApplicant, match="no applicant with email"):
        erase_applicant(services, "nobody@example.org", reason="request of 2026-11-20", now=LATER)
    assert not (tmp_path / "x.zip").exists()


# --- erasure ----------------------------------------------------------------------------------------------------


def test_erasure_deletes_the_evidence_and_every_trace_of_the_name_and_email_but_the_badge_verifies(
    db_services, tmp_path
):
    services = db_services
    load_pool(services)
    sid = _earned(services, tmp_path)
    ben = applicant("Ben Okafor", org="Northgate PD")
    other = _earned(services, tmp_path, ben)
    with services.db.session() as session:
        reviewer = session.scalars(select(Reviewer).order_by(Reviewer.email)).first()
        assert reviewer is not None
        session.add(ReviewerRelation(reviewer_id=reviewer.id, applicant_email=EMAIL, kind="coach"))
        micro = session.scalars(select(IssuedBadge).where(IssuedBadge.submission_id == sid)).one()
        badge_id = micro.id
    keys = [item.storage_key for item in _evidence(services, sid)]
    assert all(services.store.exists(key) for key in keys)
    assert _rows_mentioning(services, EMAIL, NAME)  # the scan sees them before

    report = erase_applicant(services, EMAIL, reason="request by email on 2026-11-20", now=LATER)
    assert not report.already_erased and report.submissions == (sid,) and report.evidence_files == 2
    assert report.badges_kept and badge_id in report.badges_kept and report.relations_removed == 1
    assert not any(services.store.exists(key) for key in keys)
    assert _rows_mentioning(services, EMAIL, NAME, "ana.alvarez") == []
    # Ben is untouched.
    assert _rows_mentioning(services, ben.email) and _rows_mentioning(services, "Ben Okafor")
    assert all(services.store.exists(item.storage_key) for item in _evidence(services, other))

    with services.db.session() as session:
        row = session.get_one(Applicant, report.applicant_id)
        assert (row.name, row.organisation, row.email) == ("[erased]", "[erased]", f"erased+{row.id}@erased.invalid")
        sub = session.get_one(Submission, sid)
        assert sub.state == "earned" and set(sub.answers.values()) == {"[erased]"}
        assert {i.display_name for i in sub.evidence} == {"facilitation_plan-1.pdf", "dqb_artifact-1.jpg"}
        assert all(i.purged_at is not None and len(i.sha256) == 64 for i in sub.evidence)
        badge = session.get_one(IssuedBadge, badge_id)
        assert badge.state == "active"
        credential = badge.ob3
        [erased] = session.scalars(select(Event).where(Event.kind == "applicant_erased")).all()
        assert erased.detail["applicant"] == row.id and erased.detail["reason"] == "request by email on 2026-11-20"
        recipients = set(session.scalars(select(OutgoingMessage.recipient).where(OutgoingMessage.submission_id == sid)))
    assert f"erased+{report.applicant_id}@erased.invalid" in recipients
    assert verify_issued(services, credential).verified  # the holder's credential still verifies

    again = erase_applicant(services, EMAIL, reason="request by email on 2026-11-20", now=LATER)
    assert again.already_erased and again.applicant_id == report.applicant_id and again.evidence_files == 0
    with services.db.session() as session:
        assert len(session.scalars(select(Event).where(Event.kind == "applicant_erased")).all()) == 1
    with pytest.raises(ApplicantErased, match="was erased on"):
        export_applicant(services, EMAIL, out=tmp_path / "again.zip")


def test_erasure_can_revoke_the_badges_now_or_on_a_later_erase(services, tmp_path):
    load_pool(services)
    sid = _earned(services, tmp_path)
    report = erase_applicant(services, EMAIL, reason="request of 2026-11-20", now=LATER)
    assert report.badges_revoked == ()
    later = erase_applicant(services, EMAIL, reason="revocation asked on 2026-11-21", revoke_badges=True, now=LATER)
    assert later.already_erased and len(later.badges_revoked) == 2  # the micro badge and the pathway badge
    with services.db.session() as session:
        badges = session.scalars(select(IssuedBadge).where(IssuedBadge.applicant_id == report.applicant_id)).all()
        assert {(b.state, b.revoke_reason) for b in badges} == {("revoked", REVOKE_REASON)}
        credential = next(b.ob3 for b in badges if b.submission_id == sid)
    result = verify_issued(services, credential)
    assert not result.verified and any("revoked" in e for e in result.errors)


def test_an_attempt_in_review_blocks_erasure_unless_withdrawn_and_a_not_yet_chain_is_closed(services, tmp_path):
    load_pool(services)
    first = to_review(services, tmp_path)
    assert review_and_decide(services, first, not_yet={"plan_models_routine": "not_yet"}) is State.NOT_YET
    other_cred = udl_submission(services, tmp_path, name=NAME, now=NOW)  # awaiting review, another credential
    with pytest.raises(ErasureRefused, match=rf"{other_cred.submission_id[:8]} \(awaiting_review\).*--withdraw"):
        erase_applicant(services, EMAIL, reason="request of 2026-11-20", now=LATER)
    assert all(services.store.exists(i.storage_key) for i in _evidence(services, first))  # nothing changed
    with pytest.raises(ValueError, match="leave out the applicant's name and email"):
        erase_applicant(services, EMAIL, reason="Ana Alvarez phoned", withdraw=True, now=LATER)

    report = erase_applicant(services, EMAIL, reason="request of 2026-11-20", withdraw=True, now=LATER)
    assert report.withdrawn == (other_cred.submission_id,) and report.closed == (first,)
    with services.db.session() as session:
        assert session.get_one(Submission, first).state == "closed"
        assert session.get_one(Submission, other_cred.submission_id).state == "withdrawn"
        assert session.get_one(Submission, first).state == "closed"
    assert _rows_mentioning(services, EMAIL, NAME) == []


def test_an_active_review_is_withdrawn_with_its_links(services, tmp_path):
    load_pool(services)
    sid = to_review(services, tmp_path)
    assert {a.state for a in assignments_of(services, sid)} == {"active"}
    erase_applicant(services, EMAIL, reason="request of 2026-11-20", withdraw=True, now=LATER)
    reviews = assignments_of(services, sid)
    assert {(a.state, a.token_nonce) for a in reviews} == {("withdrawn", None)}


@pytest.mark.slow  # transcodes with ffmpeg
def test_a_review_video_shared_with_another_applicant_goes_only_with_the_last_one(services, tmp_path):
    clip = make_clip(tmp_path)
    ana = udl_submission(services, tmp_path, name=NAME, clip=clip, now=NOW)
    ben = udl_submission(services, tmp_path, name="Ben Okafor", clip=clip, now=NOW)
    with services.db.session() as session:
        [transcode] = session.scalars(select(Transcode)).all()  # same bytes, one transcode
        outputs = [transcode.output_key, transcode.poster_key]
    assert all(key and services.store.exists(key) for key in outputs)
    erase_applicant(services, EMAIL, reason="request of 2026-11-20", withdraw=True, now=LATER)
    assert all(services.store.exists(key) for key in outputs if key)  # Ben's review video stays
    assert all(services.store.exists(i.storage_key) for i in _evidence(services, ben.submission_id))
    assert not any(services.store.exists(i.storage_key) for i in _evidence(services, ana.submission_id))
    erase_applicant(services, "ben.okafor@example.org", reason="request of 2026-11-21", withdraw=True, now=LATER)
    assert not any(services.store.exists(key) for key in outputs if key)
    with services.db.session() as session:
        assert session.scalars(select(Transcode)).all() == []  # the same bytes sent again are transcoded again


# --- the event log ---------------------------------------------------------------------------------------------


def test_intake_logs_the_applicant_by_id_never_by_email(services, tmp_path):
    sid = submit(services, evidence_request(tmp_path), now=NOW).submission_id
    with services.db.session() as session:
        actors = list(session.scalars(select(Event.actor).where(Event.submission_id == sid)))
        applicant_id = session.get_one(Submission, sid).applicant_id
    assert actors == [f"applicant:{applicant_id}"]


def test_migration_0004_rewrites_emails_out_of_the_log_and_keeps_it_append_only(database_url):
    db = Database(database_url)
    try:
        upgrade(db, "0003")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO applicants (id, email, name, organisation, created_at, updated_at) "
                    "VALUES ('a1', :email, 'Ana', 'Org', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"email": EMAIL},
            )
            conn.execute(
                text(
                    "INSERT INTO events (at, actor, kind, detail) VALUES "
                    "(CURRENT_TIMESTAMP, :a1, 'state', '{}'), (CURRENT_TIMESTAMP, :gone, 'state', '{}'), "
                    "(CURRENT_TIMESTAMP, 'pipeline', 'state', '{}')"
                ),
                {"a1": f"applicant:{EMAIL}", "gone": "applicant:gone@example.org"},
            )
        upgrade(db)
        with db.engine.connect() as conn:
            actors = list(conn.execute(text("SELECT actor FROM events ORDER BY id")).scalars())
        assert actors == ["applicant:a1", "applicant", "pipeline"]
        for statement in ("UPDATE events SET actor = 'forged'", "DELETE FROM events"):
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        db.dispose()


# --- the command line ------------------------------------------------------------------------------------------


def test_the_cli_exports_asks_before_erasing_and_erases_once(services, tmp_path, monkeypatch):
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    now = utcnow()  # the CLI reads the wall clock: this world is built on it too
    load_pool(services, pool_yaml(now.date()))
    sid = _earned(services, tmp_path, now=now)
    runner = CliRunner()
    out = tmp_path / "ana.zip"
    exported = runner.invoke(app, ["applicant", "export", EMAIL, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "2 evidence file(s)" in exported.output
    assert f"evidence/{sid}/plan.pdf" in zipfile.ZipFile(out).namelist()

    declined = runner.invoke(app, ["applicant", "erase", EMAIL, "--reason", "request of 2026-11-20"], input="n\n")
    assert declined.exit_code == 2 and "nothing erased" in declined.output
    assert all(services.store.exists(i.storage_key) for i in _evidence(services, sid))

    erased = runner.invoke(app, ["applicant", "erase", EMAIL, "--reason", "request of 2026-11-20", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "erased: 1 submission(s), 2 evidence file(s)" in erased.output and "badges kept" in erased.output
    assert f"prefect artifact delete submission-{sid}" in erased.output
    again = runner.invoke(app, ["applicant", "erase", EMAIL, "--reason", "request of 2026-11-20", "--yes"])
    assert again.exit_code == 0 and "already erased" in again.output
    unknown = runner.invoke(app, ["applicant", "erase", "nobody@example.org", "--reason", "r", "--yes"])
    assert unknown.exit_code == 2 and "no applicant with email 'nobody@example.org'" in unknown.output
    with services.db.session() as session:
        assert session.scalars(select(Assignment)).all()  # the reviews behind the decision stay


def test_the_portal_drafts_and_plan_are_exported_then_erased_with_their_files_and_comments(services, tmp_path):
    import io

    from credflow.db.models import CoachComment, Draft, DraftFile, PlanTargetRow
    from credflow.drafts.stage import add_comment, add_file, make_coach_link, start
    from credflow.plans.stage import save_plan

    cred = "openscied-anchoring-phenomenon"
    drafts = {}
    for email, name in ((EMAIL, NAME), ("ben@example.org", "Ben Okafor")):
        begun = start(services, email=email, credential_id=cred, name=name, organisation="Riverside", now=NOW)
        add_file(
            services,
            draft_id=begun.draft_id,
            applicant_id=begun.applicant_id,
            requirement_key="facilitation_plan",
            filename="plan.pdf",
            content_type="application/pdf",
            stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
            now=NOW,
        )
        link = make_coach_link(
            services, draft_id=begun.draft_id, applicant_id=begun.applicant_id, days=14, coach_email=None, now=NOW
        )
        add_comment(services, link.url.rsplit("/", 1)[-1], f"Good start, {name}.", now=NOW)
        save_plan(services, begun.applicant_id, cred, {"facilitation_plan": (NOW + timedelta(days=10)).date()}, now=NOW)
        drafts[email] = begun
    with services.db.session() as session:
        ana_key = session.scalars(
            select(DraftFile.object_key).where(DraftFile.draft_id == drafts[EMAIL].draft_id)
        ).one()
    assert services.store.exists(ana_key)

    export_applicant(services, EMAIL, out=tmp_path / "ana.zip")
    with zipfile.ZipFile(tmp_path / "ana.zip") as bundle:
        document = json.loads(next(bundle.read(n) for n in bundle.namelist() if n.endswith(".json")))
    [draft] = document["drafts"]
    assert draft["coach_comments"][0]["comment"] == f"Good start, {NAME}." and draft["files"][0]["name"] == "plan.pdf"
    assert document["plan"] == [{"credential": cred, "requirement": "facilitation_plan", "target": "2026-12-03"}]

    report = erase_applicant(services, EMAIL, reason="request by email on 2026-11-20", now=LATER)
    assert report.drafts_deleted == 1
    assert not services.store.exists(ana_key)
    with services.db.session() as session:
        left = {d.applicant_id for d in session.scalars(select(Draft))}
        assert left == {drafts["ben@example.org"].applicant_id}  # Ben is untouched
        assert [c.body for c in session.scalars(select(CoachComment))] == ["Good start, Ben Okafor."]
        assert {p.applicant_id for p in session.scalars(select(PlanTargetRow))} == left
    assert _rows_mentioning(services, EMAIL, NAME) == []
