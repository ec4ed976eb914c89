"""Public badge pages: the verification page, the credential JSON, the baked image, the status list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.assessment.stage import TEST_CRITERION
from credflow.badges.errors import KeyStoreError
from credflow.badges.images import BadgeArt, badge_colour, render_png
from credflow.badges.ob2 import BadgeClass, PublicKey, revocation_list_document
from credflow.badges.ob2 import Issuer as OB2Issuer
from credflow.badges.ob3 import achievement_document
from credflow.badges.verify import VerificationResult, verify_credential
from credflow.catalog.models import Credential, Issuer
from credflow.db.models import Applicant, Decision, IssuedBadge, Submission
from credflow.formatting import long_date
from credflow.issuance.stage import (
    AchievementEntry,
    achievement,
    key_store,
    ob2_issuer_url,
    ob2_key_store,
    status_list_credential,
)
from credflow.privacy.identity import earner_name
from credflow.services import Services
from credflow.states import BadgeState
from web.deps import WebDeps

JSON_LD = "application/ld+json"
#: Badge and submission ids (``new_id``: 32 hex digits); anything else is looked up nowhere.
RECORD_ID = re.compile(r"[0-9a-f]{32}")


def wants_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers JSON(-LD) to HTML (a browser's ``text/html, */*`` does not)."""
    best_json = best_html = 0.0
    for part in (accept or "").split(","):
        media, *params = (item.strip() for item in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in (JSON_LD, "application/json"):
            best_json = max(best_json, quality)
        elif media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, quality)
    return best_json > best_html


def achievement_page(entry: AchievementEntry) -> dict[str, Any]:
    """The view model of achievement.html: what a badge's ``achievement.id`` shows a person."""
    info = entry.info
    return {
        "name": info.name,
        "description": info.description,
        "criteria": info.criteria_narrative,
        "issuer_name": entry.issuer.name,
        "achievement_type": info.achievement_type,
        "image_url": info.image_url,
        "json_url": f"{info.id}?format=json",
    }


def linkedin_url(badge: IssuedBadge, *, name: str, organisation: str, url: str) -> str:
    """LinkedIn's "add to profile" link for a certification: name, organisation, issue date, expiry, URL and id."""
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


def _art(services: Services, badge_key: str) -> BadgeArt | None:
    credential = services.catalog.credentials.get(badge_key)
    if credential is not None:
        return BadgeArt.for_credential(credential)
    for pathway in services.pathways.values():
        for info in pathway.badges:
            if info.id == badge_key:
                issuer = next(
                    (c.issuer.name for c in services.catalog if c.issuer.id == pathway.issuer), pathway.issuer
                )
                return BadgeArt(name=info.name, issuer_name=issuer, colour=badge_colour(info.id))
    return None


def _day(moment: datetime) -> str:
    return long_date(moment)


@dataclass(frozen=True)
class BadgeStatus:
    """A badge's state in words: one word (the label), a tone for its colour, and a sentence saying what it means."""

    word: str
    tone: str  # good | bad | info
    sentence: str


def badge_status(
    *,
    state: str,
    valid_until: datetime | None,
    now: datetime,
    verified: bool | None,
    revoke_reason: str | None = None,
    renewed_on: datetime | None = None,
) -> BadgeStatus:
    """What a badge's page and its earner's wallet say about it.

    Args:
        state: The stored :class:`BadgeState`.
        valid_until: Its expiry, if it has one.
        now: The clock.
        verified: What verifying the credential found; None where it was not verified (the wallet).
        revoke_reason: The issuer's reason, for a revoked badge.
        renewed_on: When the renewal that replaced a superseded badge starts.

    Returns:
        Revoked (with the reason), Renewed, Expired, Not valid, Verified, or Valid (stored state, not verified).
    """
    if state == BadgeState.REVOKED:
        reason = f": {revoke_reason}" if revoke_reason else ""
        return BadgeStatus("Revoked", "bad", f"The issuer revoked this badge{reason}. It is no longer valid.")
    if state == BadgeState.SUPERSEDED:
        when = f" on {_day(renewed_on)}" if renewed_on is not None else ""
        return BadgeStatus("Renewed", "info", f"This badge was renewed{when}: a newer badge carries it forward.")
    if state == BadgeState.EXPIRED or (valid_until is not None and valid_until <= now):
        until = f" on {_day(valid_until)}" if valid_until is not None else ""
        return BadgeStatus("Expired", "bad", f"This badge expired{until}.")
    if verified is False:
        return BadgeStatus("Not valid", "bad", "This credential did not pass verification: see the checks below.")
    if verified:
        return BadgeStatus(
            "Verified", "good", "The signature, the issuer's key, the dates and the revocation list all check out."
        )
    return BadgeStatus("Valid", "good", "Open its page to verify the signed credential.")


