"""Builders for badge-page and wallet tests: three earners' badges (current, revoked, erased) and a page parser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from credflow.db.models import IssuedBadge
from credflow.issuance.stage import issue_for_decision, revoke
from credflow.privacy.erase import erase_applicant
from credflow.services import Services, build_services
from credflow.settings import load_settings
from tests.conftest import ROOT
from tests.utils.builders import applicant
from tests.utils.review_cycle import NOW, decided_submission, review_and_decide, to_review

#: The helpers decide at NOW; the pages look an hour later.
SEEN_AT = NOW + timedelta(hours=1)
ANA, BEN, CY = applicant(), applicant("Ben Brown"), applicant("Cy Chen")
REVOKE_REASON = "plagiarised evidence"


@dataclass(frozen=True)
class BadgeWorld:
    """Three earners: Ana (a micro-credential and the Certified pathway badge), Ben (revoked), Cy (erased)."""

    services: Services
    ana_micro: str
    ana_certified: str
    ben_micro: str
    cy_micro: str


def badge_world(tmp: Path, *, public_url: str = "http://127.0.0.1:8000") -> BadgeWorld:
    """Issue the three earners' badges (reviewed and decided at NOW); the caller closes ``services``."""
    services = build_services(load_settings(data_dir=tmp / "data", catalog_dir=ROOT / "rubrics", public_url=public_url))
    ana = issue_for_decision(services, decided_submission(services, tmp), today=NOW.date())
    assert ana.micro is not None and len(ana.issued) == 1
    micro = {}
    for who in (BEN, CY):
        sid = to_review(services, tmp, who)
        review_and_decide(services, sid, name=who.name)
        with services.db.session() as session:
            micro[who.name] = session.scalars(select(IssuedBadge.id).where(IssuedBadge.submission_id == sid)).one()
    revoke(services, micro[BEN.name], reason=REVOKE_REASON)
    erase_applicant(services, CY.email, reason="request by email on 2026-11-24", now=SEEN_AT)
    return BadgeWorld(services, ana.micro, ana.issued[0], micro[BEN.name], micro[CY.name])


class Page(HTMLParser):
    """A parsed page: every start tag with its attributes, and the text of the one ``<h1>``."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.h1 = ""
        self._in_h1 = False
        self.feed(html)
        self.h1 = " ".join(self.h1.split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1 += data

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """The attributes of every ``tag`` whose attributes include ``attrs``."""
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def meta(self, prop: str) -> str:
        """The content of the one ``<meta>`` with this ``property`` (or ``name``)."""
        [found] = self.all("meta", property=prop) or self.all("meta", name=prop)
        return found["content"]
