"""Public badge pages: the verification page, the credential JSON, the baked image, the status list."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from credflow.badges.verify import verify_credential
from credflow.db.models import IssuedBadge
from credflow.issuance import status_list_credential
from credflow.services import Services

if TYPE_CHECKING:
    from credflow.web.app import Pages

JSON_LD = "application/ld+json"


def linkedin_url(badge: IssuedBadge, *, name: str, organisation: str, url: str) -> str:
    """LinkedIn's "add to profile" link for a certification."""
    query = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": organisation,
        "issueYear": badge.valid_from.year,
        "issueMonth": badge.valid_from.month,
        "certUrl": url,
        "certId": badge.id,
    }
    if badge.valid_until is not None:
        query |= {"expirationYear": badge.valid_until.year, "expirationMonth": badge.valid_until.month}
    return "https://www.linkedin.com/profile/add?" + urlencode(query)


def register_badge_routes(app: FastAPI, services: Services, pages: Pages, clock: Callable[[], datetime]) -> None:
    """Add the public badge routes to ``app``."""

    def load(badge_id: str) -> IssuedBadge | None:
        with services.db.session() as session:
            badge = session.get(IssuedBadge, badge_id)
            if badge is not None:
                session.expunge(badge)
            return badge

    def missing() -> HTMLResponse:
        return pages.render(
            "denied.html", status=404, heading="No such badge", message="No badge has this address. Check the link."
        )

    @app.get("/badges/{badge_id}", response_class=HTMLResponse)
    def badge_page(badge_id: str) -> Response:
        badge = load(badge_id)
        if badge is None:
            return missing()
        credential: dict[str, Any] = badge.ob3
        status_url = credential.get("credentialStatus", {}).get("statusListCredential")
        lists = {status_url: status_list_credential(services, badge.issuer_id)} if status_url else None
        result = verify_credential(credential, now=clock(), status_lists=lists)
        achievement = credential["credentialSubject"]["achievement"]
        issuer = credential["issuer"]
        url = f"{services.settings.public_url}/badges/{badge.id}"
        return pages.render(
            "badge.html",
            badge=badge,
            name=achievement["name"],
            description=achievement["description"],
            criteria=achievement.get("criteria", {}).get("narrative", ""),
            issuer_name=issuer.get("name", ""),
            issuer_id=issuer["id"],
            verified=result.verified,
            checks=result.checks,
            state=badge.state,
            revoke_reason=badge.revoke_reason,
            json_text=json.dumps(credential, indent=2, ensure_ascii=False),
            json_url=f"{url}/credential.json",
            png_url=f"{url}/badge.png",
            linkedin=linkedin_url(badge, name=achievement["name"], organisation=issuer.get("name", ""), url=url),
        )

    @app.get("/badges/{badge_id}/credential.json")
    def badge_json(badge_id: str) -> Response:
        badge = load(badge_id)
        if badge is None:
            return JSONResponse({"error": "no such badge"}, status_code=404)
        return Response(
            json.dumps(badge.ob3, indent=2, ensure_ascii=False),
            media_type=JSON_LD,
            headers={"Content-Disposition": f'attachment; filename="{badge.badge_key}-{badge.id[:8]}.json"'},
        )

    @app.get("/badges/{badge_id}/badge.png")
    def badge_png(badge_id: str) -> Response:
        badge = load(badge_id)
        key = f"badges/{badge_id}.png"
        if badge is None or not services.store.exists(key):
            return JSONResponse({"error": "no such badge image"}, status_code=404)
        return Response(services.store.get_bytes(key), media_type="image/png")

    @app.get("/status/{issuer_id}/revocation")
    def status_list(issuer_id: str) -> Response:
        if not any(c.issuer.id == issuer_id for c in services.catalog):
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        return Response(json.dumps(status_list_credential(services, issuer_id)), media_type=JSON_LD)