KIND_LABELS = {"micro": "Micro-credential", "pathway": "Pathway badge"}


def badge_card(
    badge: IssuedBadge, *, public_url: str, now: datetime, renewed_on: datetime | None = None
) -> dict[str, Any]:
    """What the badge page and the wallet show of one badge: names, dates, state, share link and downloads."""
    credential: dict[str, Any] = badge.ob3
    achievement = credential["credentialSubject"]["achievement"]
    issuer = credential["issuer"]
    url = f"{public_url}/badges/{badge.id}"
    stem = f"{badge.badge_key}-{badge.id[:8]}"
    downloads = [
        {"label": "Badge image (PNG, credential inside)", "url": f"{url}/badge.png", "file": f"{stem}.png"},
        {"label": "Badge image (SVG, credential inside)", "url": f"{url}/badge.svg", "file": f"{stem}.svg"},
        {"label": "Open Badges 3.0 credential (JSON)", "url": f"{url}/credential.json", "file": f"{stem}.json"},
    ]
    if badge.ob2:
        downloads.append(
            {
                "label": "Open Badges 2.0 assertion (JSON)",
                "url": str(badge.ob2["hosted"]["id"]),
                "file": f"{stem}-ob2.json",
            }
        )
    status = badge_status(
        state=badge.state,
        valid_until=badge.valid_until,
        now=now,
        verified=None,
        revoke_reason=badge.revoke_reason,
        renewed_on=renewed_on,
    )
    return {
        "id": badge.id,
        "name": achievement["name"],
        "description": achievement.get("description", ""),
        "kind": KIND_LABELS.get(badge.kind, "Badge"),
        "issuer_name": issuer.get("name", ""),
        "issuer_url": issuer.get("url"),
        "issued": _day(badge.valid_from),
        "expires": _day(badge.valid_until) if badge.valid_until is not None else None,
        "standing": status,
        "page_url": url,
        "png_url": f"{url}/badge.png",
        "downloads": downloads,
        # A revoked badge is not one to add to a profile.
        "linkedin": None
        if badge.state == BadgeState.REVOKED
        else linkedin_url(badge, name=achievement["name"], organisation=issuer.get("name", ""), url=url),
    }


def badge_page(
    badge: IssuedBadge,
    result: VerificationResult,
    *,
    public_url: str,
    now: datetime,
    earner: str,
    evidence: dict[str, Any] | None = None,
    earned_with: list[dict[str, str]] | None = None,
    renewal: IssuedBadge | None = None,
) -> dict[str, Any]:
    """The view model of badge.html: the badge, its earner, what verifying it found, its evidence and downloads.

    Args:
        badge: The issued badge.
        result: What verifying its OB 3.0 credential found.
        public_url: The deployment's public URL.
        now: The clock.
        earner: The earner's public name (:func:`credflow.privacy.identity.earner_name`), never an address.
        evidence: A micro-credential's evidence record (:func:`evidence_record_page`) and its URL.
        earned_with: A pathway badge's micro-credential badges (name, issued, url).
        renewal: The badge that renewed this one, if it was renewed.
    """
    card = badge_card(badge, public_url=public_url, now=now, renewed_on=renewal.valid_from if renewal else None)
    credential: dict[str, Any] = badge.ob3
    achievement = credential["credentialSubject"]["achievement"]
    status = badge_status(
        state=badge.state,
        valid_until=badge.valid_until,
        now=now,
        verified=result.verified,
        revoke_reason=badge.revoke_reason,
        renewed_on=renewal.valid_from if renewal else None,
    )
    return card | {
        "card": card,
        "badge": badge,
        "earner": earner[:1].upper() + earner[1:],
        "criteria": achievement.get("criteria", {}).get("narrative", ""),
        "issuer_id": credential["issuer"]["id"],
        "verified": result.verified,
        "checks": result.checks,
        "standing": status,
        "json_text": json.dumps(credential, indent=2, ensure_ascii=False),
        "evidence": evidence,
        "earned_with": earned_with or [],
        "renewal_url": f"{public_url}/badges/{renewal.id}" if renewal is not None else None,
        "og_image": card["png_url"],
        "og_title": f"{earner[:1].upper() + earner[1:]} earned {achievement['name']}",
    }


