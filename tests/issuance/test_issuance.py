"""Issuance: a verifiable OB 3.0 badge per earned decision, revocation, and the OpenSciEd pathway."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from credflow.badges.baking import unbake
from credflow.badges.ob2 import verify_signed
from credflow.badges.verify import verify_credential
from credflow.db.models import Applicant, Decision, IssuedBadge, Submission
from credflow.issuance.stage import (
    apply_pathways,
    issue_for_decision,
    issue_micro,
    key_store,
    ob2_key_store,
    revoke,
    status_list_credential,
)
from credflow.letters.stage import result_letter, send_result
from tests.utils.ob3_verify import node_verifier, schema_errors
from tests.utils.review_cycle import NOW, decided_submission, verify_issued


def test_an_earned_decision_issues_one_verifiable_badge_and_the_letter_links_it(services, tmp_path):
    sid = decided_submission(services, tmp_path)
    report = issue_for_decision(services, sid, today=NOW.date())
    assert report.micro and issue_for_decision(services, sid, today=NOW.date()).micro == report.micro  # never twice
    with services.db.session() as session:
        badge = session.get_one(IssuedBadge, report.micro)
    credential = badge.ob3
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert "ana.alvarez@example.org" not in str(credential)  # the recipient is a salted hash
    assert "validUntil" not in credential  # micro-credential badges never expire
    result = verify_issued(services, credential)
    assert result.verified, result.errors
    # The anchoring-phenomenon badge is the first OpenSciEd step: the certification follows.
    assert len(report.issued) == 1

    message = result_letter(services, sid)
    assert f"/badges/{report.micro}" in message.text
    [attachment] = message.attachments  # the baked badge: the image carries the signed credential
    baked = unbake(attachment.data)
    assert baked is not None and json.loads(baked.content)["id"] == credential["id"]
    send_result(services, sid)


def test_a_decision_s_badges_read_each_issuer_key_once_and_their_signatures_verify(services, tmp_path):
    sid = decided_submission(services, tmp_path)
    report = issue_for_decision(services, sid, today=NOW.date())
    ids = [report.micro, *report.issued]
    assert len(ids) == 2  # the micro-credential and the OpenSciEd certification, both signed twice (OB 3.0, OB 2.0)
    rsa_keys = ob2_key_store(services, "openscied")
    public_pem = rsa_keys.current().public_key_pem
    assert rsa_keys.loads == 1 and key_store(services).loads == 1
    with services.db.session() as session:
        badges = [session.get_one(IssuedBadge, badge_id) for badge_id in ids]
        for badge in badges:
            assert verify_issued(services, badge.ob3).verified
            assert badge.ob2_jws is not None
            assert verify_signed(badge.ob2_jws, public_pem, email="ana.alvarez@example.org", now=NOW).valid


def test_revocation_makes_every_verifier_report_it(services, tmp_path):
    sid = decided_submission(services, tmp_path)
    badge_id = issue_for_decision(services, sid, today=NOW.date()).micro
    assert badge_id
    revoke(services, badge_id, reason="evidence was not the applicant's own work")
    with services.db.session() as session:
        credential = session.get_one(IssuedBadge, badge_id).ob3
    result = verify_issued(services, credential)
    assert not result.verified and any("revoked" in e for e in result.errors)


def _walk_the_pathway(services, tmp_path) -> tuple[str, str, list]:
    """Three earned OpenSciEd steps 0, 200 and 500 days after 2026-01-10, the pathway applied after each.

    Returns the first step's submission id, the applicant id and the three pathway reports.
    """
    sid = decided_submission(services, tmp_path)  # openscied-anchoring-phenomenon, earned
    start = datetime(2026, 1, 10, tzinfo=UTC)
    with services.db.session() as session:
        first = session.get_one(Submission, sid)
        applicant = session.get_one(Applicant, first.applicant_id)
        session.scalar(select(Decision).where(Decision.submission_id == sid)).decided_at = start
        for offset, credential_id in (
            (200, "openscied-supporting-coherence"),
            (500, "openscied-facilitating-discussions"),
        ):
            other = Submission(
                applicant_id=applicant.id,
                credential_id=credential_id,
                attempt=1,
                state="earned",
                idempotency_key=credential_id,
            )
            session.add(other)
            session.flush()
            session.add(
                Decision(
                    submission_id=other.id, outcome="earned", criteria={}, decided_at=start + timedelta(days=offset)
                )
            )
    # The pipeline applies the pathway after each earned decision: walk those days.
    reports = [apply_pathways(services, applicant.id, today=(start + timedelta(days=d)).date()) for d in (0, 200, 500)]
    return sid, applicant.id, reports


def test_the_openscied_pathway_certifies_renews_and_makes_an_expert(services, tmp_path):
    start = datetime(2026, 1, 10, tzinfo=UTC)
    _, applicant_id, reports = _walk_the_pathway(services, tmp_path)
    with services.db.session() as session:
        rows = session.scalars(
            select(IssuedBadge).where(IssuedBadge.kind == "pathway").order_by(IssuedBadge.valid_from)
        ).all()
        summary = [
            (
                r.badge_key,
                r.state,
                r.valid_from.date().isoformat(),
                r.valid_until.date().isoformat() if r.valid_until else None,
            )
            for r in rows
        ]
    assert summary == [
        ("openscied-certified-facilitator", "superseded", "2026-01-10", "2027-01-10"),
        ("openscied-certified-facilitator", "superseded", "2026-07-29", "2027-07-29"),
        ("openscied-certified-facilitator", "active", "2027-05-25", "2028-05-25"),
        ("openscied-expert-facilitator", "active", "2027-05-25", None),
    ]
    assert [(len(r.issued), len(r.renewed)) for r in reports] == [(1, 0), (0, 1), (1, 1)]
    assert apply_pathways(services, applicant_id, today=(start + timedelta(days=520)).date()).issued == ()  # idempotent


def test_every_issued_credential_meets_the_ob3_json_schema_and_verifies_in_node(services, tmp_path):
    sid, _, _ = _walk_the_pathway(services, tmp_path)  # certified, renewed twice (superseding), expert
    micro = issue_micro(services, sid)
    assert micro is not None
    revoke(services, micro.id, reason="issued in error")
    with services.db.session() as session:
        badges = session.scalars(select(IssuedBadge).order_by(IssuedBadge.valid_from, IssuedBadge.badge_key)).all()
        kinds = sorted((b.kind, b.badge_key, b.state) for b in badges)
        credentials = [(b.ob3, b.state) for b in badges]
    assert kinds == [
        ("micro", "openscied-anchoring-phenomenon", "revoked"),
        ("pathway", "openscied-certified-facilitator", "active"),
        ("pathway", "openscied-certified-facilitator", "superseded"),
        ("pathway", "openscied-certified-facilitator", "superseded"),
        ("pathway", "openscied-expert-facilitator", "active"),
    ]
    node_verify = node_verifier()
    for credential, state in credentials:
        assert schema_errors(credential) == [], credential["name"]
        # Each badge is checked the day after it starts. Digital Bazaar reads the status list's validFrom
        # against the wall clock, so the list is dated before every badge (and every test run).
        at = datetime.fromisoformat(credential["validFrom"]) + timedelta(days=1)
        url = credential["credentialStatus"]["statusListCredential"]
        issuer, fingerprint = url.split("/status/", 1)[1].split("/")[:2]
        listed = datetime(2025, 1, 1, tzinfo=UTC)
        status_list = status_list_credential(services, issuer, fingerprint, now=listed)
        [node] = node_verify([credential], status_lists=[status_list], now=at.isoformat())
        python = verify_credential(credential, now=at, status_lists={url: status_list})
        assert (node["verified"], python.verified) == (state != "revoked",) * 2, (state, node, python.errors)


def test_expiry_reminders_are_sent_once_and_expiries_recorded(services, tmp_path):
    from datetime import date

    from credflow.issuance.stage import sweep_badges
    from credflow.notifications.rules import BadgeNotice
    from credflow.notifications.stage import send_badge_notice

    sid = decided_submission(services, tmp_path)
    with services.db.session() as session:
        session.scalars(select(Decision).where(Decision.submission_id == sid)).one().decided_at = datetime(
            2026, 1, 10, tzinfo=UTC
        )
        applicant_id = session.get_one(Submission, sid).applicant_id
    [certified] = apply_pathways(services, applicant_id, today=date(2026, 1, 10)).issued
    for _ in range(2):
        send_badge_notice(services, certified, BadgeNotice.ISSUED)
    outbox = services.settings.resolved_outbox_dir
    assert len(list(outbox.glob("badge_issued-*.eml"))) == 1

    def sweep_and_send(today: date) -> tuple[str, ...]:
        """What the badge-sweep flow does: the sweep lists the reminders due, one notice each follows."""
        swept = sweep_badges(services, today=today)
        for badge_id in swept.remind:
            send_badge_notice(services, badge_id, BadgeNotice.EXPIRING)
        return swept.remind

    assert sweep_and_send(date(2026, 10, 1)) == ()  # more than 60 days ahead
    assert sweep_badges(services, today=date(2026, 11, 20)).remind == (certified,)
    assert not list(outbox.glob("badge_expiring-*.eml"))  # the sweep sends nothing itself
    assert sweep_and_send(date(2026, 11, 20)) == (certified,)  # due until its reminder went out
    assert len(list(outbox.glob("badge_expiring-*.eml"))) == 1
    assert sweep_and_send(date(2026, 11, 21)) == ()  # once
    assert len(list(outbox.glob("badge_expiring-*.eml"))) == 1
    assert sweep_badges(services, today=date(2027, 1, 11)).expired == (certified,)
    with services.db.session() as session:
        assert session.get_one(IssuedBadge, certified).state == "expired"


def test_a_revoked_pathway_badge_stays_revoked_past_its_expiry(services, tmp_path):
    from datetime import date

    from credflow.issuance.stage import sweep_badges

    sid = decided_submission(services, tmp_path)
    with services.db.session() as session:
        session.scalars(select(Decision).where(Decision.submission_id == sid)).one().decided_at = datetime(
            2026, 1, 10, tzinfo=UTC
        )
        applicant_id = session.get_one(Submission, sid).applicant_id
    [certified] = apply_pathways(services, applicant_id, today=date(2026, 1, 10)).issued
    revoke(services, certified, reason="issued in error")
    assert sweep_badges(services, today=date(2027, 1, 11)).expired == ()
    with services.db.session() as session:
        assert session.get_one(IssuedBadge, certified).state == "revoked"  # still on the revocation list


def test_badges_issued_before_a_key_rotation_still_verify_and_can_still_be_revoked(services, tmp_path):
    from credflow.issuance.stage import key_store
    from tests.utils.builders import anchoring_request, applicant

    first_sid = decided_submission(services, tmp_path)
    old_id = issue_for_decision(services, first_sid, today=NOW.date()).micro
    key_store(services).rotate("openscied")  # on schedule: the old key keeps signing its own revocation list
    second = tmp_path / "second"
    second.mkdir()
    from credflow.assignment.stage import assign_reviewers
    from credflow.decision.stage import aggregate
    from credflow.intake.stage import submit
    from credflow.review.stage import submit_review
    from credflow.validation.stage import run_validation
    from tests.utils.review_cycle import assignments_of, review_scores

    sid = submit(
        services, anchoring_request(second, who=applicant("Bo Chen", org="Elm Valley"), title="bo"), now=NOW
    ).submission_id
    run_validation(services, sid, now=NOW)
    assign_reviewers(services, now=NOW)
    for assignment in assignments_of(services, sid):
        submit_review(services, assignment.id, review_scores(services), now=NOW)
    aggregate(services, sid, now=NOW)
    new_id = issue_for_decision(services, sid, today=NOW.date()).micro
    with services.db.session() as session:
        old = session.get_one(IssuedBadge, old_id).ob3
        new = session.get_one(IssuedBadge, new_id).ob3
    assert old["issuer"]["id"] != new["issuer"]["id"]  # did:key: a new key is a new DID
    assert verify_issued(services, old).verified and verify_issued(services, new).verified
    assert old_id is not None
    revoke(services, old_id, reason="issued in error")
    assert not verify_issued(services, old).verified and verify_issued(services, new).verified


def test_did_web_issuers_keep_one_did_across_rotation_and_publish_their_keys(make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from credflow.badges.keys import KeyResolver
    from credflow.issuance.stage import key_store
    from credflow.services import build_services
    from web.app import create_app

    services = build_services(make_settings(did_web_base="https://badges.example.org/issuers"))
    sid = decided_submission(services, tmp_path)
    badge_id = issue_for_decision(services, sid, today=NOW.date()).micro
    key_store(services).rotate("openscied")
    with services.db.session() as session:
        credential = session.get_one(IssuedBadge, badge_id).ob3
    assert credential["issuer"]["id"] == "did:web:badges.example.org:issuers:openscied"
    document = TestClient(create_app(services)).get("/issuers/openscied/did.json").json()
    assert document["id"] == credential["issuer"]["id"] and len(document["verificationMethod"]) == 2
    resolver = KeyResolver(did_documents={document["id"]: document})
    issuer, fingerprint, _ = credential["credentialStatus"]["statusListCredential"].split("/status/", 1)[1].split("/")
    lists = {
        credential["credentialStatus"]["statusListCredential"]: status_list_credential(
            services, issuer, fingerprint, now=NOW + timedelta(hours=1)
        )
    }
    result = verify_credential(credential, now=NOW + timedelta(hours=1), status_lists=lists, resolver=resolver)
    assert result.verified, result.errors


def test_a_status_list_made_just_after_the_verifier_read_its_clock_still_counts(services, tmp_path):
    # The server dates the list when it serves it, after `credflow badge verify` read its clock (seen under load).
    sid = decided_submission(services, tmp_path)
    badge_id = issue_for_decision(services, sid, today=NOW.date()).micro
    with services.db.session() as session:
        credential = session.get_one(IssuedBadge, badge_id).ob3
    url = credential["credentialStatus"]["statusListCredential"]
    issuer, fingerprint, _ = url.split("/status/", 1)[1].split("/")
    checked = NOW + timedelta(hours=1)

    def verified_with_a_list_made(after: timedelta):
        made = status_list_credential(services, issuer, fingerprint, now=checked + after)
        return verify_credential(credential, now=checked, status_lists={url: made})

    assert verified_with_a_list_made(timedelta(seconds=1)).verified
    too_far = verified_with_a_list_made(timedelta(minutes=10))  # beyond any clock skew: refused
    assert not too_far.verified and any("not valid before" in e for e in too_far.errors)
