"""The cohort and milestone pages through TestClient: consent (opt in, out, mutual), scope, CSRF, one celebration."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credflow.db.models import CohortConsent, MilestoneCelebration, OutgoingMessage
from credflow.mail.base import Mailer, Message, SendReceipt, TransientMailError
from credflow.privacy.erase import erase_applicant
from credflow.privacy.export import export_applicant
from credflow.services import Services
from tests.utils.cohort_world import (
    ANCHORING,
    DISCUSSIONS,
    LAKESIDE_ADMIN,
    NOW,
    OPERATOR,
    RIVERSIDE_ADMIN,
    CohortWorld,
    build_cohort_world,
)
from tests.utils.identity import csrf_of, session_cookie, signed_in_client
from web.app import create_app

ANA, BEN, CARA = "ana.alvarez@example.org", "ben.okoro@example.org", "cara.diaz@example.org"


@pytest.fixture
def world(services: Services) -> CohortWorld:
    return build_cohort_world(services)


def client_for(services: Services, email: str) -> TestClient:
    """A browser signed in as ``email`` on an app whose clock is NOW."""
    return signed_in_client(services, email, now=lambda: NOW)


def opt(client: TestClient, credential: str, shown: str) -> None:
    token = csrf_of(client.get("/me/cohorts").text)
    response = client.post(
        f"/me/cohorts/{credential}/consent", data={"csrf": token, "shown": shown}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(f"/me/cohorts?saved={'in' if shown == 'yes' else 'out'}")


def outbox(services: Services) -> list[dict[str, str]]:
    """The outbox's messages' metadata (recipient, subject, kind)."""
    folder = services.settings.resolved_outbox_dir
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


@pytest.mark.parametrize("path", ["/me/cohorts", "/admin/cohorts", "/admin/milestones"])
def test_signed_out_visitors_go_to_sign_in_and_back(services, world, path):
    response = TestClient(create_app(services, now=lambda: NOW)).get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("path", ["/admin/cohorts", "/admin/milestones"])
def test_an_educator_cannot_open_the_admin_pages(services, world, path):
    page = client_for(services, ANA).get(path)
    assert page.status_code == 403
    assert "You cannot open the program admin workspace" in page.text


def test_nobody_is_shown_by_default_and_the_page_says_why(services, world):
    page = client_for(services, ANA).get("/me/cohorts")
    assert page.status_code == 200
    assert "<h1>Your cohorts</h1>" in page.text
    assert "Preparing to Facilitate the Anchoring Phenomenon Routine" in page.text
    assert "Not shown</span> You are not shown to anyone working on it" in page.text
    assert "Nobody else working on it has agreed to connect yet." in page.text
    assert "Show me and connect" in page.text
    for other in (BEN, CARA, "Ben Okoro", "Cara Diaz"):
        assert other not in page.text


def test_consent_is_mutual_and_withdrawal_hides_at_once(services, world):
    ana, ben, cara = client_for(services, ANA), client_for(services, BEN), client_for(services, CARA)
    opt(ben, ANCHORING, "yes")
    # Ana has not agreed: she learns someone would connect, not who.
    page = ana.get("/me/cohorts").text
    assert "One other educator working on it has agreed to connect." in page
    assert "Ben Okoro" not in page and BEN not in page
    # Ben agreed but nobody else did: he sees no one (Ana and Cara did not consent).
    page = ben.get("/me/cohorts").text
    assert "You are shown</span>" in page
    assert "Nobody else working on it has agreed to connect yet." in page
    assert "Ana Alvarez" not in page and "Cara Diaz" not in page

    opt(ana, ANCHORING, "yes")
    page = ana.get("/me/cohorts").text
    assert "Ben Okoro" in page and f'href="mailto:{BEN}"' in page and "Riverside Unified" in page
    assert "Cara Diaz" not in page  # never agreed
    assert "Ana Alvarez" in ben.get("/me/cohorts").text
    assert "Ben Okoro" not in cara.get("/me/cohorts").text  # Cara did not consent: sees nobody

    opt(ben, ANCHORING, "no")
    assert "Ben Okoro" not in ana.get("/me/cohorts").text  # hidden at the next page
    page = ben.get("/me/cohorts?saved=out").text
    assert "Ana Alvarez" not in page, page[page.index("Ana Alvarez") - 300 :][:600]
    assert "You are no longer shown to anyone." in page
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CohortConsent)) == 1  # Ana's only


def test_a_peer_of_another_micro_credential_is_never_shown(services, world):
    opt(client_for(services, "dev.patel@example.org"), DISCUSSIONS, "yes")
    ana = client_for(services, ANA)
    opt(ana, ANCHORING, "yes")
    assert "Dev Patel" not in ana.get("/me/cohorts").text


def test_consent_needs_the_forms_token_and_a_micro_credential_of_ones_own(services, world):
    ana = client_for(services, ANA)
    token = csrf_of(ana.get("/me/cohorts").text)
    forged = ana.post(f"/me/cohorts/{ANCHORING}/consent", data={"csrf": "forged", "shown": "yes"})
    assert forged.status_code == 403 and "could not be verified" in forged.text
    # A token from another session does not do either.
    ben = client_for(services, BEN)
    ben_token = csrf_of(ben.get("/me/cohorts").text)
    assert ana.post(f"/me/cohorts/{ANCHORING}/consent", data={"csrf": ben_token, "shown": "yes"}).status_code == 403
    other = ana.post(f"/me/cohorts/{DISCUSSIONS}/consent", data={"csrf": token, "shown": "yes"})
    assert other.status_code == 404 and "No such micro-credential of yours" in other.text
    odd = ana.post(f"/me/cohorts/{ANCHORING}/consent", data={"csrf": token, "shown": "maybe"})
    assert odd.status_code == 422 and "Say whether to show you" in odd.text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CohortConsent)) == 0


def test_someone_who_never_applied_has_an_empty_cohorts_page(services, world):
    page = client_for(services, "new.teacher@example.org").get("/me/cohorts")
    assert page.status_code == 200 and "You are not working on a micro-credential yet." in page.text


def test_erasure_forgets_consent_and_an_erased_educator_is_in_no_cohort(services, world):
    opt(client_for(services, BEN), ANCHORING, "yes")
    ana = client_for(services, ANA)
    opt(ana, ANCHORING, "yes")
    assert "Ben Okoro" in ana.get("/me/cohorts").text
    erase_applicant(services, BEN, reason="asked", actor="test", now=NOW)
    assert "Ben Okoro" not in ana.get("/me/cohorts").text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(CohortConsent)) == 1  # Ana's only
    admin = client_for(services, RIVERSIDE_ADMIN).get("/admin/cohorts").text
    assert "Ben Okoro" not in admin and "Eve Erased" not in admin


def test_an_admin_sees_only_their_organisations_cohorts_with_status_and_consent(services, world):
    opt(client_for(services, ANA), ANCHORING, "yes")
    page = client_for(services, RIVERSIDE_ADMIN).get("/admin/cohorts")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Cohorts</h1>" in text
    assert 'aria-current="page">Programs' in text  # the header's Programs section
    assert text.index(f'id="cohort-{DISCUSSIONS}"') < text.index(f'id="cohort-{ANCHORING}"')  # by title
    anchoring = text[text.index(f'id="cohort-{ANCHORING}"') :].split("</section>")[0]
    assert "2 educators · 1 agreed to connect" in anchoring
    ana_row = anchoring[anchoring.index("Ana Alvarez") :].split("</tr>")[0]
    assert "Earned" in ana_row and "Agreed to connect" in ana_row
    ben_row = anchoring[anchoring.index("Ben Okoro") :].split("</tr>")[0]
    assert "Not started" in ben_row and "Not shown" in ben_row
    assert "Dev Patel" in text
    assert "Cara Diaz" not in text and "Lakeside ISD" not in text  # another organisation's educator
    lakeside = client_for(services, LAKESIDE_ADMIN).get("/admin/cohorts").text
    assert "Cara Diaz" in lakeside
    assert all(name not in lakeside for name in ("Ana Alvarez", "Ben Okoro", "Dev Patel"))
    everyone = client_for(services, OPERATOR).get("/admin/cohorts").text
    assert all(name in everyone for name in ("Ana Alvarez", "Ben Okoro", "Cara Diaz", "Dev Patel"))


def test_milestones_in_scope_newest_first(services, world):
    page = client_for(services, RIVERSIDE_ADMIN).get("/admin/milestones")
    assert page.status_code == 200
    rows = re.findall(r'<tr id="m-([0-9a-f]+)-([a-z-]+)-(\w+)"', page.text)
    names = {world["Ana"]: "Ana", world["Ben"]: "Ben", world["Dev"]: "Dev"}
    assert [(names[a], c, m) for a, c, m in rows] == [
        ("Ana", ANCHORING, "earned"),  # 9 November
        ("Ben", ANCHORING, "started"),  # 3 November
        ("Ana", ANCHORING, "evidence"),  # 2 November
        ("Dev", DISCUSSIONS, "started"),  # 1 November
        ("Ana", ANCHORING, "started"),  # 1 October
    ]
    assert ">9 November 2026</td>" in page.text and 'cohort-milestone-earned">Earning</span>' in page.text
    assert "Cara Diaz" not in page.text
    lakeside = client_for(services, LAKESIDE_ADMIN).get("/admin/milestones").text
    assert "Cara Diaz" in lakeside and "Uploading evidence" in lakeside and "Ana Alvarez" not in lakeside
    week = client_for(services, RIVERSIDE_ADMIN).get("/admin/milestones?days=8").text
    assert len(re.findall(r'<tr id="m-', week)) == 2  # 9 and 3 November; 2 November is 8 days back


@pytest.mark.parametrize("days", ["0", "abc", "400"])
def test_a_bad_look_back_is_a_clear_422(services, world, days):
    page = client_for(services, RIVERSIDE_ADMIN).get(f"/admin/milestones?days={days}")
    assert page.status_code == 422
    assert "Days must be a whole number from 1 to 366." in page.text


def celebrate(client: TestClient, applicant_id: str, milestone: str = "earned", **changes: str):
    token = csrf_of(client.get("/admin/milestones").text)
    data = {"csrf": token, "applicant": applicant_id, "credential": ANCHORING, "milestone": milestone, "days": "60"}
    return client.post("/admin/milestones/celebrate", data={**data, **changes}, follow_redirects=False)


def test_a_celebration_is_sent_once_to_the_educator_with_a_copy_to_the_admin(services, world):
    admin = client_for(services, RIVERSIDE_ADMIN)
    response = celebrate(admin, world["Ana"])
    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    assert "Your celebration email to Ana Alvarez is on its way" in page
    row = page[page.index(f'id="m-{world["Ana"]}-{ANCHORING}-earned"') :].split("</tr>")[0]
    assert "Celebrated on Tuesday 10 November 2026" in row and "Send celebration email" not in row
    assert f"by {RIVERSIDE_ADMIN}" in row
    sent = outbox(services)
    [to_ana] = [m for m in sent if m["kind"] == "celebration"]
    assert to_ana["to"] == "ana.alvarez@example.org"
    assert (
        to_ana["subject"]
        == "Congratulations, Ana Alvarez: you earned Preparing to Facilitate the Anchoring Phenomenon Routine"
    )
    eml = next(services.settings.resolved_outbox_dir.glob("celebration-*.eml")).read_text()
    assert f"Reply-To: {RIVERSIDE_ADMIN}" in eml
    assert "Monday 9 November 2026" in eml
    [note] = [m for m in sent if m["kind"] == "celebration_note"]
    assert note["to"] == RIVERSIDE_ADMIN

    # Pressed again (a second tab), or by the operator: nothing is sent again.
    again = celebrate(admin, world["Ana"])
    assert again.status_code == 303 and "already=" in again.headers["location"]
    assert "was celebrated before: nothing was sent again" in admin.get(again.headers["location"]).text
    assert celebrate(client_for(services, OPERATOR), world["Ana"]).status_code == 303
    assert len(outbox(services)) == len(sent)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(MilestoneCelebration)) == 1
        keys = set(session.scalars(select(OutgoingMessage.idempotency_key)))
    assert f"celebration:{world['Ana']}:{ANCHORING}:earned" in keys


def test_a_celebration_outside_the_admins_scope_or_not_reached_is_not_found(services, world):
    admin = client_for(services, RIVERSIDE_ADMIN)
    other_org = celebrate(admin, world["Cara"], "started")
    assert other_org.status_code == 404 and "No such milestone in your programs" in other_org.text
    not_reached = celebrate(admin, world["Ben"], "earned")
    assert not_reached.status_code == 404
    erased = celebrate(admin, world["Eve"], "started")
    assert erased.status_code == 404
    assert outbox(services) == []


def test_a_celebration_needs_the_token_and_a_known_milestone(services, world):
    admin = client_for(services, RIVERSIDE_ADMIN)
    assert celebrate(admin, world["Ana"], csrf="forged").status_code == 403
    odd = celebrate(admin, world["Ana"], milestone="party")
    assert odd.status_code == 422 and "does not name a milestone" in odd.text
    educator = client_for(services, ANA)
    token = csrf_of(educator.get("/me/cohorts").text)
    data = {"csrf": token, "applicant": world["Ana"], "credential": ANCHORING, "milestone": "earned"}
    assert educator.post("/admin/milestones/celebrate", data=data).status_code == 403
    assert outbox(services) == []


def test_milestones_follow_the_injected_clock(services, world):
    later = TestClient(create_app(services, now=lambda: NOW + timedelta(days=400)))
    name, value = session_cookie(services, RIVERSIDE_ADMIN, now=NOW + timedelta(days=400))
    later.cookies.set(name, value)
    page = later.get("/admin/milestones").text
    assert "No educator of your programs reached a milestone in the last 60 days." in page


class FlakyMailer:
    """A mail service that fails transiently for the first ``failures`` messages, then hands them to ``real``."""

    def __init__(self, real: Mailer, failures: int) -> None:
        self.real, self.failures = real, failures

    def send(self, message: Message) -> SendReceipt:
        if self.failures:
            self.failures -= 1
            raise TransientMailError("503 from the mail service")
        return self.real.send(message)


def test_a_mail_service_failure_records_nothing_and_pressing_again_sends_once(services, world):
    flaky = replace(services, mailer=FlakyMailer(services.mailer, failures=1))
    admin = client_for(flaky, RIVERSIDE_ADMIN)
    failed = celebrate(admin, world["Ana"])
    assert failed.status_code == 503 and "Nothing was sent and nothing is recorded" in failed.text
    row = admin.get("/admin/milestones").text
    assert row.count("Send celebration email</button>") == 5  # still offered
    assert celebrate(admin, world["Ana"]).status_code == 303
    assert [m["kind"] for m in outbox(services)].count("celebration") == 1
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(MilestoneCelebration)) == 1


def test_an_educators_data_export_holds_their_consent(services, world, tmp_path):
    opt(client_for(services, ANA), ANCHORING, "yes")
    export_applicant(services, ANA, out=tmp_path / "ana.zip")
    with zipfile.ZipFile(tmp_path / "ana.zip") as bundle:
        document = json.loads(next(bundle.read(n) for n in bundle.namelist() if n.endswith(".json")))
    assert document["cohort_consents"] == [{"credential": ANCHORING, "agreed_at": NOW.isoformat()}]
