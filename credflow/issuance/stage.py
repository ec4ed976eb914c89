"""Badge issuance: an Open Badges 3.0 credential per earned micro-credential, and pathway badges.

Every issue is idempotent by a key in the ``badges`` table (``badge:micro:<submission>``,
``badge:pathway:<applicant>:<badge>:<valid from>``), so a re-run or a retried task never issues
twice. Each badge holds a bit in its issuer's revocation status list.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credflow.badges.baking import OB2_KEYWORD, OB3_KEYWORD, bake_png, bake_svg
from credflow.badges.images import BadgeArt, badge_colour, render_png, render_svg
from credflow.badges.keys import KeyStore
from credflow.badges.ob2 import HostedVerification, RsaKeyStore, SignedVerification, issue_assertion, sign_assertion
from credflow.badges.ob3 import AchievementInfo, EvidenceLink, IssuerProfile, StatusEntry, build_credential
from credflow.badges.proof import add_proof, sign_credential
from credflow.badges.status_list import StatusList, build_status_list_credential
from credflow.catalog.models import Credential, Issuer
from credflow.db.models import (
    Applicant,
    Decision,
    Event,
    InServiceHours,
    IssuedBadge,
    OutgoingMessage,
    StatusListCounter,
    Submission,
    utcnow,
)
from credflow.errors import NotFoundError
from credflow.issuance.hours import confirmation_code
from credflow.issuance.rules import (
    REMIND_DAYS,
    Action,
    EarnedStep,
    Expire,
    HeldBadge,
    Issue,
    Pathway,
    PathwayBadge,
    Renew,
    badge_page_url,
    evaluate,
)
from credflow.notifications.rules import BadgeNotice, badge_notice_key
from credflow.services import Services
from credflow.states import BadgeState, MessageState, move
from credflow.submissions import get_submission, record_event


@dataclass(frozen=True)
class IssueReport:
    """What one issuance pass did."""

    micro: str | None  # the micro-credential badge id
    issued: tuple[str, ...]  # new pathway badges
    renewed: tuple[str, ...]  # new badges that superseded older ones
    expired: tuple[str, ...]


def key_store(services: Services) -> KeyStore:
    """The issuers' signing keys (generated on first use, kept outside the database), opened once per services."""
    return services.key_store()


def key_fingerprint(public_key_multibase: str) -> str:
    """The short name of a signing key in URLs (the end of its public key)."""
    return public_key_multibase[-16:]


def status_list_url(services: Services, issuer_id: str, fingerprint: str) -> str:
    """One revocation list per signing key: a status list must be signed by its badges' own issuer DID."""
    return f"{services.settings.public_url}/status/{issuer_id}/{fingerprint}/revocation"


def badge_url(services: Services, badge_id: str) -> str:
    return badge_page_url(services.settings.public_url, badge_id)


def _profile(services: Services, issuer: Issuer) -> IssuerProfile:
    key = key_store(services).current(issuer.id)
    return IssuerProfile(id=key.controller, name=issuer.name, url=str(issuer.url), email=issuer.email)


def _take_index(session: Session, issuer_id: str) -> int:
    """Take the issuer's next status-list index in the caller's transaction.

    One ``UPDATE ... RETURNING`` reads and advances the counter and holds its row (on SQLite, the
    write lock) until the transaction ends: a concurrent issuance of the same issuer waits, then
    takes the index after, and an issuance that rolls back gives its index back, so indexes have
    no gaps. An issuer's first issuance adds the row; two first issuances may both try.
    """
    advance = (
        update(StatusListCounter)
        .where(StatusListCounter.issuer_id == issuer_id)
        .values(next_index=StatusListCounter.next_index + 1)
        .returning(StatusListCounter.next_index)
        .execution_options(synchronize_session=False)
    )
    taken = session.scalar(advance)
    if taken is None:
        first = {"issuer_id": issuer_id, "next_index": 0}
        if session.get_bind().dialect.name == "postgresql":
            session.execute(postgresql_insert(StatusListCounter).values(first).on_conflict_do_nothing())
        else:
            session.execute(sqlite_insert(StatusListCounter).values(first).on_conflict_do_nothing())
        taken = session.scalar(advance)
    if taken is None:  # pragma: no cover - the row was added just now
        raise RuntimeError(f"no status-list counter for {issuer_id}")
    return int(taken) - 1