def evidence_record_page(credential: Credential, submission: Submission, decision: Decision) -> dict[str, Any]:
    """The view model of evidence.html: what an earned submission was assessed on, never its files."""
    counts = {req.key: 0 for req in credential.evidence}
    for item in submission.evidence:
        counts[item.requirement_key] = counts.get(item.requirement_key, 0) + 1
    evidence = []
    for req in credential.evidence:
        if req.kind.value == "text":
            if submission.answers.get(req.key):
                evidence.append({"title": req.title, "count": 1, "unit": "written answer"})
        elif counts.get(req.key):
            count = counts[req.key]
            evidence.append({"title": req.title, "count": count, "unit": req.kind.value + ("" if count == 1 else "s")})
    adjudicated = any(v.get("source") == "adjudication" for v in decision.criteria.values())
    passed = decision.criteria.get(TEST_CRITERION)  # earned by the formal test: no reviewers, no rubric
    test = (
        {"score": passed["score"], "out_of": passed["out_of"], "needed": passed["needed"]}
        if isinstance(passed, dict)
        else None
    )
    return {
        "test": test,
        "credential_title": credential.title,
        "issuer_name": credential.issuer.name,
        "decided_on": long_date(decision.decided_at),
        "reviewers": credential.reviewers_per_submission,
        "criteria": credential.criteria,
        "evidence": evidence,
        "adjudicated": adjudicated,
    }


