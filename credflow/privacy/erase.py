"""Erase an applicant on request: evidence deleted, personal data tombstoned, decisions and badges kept.

What stays, and why: decisions (per-criterion verdicts, with reviewer comments scrubbed of the
applicant's name and email) and the event log are the audit trail of what reviewers decided;
issued badge records stay so the credential the holder may keep in a backpack still verifies
(it names the holder only by a salted hash of the email, as Open Badges does); in-service hours
stay for the PD office, tied to the tombstoned applicant. A badge can be revoked as well
("erased at holder's request"), now or by a later erase. Nothing is mailed to an erased
applicant again: open "not yet" chains are closed and expiry reminders are marked done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from credflow.accounts.signin import forget_address
from credflow.db.models import (
    Applicant,
    Assignment,
    CohortConsent,
    Decision,
    Event,
    EvidenceItem,
    HoursConfirmation,
    IssuedBadge,
    OutgoingMessage,
    PlanTargetRow,
    ReviewerRelation,
    Submission,
    utcnow,
)
from credflow.drafts.stage import forget_drafts
from credflow.errors import PermanentError
from credflow.issuance.stage import revoke
from credflow.lifecycle import ACTIVE, State
from credflow.privacy.identity import ERASED, email_fingerprints, find_applicant, tombstone_email
from credflow.privacy.purge import purge_evidence
from credflow.privacy.scrub import Scrubber
from credflow.services import Services
from credflow.states import AssignmentState, BadgeState, move
from credflow.submissions import record_event, transition

#: The revocation reason of badges revoked with an erasure.
REVOKE_REASON = "erased at holder's request"
#: States whose attempt can be withdrawn for an erasure (the lifecycle allows it; no stage is running).
WITHDRAWABLE = frozenset({State.RECEIVED, State.AWAITING_REVIEW, State.IN_REVIEW, State.FAILED})


class ErasureRefused(PermanentError):
    """The erasure cannot be done now; the message says why and what to do."""


@dataclass(frozen=True)
class ErasureReport:
    """What one erase did (a second erase reports ``already_erased`` and changes nothing else)."""

    applicant_id: str
    already_erased: bool
    erased_at: datetime
    submissions: tuple[str, ...]
    withdrawn: tuple[str, ...]  # attempts under way that were withdrawn first
    closed: tuple[str, ...]  # open "not yet" chains closed
    evidence_files: int
    objects_deleted: int  # originals, review videos and posters
    badges_kept: tuple[str, ...]
    badges_revoked: tuple[str, ...]
    relations_removed: int  # reviewers' declared relations naming the applicant's email
    drafts_deleted: int  # portal drafts (answers, own files, coach links and comments) and the plan's dates
    events_mentioning: int  # log entries whose free text still names them (append-only: kept)
    sign_in_records: int = 0  # the address's person, sessions, API tokens and sign-in links, deleted

    @property
    def artifacts(self) -> tuple[str, ...]:
        """Prefect artifacts of the submissions (they show the name): outside credflow's database."""
        return tuple(f"submission-{sid}" for sid in self.submissions)


def _blocking(session: Session, subs: list[Submission]) -> list[tuple[Submission, str]]:
    active_reviews = set(
        session.scalars(
            select(Assignment.submission_id).where(
                Assignment.submission_id.in_([s.id for s in subs]), Assignment.state == AssignmentState.ACTIVE
            )
        )
    )
    found = []
    for sub in subs:
        state = State(sub.state)
        if state in ACTIVE or state is State.FAILED:
            found.append((sub, str(state)))
        elif sub.id in active_reviews:
            found.append((sub, f"{state} with a back-read under way"))
    return found


def _check_reason(reason: str, applicant: Applicant, email: str) -> str:
    text = reason.strip()
    if not text:
        raise ValueError('an erasure needs a reason (for example: --reason "request by email on 2026-11-20")')
    if Scrubber([email, applicant.email, applicant.name]).mentions(text):
        raise ValueError("the reason is kept in the append-only event log: leave out the applicant's name and email")
    return text


def _file_tombstone(item: EvidenceItem) -> str:
    suffix = PurePosixPath(item.display_name).suffix.lower()
    if not (suffix[1:].isalnum() and len(suffix) <= 6):
        suffix = ""
    return f"{item.requirement_key}-{item.position + 1}{suffix}"


