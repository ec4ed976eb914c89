"""The earner's wallet, ``/me/badges``: every badge of the signed-in applicant, with its page, share link and files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from credflow.db.models import IssuedBadge
from credflow.states import BadgeState
from web.deps import WebDeps, sign_in_redirect
from web.pages.public import badge_card

#: The wallet's order: badges that count first, then renewed, expired and revoked ones.
STATE_ORDER = {BadgeState.ACTIVE: 0, BadgeState.SUPERSEDED: 1, BadgeState.EXPIRED: 2, BadgeState.REVOKED: 3}


def wallet_cards(badges: Sequence[IssuedBadge], *, public_url: str, now: datetime) -> list[dict[str, Any]]:
    """The wallet's cards: current badges first (newest first within each state), each with its renewal date."""
    by_id = {badge.id: badge for badge in badges}
    ordered = sorted(badges, key=lambda b: (STATE_ORDER.get(BadgeState(b.state), 9), -b.valid_from.timestamp(), b.id))
    cards = []
    for badge in ordered:
        renewal = by_id.get(badge.superseded_by) if badge.superseded_by else None
        cards.append(
            badge_card(badge, public_url=public_url, now=now, renewed_on=renewal.valid_from if renewal else None)
        )
    return cards


def routes(deps: WebDeps) -> APIRouter:
    """The wallet page of the signed-in applicant."""
    services, clock, accounts = deps.services, deps.clock, deps.accounts
    router = APIRouter()

    @router.get("/me/badges", response_class=HTMLResponse, name="wallet")
    def get_wallet(request: Request) -> Response:
        who = accounts.current(request)
        if who is None:
            return sign_in_redirect(request)
        badges: list[IssuedBadge] = []
        if who.applicant_id is not None:  # someone who never applied holds no badge
            with services.db.session() as session:
                badges = list(
                    session.scalars(select(IssuedBadge).where(IssuedBadge.applicant_id == who.applicant_id)).all()
                )
                session.expunge_all()
        cards = wallet_cards(badges, public_url=services.settings.public_url, now=clock())
        return accounts.render(request, "wallet.html", cards=cards)

    return router