def _at(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _sign_and_store(
    services: Services,
    session: Session,
    *,
    key: str,
    applicant: Applicant,
    issuer: Issuer,
    achievement: AchievementInfo,
    kind: str,
    badge_key: str,
    valid_from: datetime,
    valid_until: datetime | None,
    submission_id: str | None,
    evidence: tuple[EvidenceLink, ...] = (),
) -> IssuedBadge:
    existing = session.scalar(select(IssuedBadge).where(IssuedBadge.idempotency_key == key))
    if existing is not None:
        return existing
    signer = key_store(services).current(issuer.id)
    badge_id = secrets.token_hex(16)
    # The OB 2.0 variants carry no status index: signed before one is taken, they do not hold up other issuances.
    ob2, jws = _ob2_variants(
        services,
        badge_id=badge_id,
        issuer_id=issuer.id,
        badge_key=badge_key,
        email=applicant.email,
        issued_on=valid_from,
        expires=valid_until,
    )
    try:
        with session.begin_nested():  # a badge that is not stored gives its index back
            index = _take_index(session, issuer.id)
            credential = build_credential(
                issuer=_profile(services, issuer),
                achievement=achievement,
                valid_from=valid_from,
                valid_until=valid_until,
                recipient_email=applicant.email,
                evidence=evidence,
                status=StatusEntry(
                    list_url=status_list_url(services, issuer.id, key_fingerprint(signer.public_key_multibase)),
                    index=index,
                ),
                credential_id=badge_url(services, badge_id),
            )
            row = IssuedBadge(
                id=badge_id,
                ob2=ob2,
                ob2_jws=jws,
                idempotency_key=key,
                applicant_id=applicant.id,
                submission_id=submission_id,
                kind=kind,
                badge_key=badge_key,
                issuer_id=issuer.id,
                status_index=index,
                valid_from=valid_from,
                valid_until=valid_until,
                ob3=sign_credential(credential, signer),
            )
            session.add(row)
        return row
    except IntegrityError:
        # Another run issued this badge meanwhile (the same idempotency key): theirs stands.
        theirs = session.scalar(select(IssuedBadge).where(IssuedBadge.idempotency_key == key))
        if theirs is None:
            raise
        return theirs


def ob2_key_store(services: Services, issuer_id: str) -> RsaKeyStore:
    """The issuer's RSA keys for signed OB 2.0 assertions (kept beside the Ed25519 keys), opened once per services."""
    return services.ob2_key_store(issuer_id)


def ob2_issuer_url(services: Services, issuer_id: str) -> str:
    return f"{services.settings.public_url}/ob2/issuers/{issuer_id}"


def _ob2_variants(
    services: Services,
    *,
    badge_id: str,
    issuer_id: str,
    badge_key: str,
    email: str,
    issued_on: datetime,
    expires: datetime | None,
) -> tuple[dict[str, object], str]:
    """A hosted OB 2.0 assertion (served at its id) and an RS256-signed one, for older backpacks."""
    base = services.settings.public_url
    badge_class = f"{base}/ob2/badges/{badge_key}"
    hosted = issue_assertion(
        id=f"{base}/ob2/assertions/{badge_id}",
        badge=badge_class,
        email=email,
        issued_on=issued_on,
        verification=HostedVerification(),
        expires=expires,
    )
    key = ob2_key_store(services, issuer_id).current()
    signed = issue_assertion(
        id=f"urn:uuid:{uuid.uuid4()}",
        badge=badge_class,
        email=email,
        issued_on=issued_on,
        verification=SignedVerification(creator=f"{ob2_issuer_url(services, issuer_id)}/keys/{key.name}"),
        expires=expires,
    )
    return {"hosted": dict(hosted.document()), "signed_id": signed.id}, sign_assertion(signed, key)


def _achievement(services: Services, credential: Credential) -> AchievementInfo:
    base = f"{services.settings.public_url}/achievements/{credential.id}"
    return AchievementInfo(
        id=base,
        name=credential.badge.name,
        description=credential.badge.description,
        criteria_narrative=credential.badge.criteria,
        image_url=f"{base}/image.png",
        achievement_type="MicroCredential",
    )


def _pathway_achievement(services: Services, pathway: Pathway, info: PathwayBadge) -> AchievementInfo:
    base = f"{services.settings.public_url}/achievements/{info.id}"
    return AchievementInfo(
        id=base,
        name=info.name,
        description=info.description,
        criteria_narrative=f"{pathway.title}: {info.description}",
        image_url=f"{base}/image.png",
    )


@dataclass(frozen=True)
class AchievementEntry:
    """An achievement credflow awards (a micro-credential's badge or a pathway badge) and its issuer."""

    info: AchievementInfo
    issuer: Issuer


def achievement(services: Services, badge_key: str) -> AchievementEntry | None:
    """The achievement that ``/achievements/<badge_key>`` names in every badge of its kind, or None."""
    credential = services.catalog.credentials.get(badge_key)
    if credential is not None:
        return AchievementEntry(_achievement(services, credential), credential.issuer)
    for pathway in services.pathways.values():
        for info in pathway.badges:
            if info.id == badge_key:
                return AchievementEntry(
                    _pathway_achievement(services, pathway, info), _pathway_issuer(services, pathway)
                )
    return None


def issue_micro(services: Services, submission_id: str) -> IssuedBadge | None:
    """Issue the micro-credential badge of an earned decision (never twice)."""
    with services.db.session() as session:
        decision = session.scalar(select(Decision).where(Decision.submission_id == submission_id))
        if decision is None or decision.outcome != "earned":
            return None
        sub = session.get_one(Submission, submission_id)
        credential = services.catalog.get(sub.credential_id)
        test = decision.criteria.get("formal_test")  # a pass of the formal test (credflow/assessment)
        evidence = EvidenceLink(
            id=f"{services.settings.public_url}/evidence/{sub.id}",
            narrative=(
                f"Passed the formal test: {test['score']} of {test['out_of']} questions correct "
                f"(the pass mark is {test['needed']})."
                if isinstance(test, dict)
                else f"Evidence reviewed against {len(credential.criteria)} rubric criteria by "
                f"{credential.reviewers_per_submission} trained reviewers; every criterion was Met."
            ),
        )
        badge = _sign_and_store(
            services,
            session,
            key=f"badge:micro:{sub.id}",
            applicant=sub.applicant,
            issuer=credential.issuer,
            achievement=_achievement(services, credential),
            kind="micro",
            badge_key=credential.id,
            valid_from=decision.decided_at,
            valid_until=None,  # micro-credential badges never expire
            submission_id=sub.id,
            evidence=(evidence,),
        )
        # A re-run (e.g. after a crash before the images or the letter) gets the badge issued earlier;
        # the badge row and its event commit together, so log the event only if it is not there yet.
        logged = session.scalars(
            select(Event.detail).where(Event.submission_id == sub.id, Event.kind == "badge_issued")
        ).all()
        if not any(detail.get("badge") == badge.id for detail in logged):
            record_event(session, submission_id=sub.id, kind="badge_issued", actor="issuer", detail={"badge": badge.id})
        session.flush()
        session.expunge(badge)
        return badge


def _pathway_issuer(services: Services, pathway: Pathway) -> Issuer:
    for credential in services.catalog:
        if credential.issuer.id == pathway.issuer:
            return credential.issuer
    raise RuntimeError(f"pathway {pathway.id}: no micro-credential of issuer {pathway.issuer} in the catalog")


def apply_pathways(services: Services, applicant_id: str, *, today: date | None = None) -> IssueReport:
    """Evaluate every pathway for one applicant and issue, renew or expire their pathway badges."""
    today = today or utcnow().date()
    issued: list[str] = []
    renewed: list[str] = []
    expired: list[str] = []
    for pathway in services.pathways.values():
        issuer = _pathway_issuer(services, pathway)
        badges = {badge.id: badge for badge in pathway.badges}
        with services.db.session() as session:
            applicant = session.get_one(Applicant, applicant_id)
            earned = [
                EarnedStep(sub.credential_id, decision.decided_at.date())
                for decision, sub in session.execute(
                    select(Decision, Submission)
                    .join(Submission, Submission.id == Decision.submission_id)
                    .where(
                        Submission.applicant_id == applicant_id,
                        Decision.outcome == "earned",
                        Submission.credential_id.in_(pathway.steps),
                    )
                )
            ]
            rows = session.scalars(
                select(IssuedBadge).where(
                    IssuedBadge.applicant_id == applicant_id,
                    IssuedBadge.kind == "pathway",
                    IssuedBadge.badge_key.in_(badges),
                )
            ).all()
            held = [
                HeldBadge(
                    id=row.id,
                    badge_id=row.badge_key,
                    valid_from=row.valid_from.date(),
                    valid_until=row.valid_until.date() if row.valid_until else None,
                    superseded=row.state == BadgeState.SUPERSEDED,
                    expired=row.state == BadgeState.EXPIRED,
                )
                for row in rows
            ]
            actions: list[Action] = evaluate(pathway, earned, held, today)
            for action in actions:
                if isinstance(action, Expire):
                    # A revoked badge stays revoked (and on the revocation list) past its expiry.
                    if move(session, IssuedBadge.state, BadgeState.EXPIRED, where=IssuedBadge.id == action.held_id):
                        expired.append(action.held_id)
                        record_event(
                            session,
                            submission_id=None,
                            kind="badge_expired",
                            actor="issuer",
                            detail={"badge": action.held_id},
                        )
                    continue
                assert isinstance(action, Issue | Renew)
                info = badges[action.badge_id]
                new = _sign_and_store(
                    services,
                    session,
                    key=f"badge:pathway:{applicant_id}:{info.id}:{action.valid_from.isoformat()}",
                    applicant=applicant,
                    issuer=issuer,
                    achievement=_pathway_achievement(services, pathway, info),
                    kind="pathway",
                    badge_key=info.id,
                    valid_from=_at(action.valid_from),
                    valid_until=_at(action.valid_until) if action.valid_until else None,
                    submission_id=None,
                )
                if isinstance(action, Renew):
                    old = session.get_one(IssuedBadge, action.supersedes)
                    old.superseded_by = new.id
                    # A revoked predecessor stays revoked; the renewal is issued all the same.
                    move(session, IssuedBadge.state, BadgeState.SUPERSEDED, where=IssuedBadge.id == old.id)
                    renewed.append(new.id)
                else:
                    issued.append(new.id)
                record_event(
                    session,
                    submission_id=None,
                    kind="badge_renewed" if isinstance(action, Renew) else "badge_issued",
                    actor="issuer",
                    detail={"badge": new.id, "badge_key": info.id, "rule": action.rule, "step": action.step},
                )
    return IssueReport(None, tuple(issued), tuple(renewed), tuple(expired))


def badge_image_key(badge_id: str) -> str:
    """Where the badge's baked PNG (the OB 3.0 credential inside) is stored."""
    return f"badges/{badge_id}.png"


def ensure_images(services: Services, badge_id: str) -> None:
    """Store the badge's baked PNG and SVG (OB 3.0 ``openbadgecredential``) if they are missing."""
    png_key, svg_key = badge_image_key(badge_id), f"badges/{badge_id}.svg"
    ob2_png_key = f"badges/{badge_id}-ob2.png"
    if all(services.store.exists(key) for key in (png_key, svg_key, ob2_png_key)):
        return
    with services.db.session() as session:
        badge = session.get_one(IssuedBadge, badge_id)
        issuer_name = str(badge.ob3.get("issuer", {}).get("name", ""))
        name = str(badge.ob3["credentialSubject"]["achievement"]["name"])
        art = BadgeArt(name=name, issuer_name=issuer_name, colour=badge_colour(badge.badge_key))
        content = json.dumps(badge.ob3, ensure_ascii=False)
        hosted_url = str(badge.ob2["hosted"]["id"]) if badge.ob2 else None
    image = render_png(art)
    files = [
        (png_key, bake_png(image, content, keyword=OB3_KEYWORD), "image/png"),
        (svg_key, bake_svg(render_svg(art), keyword=OB3_KEYWORD, body=content), "image/svg+xml"),
    ]
    if hosted_url is not None:  # for OB 2.0 backpacks: the hosted assertion's URL, keyword "openbadges"
        files.append((ob2_png_key, bake_png(image, hosted_url, keyword=OB2_KEYWORD), "image/png"))
    for key, data, kind in files:
        services.store.put_stream(key, io.BytesIO(data), content_type=kind)


def issue_for_decision(services: Services, submission_id: str, *, today: date | None = None) -> IssueReport:
    """Everything an earned decision issues: its micro-credential badge (with baked images), then pathway badges.

    ``today`` is the date the pathways are evaluated on (the clock's, unless given).
    """
    micro = issue_micro(services, submission_id)
    if micro is None:
        return IssueReport(None, (), (), ())
    report = apply_pathways(services, micro.applicant_id, today=today)
    issued, renewed = _with_unannounced(services, micro.applicant_id, report)
    for badge_id in (micro.id, *issued, *renewed):
        ensure_images(services, badge_id)
    return IssueReport(micro.id, issued, renewed, report.expired)


def _with_unannounced(
    services: Services, applicant_id: str, report: IssueReport
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The report's new pathway badges plus active ones whose notice was never sent.

    Crash safety: a run killed after ``apply_pathways`` committed a pathway badge but before its
    images and notice leaves that badge held, so the re-run's ``apply_pathways`` issues nothing and
    the badge would never get its images or its email. Both follow-ups are idempotent (images are
    ensured, notices keyed ``<notice>:<badge>``), so picking such badges up again is safe.
    """
    issued, renewed = list(report.issued), list(report.renewed)
    with services.db.session() as session:
        badges = session.scalars(
            select(IssuedBadge)
            .where(IssuedBadge.applicant_id == applicant_id, IssuedBadge.kind == "pathway")
            .order_by(IssuedBadge.valid_from, IssuedBadge.id)
        ).all()
        successors = {b.superseded_by for b in badges if b.superseded_by}
        sent = set(
            session.scalars(
                select(OutgoingMessage.idempotency_key).where(
                    OutgoingMessage.idempotency_key.in_(
                        [badge_notice_key(n, b.id) for b in badges for n in (BadgeNotice.ISSUED, BadgeNotice.RENEWED)]
                    ),
                    OutgoingMessage.state == MessageState.SENT,
                )
            )
        )
        for badge in badges:
            if badge.state != BadgeState.ACTIVE or badge.id in issued or badge.id in renewed:
                continue
            notice = BadgeNotice.RENEWED if badge.id in successors else BadgeNotice.ISSUED
            if badge_notice_key(notice, badge.id) not in sent:
                (renewed if badge.id in successors else issued).append(badge.id)
    return tuple(issued), tuple(renewed)


def record_hours(services: Services, submission_id: str) -> InServiceHours | None:
    """Record the in-service hours of an earned micro-credential (one record per decision)."""
    with services.db.session() as session:
        decision = session.scalar(select(Decision).where(Decision.submission_id == submission_id))
        if decision is None or decision.outcome != "earned":
            return None
        existing = session.scalar(select(InServiceHours).where(InServiceHours.decision_id == decision.id))
        if existing is not None:
            return existing
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        row = InServiceHours(
            decision_id=decision.id,
            applicant_id=sub.applicant_id,
            credential_id=credential.id,
            hours=credential.in_service_hours,
            earned_on=decision.decided_at.date(),
            confirmation=confirmation_code(decision.id),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return session.scalar(select(InServiceHours).where(InServiceHours.decision_id == decision.id))
        record_event(
            session,
            submission_id=submission_id,
            kind="hours_recorded",
            actor="issuer",
            detail={"hours": row.hours, "confirmation": row.confirmation},
        )
        return row


@dataclass(frozen=True)
class BadgeSweep:
    """What one badge sweep found: badges due their expiry reminder (``EXPIRING``), and badges it expired."""

    remind: tuple[str, ...]
    expired: tuple[str, ...]


def sweep_badges(services: Services, *, today: date | None = None) -> BadgeSweep:
    """Record pathway expiries and list the badges due their 60-day expiry reminder.

    Sending the reminders is the caller's job: sending one stamps the badge's
    ``expiry_reminded_at`` (see ``send_badge_notice``), so a badge stays due until its reminder
    went out, and the key ``badge_expiring:<badge>`` makes the send itself once only.
    """
    today = today or utcnow().date()
    horizon = today + timedelta(days=REMIND_DAYS)
    with services.db.session() as session:
        due = session.scalars(
            select(IssuedBadge).where(
                IssuedBadge.state == BadgeState.ACTIVE,
                IssuedBadge.valid_until.is_not(None),
                IssuedBadge.expiry_reminded_at.is_(None),
            )
        ).all()
        remind = [b.id for b in due if b.valid_until is not None and today < b.valid_until.date() <= horizon]
        holders = sorted(set(session.scalars(select(IssuedBadge.applicant_id).where(IssuedBadge.kind == "pathway"))))
    expired: list[str] = []
    for applicant_id in holders:
        expired += apply_pathways(services, applicant_id, today=today).expired
    return BadgeSweep(tuple(remind), tuple(expired))


def revoke(services: Services, badge_id: str, *, reason: str, actor: str = "operator") -> IssuedBadge:
    """Revoke a badge: its status bit is set, so the page and every verifier report it revoked."""
    if not reason.strip():
        raise ValueError("a revocation needs a reason")
    with services.db.session() as session:
        row = session.get(IssuedBadge, badge_id)
        if row is None:
            raise NotFoundError(f"no badge {badge_id!r}")
        if move(
            session,
            IssuedBadge.state,
            BadgeState.REVOKED,
            where=IssuedBadge.id == row.id,
            values={"revoked_at": utcnow(), "revoke_reason": reason.strip()},
        ):
            record_event(
                session,
                submission_id=row.submission_id,
                kind="badge_revoked",
                actor=actor,
                detail={"badge": row.id, "reason": reason},
            )
        session.flush()  # before detaching, or the change would be discarded
        session.expunge(row)
        return row


def status_list_credential(
    services: Services, issuer_id: str, fingerprint: str, *, now: datetime | None = None
) -> dict[str, object]:
    """The signed revocation list of the badges one key signed, built from the badges table.

    ``now`` dates this version of the list (``validFrom``); callers with their own clock pass it,
    so the list is never dated after the moment it is checked at.

    Raises:
        KeyStoreError: no such key, or it was retired as compromised.
    """
    signer = key_store(services).status_signer(issuer_id, fingerprint)
    url = status_list_url(services, issuer_id, fingerprint)
    with services.db.session() as session:
        revoked = session.scalars(
            select(IssuedBadge).where(IssuedBadge.issuer_id == issuer_id, IssuedBadge.state == BadgeState.REVOKED)
        ).all()
        indexes = [
            b.status_index for b in revoked if b.ob3.get("credentialStatus", {}).get("statusListCredential") == url
        ]
    bits = StatusList()
    for index in indexes:
        bits.set(index)
    unsigned = build_status_list_credential(
        list_url=url, issuer=signer.controller, status_list=bits, valid_from=now or utcnow()
    )
    return add_proof(unsigned, signer)