def _withdraw(session: Session, blocking: list[tuple[Submission, str]], *, actor: str, now: datetime) -> list[str]:
    stuck = [(sub, why) for sub, why in blocking if State(sub.state) not in WITHDRAWABLE and State(sub.state) in ACTIVE]
    if stuck:
        listed = ", ".join(f"{sub.id[:8]} ({why})" for sub, why in stuck)
        raise ErasureRefused(
            f"cannot withdraw {listed}: a stage is working on it; run the erase again once it has moved on"
        )
    withdrawn = []
    for sub, _ in blocking:
        # The review links stop working at once.
        move(
            session,
            Assignment.state,
            AssignmentState.WITHDRAWN,
            where=Assignment.submission_id == sub.id,
            current=AssignmentState.ACTIVE,
            values={"token_nonce": None},
        )
        if State(sub.state) in WITHDRAWABLE:
            transition(session, sub, State.WITHDRAWN, actor=actor, detail={"reason": "applicant erasure"}, now=now)
            withdrawn.append(sub.id)
    return withdrawn


def _tombstone(
    session: Session, applicant: Applicant, subs: list[Submission], scrub: Scrubber, *, now: datetime
) -> None:
    sub_ids = [s.id for s in subs]
    for sub in subs:
        sub.answers = dict.fromkeys(sub.answers or {}, ERASED)  # the keys say what was answered
        sub.problems = scrub.json(list(sub.problems or ()))
        # Intake keys hash the email (with the answers or the client's key): unlink them.
        sub.idempotency_key = f"erased:{sub.id}"
        for item in sub.evidence:
            item.original_name = item.display_name = _file_tombstone(item)
            item.validation = scrub.json(item.validation) if item.validation is not None else None
    for assignment in session.scalars(select(Assignment).where(Assignment.submission_id.in_(sub_ids))):
        assignment.scores = scrub.json(dict(assignment.scores or {}))
        if assignment.decline_reason:
            assignment.decline_reason = scrub.text(assignment.decline_reason)
    for decision in session.scalars(select(Decision).where(Decision.submission_id.in_(sub_ids))):
        decision.criteria = scrub.json(dict(decision.criteria or {}))
    address = tombstone_email(applicant.id)
    for message in session.scalars(
        select(OutgoingMessage).where(
            or_(OutgoingMessage.recipient == applicant.email, OutgoingMessage.submission_id.in_(sub_ids))
        )
    ):
        if message.recipient == applicant.email:
            message.recipient = address
        message.subject = scrub.text(message.subject)
        if message.last_error:
            message.last_error = scrub.text(message.last_error)
    for badge in session.scalars(select(IssuedBadge).where(IssuedBadge.applicant_id == applicant.id)):
        if badge.expiry_reminded_at is None:
            badge.expiry_reminded_at = now  # no reminder to an address that no longer exists
    applicant.name = ERASED
    applicant.organisation = ERASED
    applicant.email = address
    applicant.erased_at = now


