"""Badge notices (awarded, renewed, expiring) sent once each, and the daily badge sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import select

from credflow.db.models import Applicant, IssuedBadge, utcnow
from credflow.issuance.stage import apply_pathways, badge_url
from credflow.mail.render import render_message
from credflow.notifications.stage import DeliveryOutcome, deliver
from credflow.services import Services
from credflow.states import BadgeState

REMIND_DAYS = 60  # Credly reminds 60 days before a badge expires


class BadgeNotice(StrEnum):
    ISSUED = "badge_issued"
    RENEWED = "badge_renewed"
    EXPIRING = "badge_expiring"


def send_badge_notice(services: Services, badge_id: str, notice: BadgeNotice) -> DeliveryOutcome:
    """Email the holder about one badge; the key ``<notice>:<badge>`` makes it once only."""
    with services.db.session() as session:
        badge = session.get_one(IssuedBadge, badge_id)
        applicant = session.get_one(Applicant, badge.applicant_id)
        message = render_message(
            notice.value,
            idempotency_key=f"{notice.value}:{badge.id}",
            to_email=applicant.email,
            to_name=applicant.name,
            context={
                "applicant_name": applicant.name,
                "badge_name": badge.ob3["credentialSubject"]["achievement"]["name"],
                "issuer_name": badge.ob3["issuer"].get("name", badge.issuer_id),
                "valid_until": f"{badge.valid_until:%d %B %Y}" if badge.valid_until else "",
                "link": badge_url(services, badge.id),
                "short_id": badge.id[:8],
                "attempt": 1,
            },
        )
        submission_id = badge.submission_id
    return deliver(services, message, submission_id=submission_id)


@dataclass(frozen=True)
class BadgeSweep:
    reminded: tuple[str, ...]
    expired: tuple[str, ...]


def sweep_badges(services: Services, *, today: date | None = None) -> BadgeSweep:
    """Send the 60-day expiry reminder once per badge and record pathway expiries."""
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
    for badge_id in remind:
        send_badge_notice(services, badge_id, BadgeNotice.EXPIRING)
        with services.db.session() as session:
            session.get_one(IssuedBadge, badge_id).expiry_reminded_at = utcnow()
    expired: list[str] = []
    for applicant_id in holders:
        expired += apply_pathways(services, applicant_id, today=today).expired
    return BadgeSweep(tuple(remind), tuple(expired))