def routes(deps: WebDeps) -> APIRouter:
    """The public badge routes: pages, credentials, images, issuer documents and status lists."""
    services, pages, clock = deps.services, deps.pages, deps.clock
    router = APIRouter()

    def load(badge_id: str) -> IssuedBadge | None:
        if not RECORD_ID.fullmatch(badge_id):  # PostgreSQL refuses a NUL in a lookup with an error (a 500)
            return None
        with services.db.session() as session:
            badge = session.get(IssuedBadge, badge_id)
            if badge is not None:
                session.expunge(badge)
            return badge

    def missing() -> HTMLResponse:
        return pages.render(
            "denied.html", status=404, heading="No such badge", message="No badge has this address. Check the link."
        )

    def earned_with(session: Session, badge: IssuedBadge) -> list[dict[str, str]]:
        """A pathway badge's micro-credential badges: the steps of its pathway the earner held when it was issued."""
        steps = next(
            (p.steps for p in services.pathways.values() if any(b.id == badge.badge_key for b in p.badges)), ()
        )
        rows = session.scalars(
            select(IssuedBadge)
            .where(
                IssuedBadge.applicant_id == badge.applicant_id,
                IssuedBadge.kind == "micro",
                IssuedBadge.badge_key.in_(steps),
                IssuedBadge.state != BadgeState.REVOKED,
            )
            .order_by(IssuedBadge.valid_from)
        ).all()
        return [
            {
                "name": str(row.ob3["credentialSubject"]["achievement"]["name"]),
                "issued": _day(row.valid_from),
                "url": f"{services.settings.public_url}/badges/{row.id}",
            }
            for row in rows
            if row.valid_from.date() <= badge.valid_from.date()
        ]

    @router.get("/badges/{badge_id}", response_class=HTMLResponse, name="badge_page")
    def get_badge_page(badge_id: str) -> Response:
        if not RECORD_ID.fullmatch(badge_id):
            return missing()
        now = clock()
        with services.db.session() as session:
            badge = session.get(IssuedBadge, badge_id)
            if badge is None:
                return missing()
            applicant = session.get(Applicant, badge.applicant_id)
            earner = earner_name(
                applicant.name if applicant else None, erased=applicant is None or applicant.erased_at is not None
            )
            evidence = None
            if badge.submission_id is not None:
                decision = session.scalar(select(Decision).where(Decision.submission_id == badge.submission_id))
                sub = session.get(Submission, badge.submission_id)
                credential = services.catalog.credentials.get(badge.badge_key)
                if decision is not None and sub is not None and credential is not None:
                    evidence = evidence_record_page(credential, sub, decision) | {
                        "url": f"{services.settings.public_url}/evidence/{sub.id}"
                    }
            pathway_steps = earned_with(session, badge) if badge.kind == "pathway" else []
            renewal = session.get(IssuedBadge, badge.superseded_by) if badge.superseded_by else None
            for row in (badge, renewal):
                if row is not None:
                    session.expunge(row)
        credential_doc: dict[str, Any] = badge.ob3
        status_url = credential_doc.get("credentialStatus", {}).get("statusListCredential")
        lists = (
            {status_url: status_list_credential(services, badge.issuer_id, status_url.split("/")[-2], now=now)}
            if status_url
            else None
        )
        result = verify_credential(credential_doc, now=now, status_lists=lists, resolver=key_store(services).resolver())
        return pages.render(
            "badge.html",
            **badge_page(
                badge,
                result,
                public_url=services.settings.public_url,
                now=now,
                earner=earner,
                evidence=evidence,
                earned_with=pathway_steps,
                renewal=renewal,
            ),
        )

    @router.get("/evidence/{submission_id}", response_class=HTMLResponse)
    def evidence_record(submission_id: str) -> Response:
        # The public record an OB 3.0 evidence entry links to: what was assessed, never the files.
        with services.db.session() as session:
            decision = sub = None
            if RECORD_ID.fullmatch(submission_id):
                decision = session.scalar(select(Decision).where(Decision.submission_id == submission_id))
                sub = session.get(Submission, submission_id)
            if decision is None or sub is None or decision.outcome != "earned":
                return pages.render(
                    "denied.html",
                    status=404,
                    heading="No such record",
                    message="No earned micro-credential has this record.",
                )
            credential = services.catalog.get(sub.credential_id)
            return pages.render("evidence.html", **evidence_record_page(credential, sub, decision))

    @router.get("/issuers/{issuer_id}/did.json")
    def did_document(issuer_id: str) -> Response:
        # Published for did:web issuers (CREDFLOW_DID_WEB_BASE = <public url>/issuers): old keys stay listed.
        if services.settings.did_web_base is None or not any(c.issuer.id == issuer_id for c in services.catalog):
            return JSONResponse({"error": "no DID document"}, status_code=404)
        return JSONResponse(key_store(services).did_document(issuer_id), media_type="application/did+json")

    @router.get("/badges/{badge_id}/credential.json")
    def badge_json(badge_id: str) -> Response:
        badge = load(badge_id)
        if badge is None:
            return JSONResponse({"error": "no such badge"}, status_code=404)
        return Response(
            json.dumps(badge.ob3, indent=2, ensure_ascii=False),
            media_type=JSON_LD,
            headers={"Content-Disposition": f'attachment; filename="{badge.badge_key}-{badge.id[:8]}.json"'},
        )

    @router.get("/badges/{badge_id}/badge.svg")
    def badge_svg(badge_id: str) -> Response:
        # The badge art as SVG with the OB 3.0 credential baked in (<openbadges:credential>).
        badge = load(badge_id)
        key = f"badges/{badge_id}.svg"
        if badge is None or not services.store.exists(key):
            return JSONResponse({"error": "no such badge image"}, status_code=404)
        return Response(services.store.get_bytes(key), media_type="image/svg+xml")

    @router.get("/badges/{badge_id}/badge.png")
    def badge_png(badge_id: str) -> Response:
        badge = load(badge_id)
        key = f"badges/{badge_id}.png"
        if badge is None or not services.store.exists(key):
            return JSONResponse({"error": "no such badge image"}, status_code=404)
        return Response(services.store.get_bytes(key), media_type="image/png")

    def catalog_issuer(issuer_id: str) -> Issuer | None:
        return next((c.issuer for c in services.catalog if c.issuer.id == issuer_id), None)

    @router.get("/achievements/{badge_key}")
    def achievement_resource(badge_key: str, request: Request, format: str | None = None) -> Response:
        # A credential's achievement.id: JSON-LD for software that asks for it, a page for people.
        entry = achievement(services, badge_key)
        as_json = format == "json" or wants_json(request.headers.get("accept"))
        if entry is None:
            if as_json:
                return JSONResponse({"error": "no such achievement"}, status_code=404, headers={"Vary": "Accept"})
            return pages.render(
                "denied.html", status=404, heading="No such achievement", message="No badge has this address."
            )
        if as_json:
            body = json.dumps(achievement_document(entry.info), indent=2, ensure_ascii=False)
            return Response(body, media_type=JSON_LD, headers={"Vary": "Accept"})
        page = pages.render("achievement.html", **achievement_page(entry))
        page.headers["Vary"] = "Accept"
        return page

    @router.get("/achievements/{badge_key}/image.png")
    def achievement_image(badge_key: str) -> Response:
        art = _art(services, badge_key)
        if art is None:
            return JSONResponse({"error": "no such achievement"}, status_code=404)
        return Response(render_png(art), media_type="image/png")

    @router.get("/ob2/assertions/{badge_id}")
    def ob2_assertion(badge_id: str) -> Response:
        badge = load(badge_id)
        if badge is None or not badge.ob2:
            return JSONResponse({"error": "no such assertion"}, status_code=404)
        hosted: dict[str, Any] = badge.ob2["hosted"]
        if badge.state == BadgeState.REVOKED:
            # OB 2.0 hosted verification: a revoked assertion answers 410 Gone with revoked: true.
            gone: dict[str, Any] = {k: hosted[k] for k in ("@context", "id", "type") if k in hosted}
            gone |= {"revoked": True, "revocationReason": badge.revoke_reason or "revoked by the issuer"}
            return JSONResponse(gone, status_code=410, media_type=JSON_LD)
        return JSONResponse(hosted, media_type=JSON_LD)

    @router.get("/ob2/badges/{badge_key}")
    def ob2_badge_class(badge_key: str) -> Response:
        base = services.settings.public_url
        credential = services.catalog.credentials.get(badge_key)
        if credential is not None:
            badge_class = BadgeClass.from_credential(
                credential,
                id=f"{base}/ob2/badges/{badge_key}",
                image=f"{base}/achievements/{badge_key}/image.png",
                issuer=ob2_issuer_url(services, credential.issuer.id),
            )
            return JSONResponse(dict(badge_class.document()), media_type=JSON_LD)
        for pathway in services.pathways.values():
            for info in pathway.badges:
                if info.id == badge_key:
                    badge_class = BadgeClass(
                        id=f"{base}/ob2/badges/{badge_key}",
                        name=info.name,
                        description=info.description,
                        image=f"{base}/achievements/{badge_key}/image.png",
                        criteria=f"{pathway.title}: {info.description}",
                        issuer=ob2_issuer_url(services, pathway.issuer),
                    )
                    return JSONResponse(dict(badge_class.document()), media_type=JSON_LD)
        return JSONResponse({"error": "no such badge class"}, status_code=404)

    @router.get("/ob2/issuers/{issuer_id}")
    def ob2_issuer(issuer_id: str) -> Response:
        issuer = catalog_issuer(issuer_id)
        if issuer is None:
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        key = ob2_key_store(services, issuer_id).current()
        url = ob2_issuer_url(services, issuer_id)
        profile = OB2Issuer(
            id=url,
            name=issuer.name,
            url=str(issuer.url),
            email=issuer.email,
            public_key=PublicKey(id=f"{url}/keys/{key.name}", owner=url, public_key_pem=key.public_key_pem),
            revocation_list=f"{url}/revocations",
        )
        return JSONResponse(dict(profile.document()), media_type=JSON_LD)

    @router.get("/ob2/issuers/{issuer_id}/keys/{name}")
    def ob2_key(issuer_id: str, name: str) -> Response:
        if catalog_issuer(issuer_id) is None:
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        pem = ob2_key_store(services, issuer_id).public_keys().get(name)
        if pem is None:
            return JSONResponse({"error": "no such key"}, status_code=404)
        url = ob2_issuer_url(services, issuer_id)
        return JSONResponse(
            dict(PublicKey(id=f"{url}/keys/{name}", owner=url, public_key_pem=pem).document()), media_type=JSON_LD
        )

    @router.get("/ob2/issuers/{issuer_id}/revocations")
    def ob2_revocations(issuer_id: str) -> Response:
        if catalog_issuer(issuer_id) is None:
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        with services.db.session() as session:
            rows = session.scalars(
                select(IssuedBadge).where(IssuedBadge.issuer_id == issuer_id, IssuedBadge.state == BadgeState.REVOKED)
            ).all()
            revoked = {str(r.ob2["signed_id"]): r.revoke_reason for r in rows if r.ob2}
        url = ob2_issuer_url(services, issuer_id)
        return JSONResponse(
            dict(revocation_list_document(id=f"{url}/revocations", issuer=url, revoked=revoked)), media_type=JSON_LD
        )

    @router.get("/status/{issuer_id}/{fingerprint}/revocation")
    def status_list(issuer_id: str, fingerprint: str) -> Response:
        if not any(c.issuer.id == issuer_id for c in services.catalog):
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        try:
            document = status_list_credential(services, issuer_id, fingerprint, now=clock())
        except KeyStoreError:
            return JSONResponse({"error": "no such revocation list"}, status_code=404)
        return Response(json.dumps(document), media_type=JSON_LD)

    return router