def erase_applicant(
    services: Services,
    email: str,
    *,
    reason: str,
    revoke_badges: bool = False,
    withdraw: bool = False,
    actor: str = "operator",
    now: datetime | None = None,
) -> ErasureReport:
    """Erase one applicant's personal data and evidence, keeping the records audit and verification need.

    Evidence files go from the object store (originals, and review videos and posters no other
    live evidence shares); name, email, organisation, answers, file names and mail recipients
    become a tombstone; the applicant's name and email are scrubbed from reviewer comments,
    problems and mail errors; reviewers' declared relations to the address are removed. One
    ``applicant_erased`` event is logged with the applicant's id and the reason, nothing personal.

    An attempt still in the pipeline (received, validating, transcoding, awaiting or in review,
    adjudicating, failed, or an earned one being back-read) blocks the erasure unless
    ``withdraw`` is given; then those that can be withdrawn are, with their review links revoked.

    Args:
        services: The composition root's services.
        email: The applicant's address (compared lower-cased).
        reason: Why (the request and its date); it must not contain the name or the email.
        revoke_badges: Also revoke every badge of the applicant with reason "erased at holder's request".
        withdraw: Withdraw attempts still in the pipeline instead of refusing.
        actor: Who is erasing, for the log.
        now: The clock, for tests.

    Returns:
        What was done. A second erase of the same address finds the tombstone (by a keyed hash of
        the address), changes nothing but any revocation asked for, and says ``already_erased``.

    Raises:
        UnknownApplicant: no applicant, current or erased, has this address.
        ErasureRefused: an attempt is still in the pipeline (the message lists them).
        ValueError: no reason, or a reason naming the applicant.
    """
    now = now or utcnow()
    keys = services.settings.keyring
    with services.db.session() as session:
        applicant = find_applicant(session, email, keys=keys)
        applicant_id = applicant.id
        text = _check_reason(reason, applicant, email)
        subs = list(session.scalars(select(Submission).where(Submission.applicant_id == applicant_id)))
        blocking = _blocking(session, subs) if applicant.erased_at is None else []
        if blocking and not withdraw:
            listed = ", ".join(f"{sub.id[:8]} ({why})" for sub, why in blocking)
            raise ErasureRefused(
                f"the applicant has attempts still in the pipeline: {listed}; wait for their decisions, "
                "or pass --withdraw to withdraw them (reviewers' links stop working) and erase"
            )
        badge_rows = session.scalars(select(IssuedBadge).where(IssuedBadge.applicant_id == applicant_id)).all()
        badges = [(b.id, b.state) for b in badge_rows]
    revoked = []
    if revoke_badges:  # before the tombstone: a crash after this leaves a re-run that finishes both
        for badge_id, state in badges:
            if state != BadgeState.REVOKED:
                revoke(services, badge_id, reason=REVOKE_REASON, actor=actor)
                revoked.append(badge_id)
    with services.db.session() as session:
        applicant = session.get_one(Applicant, applicant_id)
        subs = list(session.scalars(select(Submission).where(Submission.applicant_id == applicant_id)))
        items = [item for sub in subs for item in sub.evidence]
        if applicant.erased_at is not None:  # a second erase: make sure no bytes are left, change nothing else
            purged = purge_evidence(session, services.store, items, now=now)
            return ErasureReport(
                applicant_id=applicant_id,
                already_erased=True,
                erased_at=applicant.erased_at,
                submissions=tuple(s.id for s in subs),
                withdrawn=(),
                closed=(),
                evidence_files=len(purged.items),
                objects_deleted=len(purged.objects),
                badges_kept=tuple(b for b, s in badges if s != BadgeState.REVOKED and b not in revoked),
                badges_revoked=tuple(revoked),
                relations_removed=0,
                drafts_deleted=0,
                events_mentioning=0,
            )
        old_email = applicant.email
        names = [*(i.original_name for i in items), *(i.display_name for i in items)]
        scrub = Scrubber([old_email, old_email.partition("@")[0], applicant.name, *names])
        withdrawn = _withdraw(session, _blocking(session, subs), actor=actor, now=now) if withdraw else []
        closed = []
        for sub in subs:
            if sub.state == State.NOT_YET:  # no more reminders or resubmissions for this chain
                transition(session, sub, State.CLOSED, actor=actor, detail={"reason": "erased"}, now=now)
                closed.append(sub.id)
        purged = purge_evidence(session, services.store, items, now=now)
        mentioning = sum(
            1
            for event in session.scalars(select(Event).where(Event.submission_id.in_([s.id for s in subs])))
            if scrub.mentions(event.actor) or scrub.mentions(event.detail)
        )
        _tombstone(session, applicant, subs, scrub, now=now)
        applicant.erased_email_hash = email_fingerprints(keys, old_email)[0]
        relations = session.execute(
            delete(ReviewerRelation).where(func.lower(ReviewerRelation.applicant_email) == old_email)
        )
        removed = int(relations.rowcount or 0)  # type: ignore[attr-defined]
        drafts = forget_drafts(session, services.store, applicant_id)
        session.execute(delete(PlanTargetRow).where(PlanTargetRow.applicant_id == applicant_id))
        # A confirmation of hours names the educator: its verification page says it is no longer on record.
        session.execute(delete(HoursConfirmation).where(HoursConfirmation.applicant_id == applicant_id))
        session.execute(delete(CohortConsent).where(CohortConsent.applicant_id == applicant_id))  # shown to no one
        accounts = forget_address(session, old_email)  # signed-in sessions and API tokens end with the data
        kept = tuple(b for b, s in badges if s != BadgeState.REVOKED and b not in revoked)
        record_event(
            session,
            submission_id=None,
            kind="applicant_erased",
            actor=actor,
            detail={
                "applicant": applicant_id,
                "reason": text,
                "submissions": len(subs),
                "evidence_files": len(purged.items),
                "objects_deleted": len(purged.objects),
                "badges_kept": list(kept),
                "badges_revoked": list(revoked),
            },
            at=now,
        )
        return ErasureReport(
            applicant_id=applicant_id,
            already_erased=False,
            erased_at=now,
            submissions=tuple(s.id for s in subs),
            withdrawn=tuple(withdrawn),
            closed=tuple(closed),
            evidence_files=len(purged.items),
            objects_deleted=len(purged.objects),
            badges_kept=kept,
            badges_revoked=tuple(revoked),
            relations_removed=removed,
            drafts_deleted=drafts,
            events_mentioning=mentioning,
            sign_in_records=accounts,
        )
