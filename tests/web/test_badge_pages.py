"""Badge pages and `credflow badge verify|revoke`: verified, downloadable, revocable, tamper-evident."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from cli.demo_reviewers import free_port, running_server
from cli.main import app
from credflow.db.models import Decision, IssuedBadge, utcnow
from credflow.issuance.stage import issue_for_decision, revoke
from credflow.services import build_services
from tests.utils.review_cycle import NOW, decided_submission
from tests.utils.validator import run_validator
from web.app import create_app


def test_the_page_the_files_and_the_cli_agree_on_valid_tampered_and_revoked(make_settings, tmp_path, monkeypatch):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    services = build_services(make_settings(public_url=url))
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    monkeypatch.setenv("CREDFLOW_PUBLIC_URL", url)
    sid = decided_submission(services, tmp_path)
    with services.db.session() as session:  # the helpers decide at a fixed clock; the CLI checks dates against now
        session.scalars(select(Decision).where(Decision.submission_id == sid)).one().decided_at = utcnow() - timedelta(
            days=1
        )
    badge_id = issue_for_decision(services, sid).micro
    assert badge_id is not None
    runner = CliRunner()
    with running_server(create_app(services), port):  # the page checks dates against now, as the CLI does
        import httpx

        page = httpx.get(f"{url}/badges/{badge_id}")
        assert page.status_code == 200 and "Verified." in page.text and "linkedin.com/profile/add" in page.text
        credential = httpx.get(f"{url}/badges/{badge_id}/credential.json").json()
        record = httpx.get(credential["evidence"][0]["id"])  # the evidence entry links a public record
        assert record.status_code == 200 and "Facilitation plan" in record.text
        assert "plan.pdf" not in record.text and "Ana Alvarez" not in record.text
        png = httpx.get(f"{url}/badges/{badge_id}/badge.png")
        assert png.headers["content-type"] == "image/png"
        (tmp_path / "badge.json").write_text(json.dumps(credential))
        (tmp_path / "badge.png").write_bytes(png.content)

        ok = runner.invoke(app, ["badge", "verify", "--allow-private", str(tmp_path / "badge.png")])
        assert ok.exit_code == 0 and "VALID" in ok.output, ok.output
        tampered = {**credential, "name": "Something else"}
        (tmp_path / "tampered.json").write_text(json.dumps(tampered))
        bad = runner.invoke(app, ["badge", "verify", str(tmp_path / "tampered.json")])
        assert bad.exit_code == 1 and "signature" in bad.output

        revoked = runner.invoke(app, ["badge", "revoke", badge_id, "--reason", "plagiarised evidence"])
        assert revoked.exit_code == 0, revoked.output
        # The server is this deployment's public URL: fetched although it is on 127.0.0.1.
        own = runner.invoke(app, ["badge", "verify", f"{url}/badges/{badge_id}/credential.json"])
        assert own.exit_code == 1 and "revoked" in own.output, own.output
        # Seen from a deployment with another public URL, a loopback server is fetched only when allowed.
        monkeypatch.setenv("CREDFLOW_PUBLIC_URL", "https://badges.example.org")
        refused = runner.invoke(app, ["badge", "verify", f"{url}/badges/{badge_id}/credential.json"])
        assert refused.exit_code == 2 and "loopback" in refused.output
        after = runner.invoke(app, ["badge", "verify", "--allow-private", f"{url}/badges/{badge_id}/credential.json"])
        assert after.exit_code == 1 and "revoked" in after.output
        assert "Revoked." in httpx.get(f"{url}/badges/{badge_id}").text


def test_issued_ob2_assertions_pass_1edtechs_validator_and_answer_410_once_revoked(
    make_settings,
    tmp_path,
    validator_python,
):
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    services = build_services(make_settings(public_url=url))
    sid = decided_submission(services, tmp_path)
    with services.db.session() as session:
        session.scalars(select(Decision).where(Decision.submission_id == sid)).one().decided_at = utcnow() - timedelta(
            days=1
        )
    badge_id = issue_for_decision(services, sid).micro
    assert badge_id is not None
    with services.db.session() as session:
        badge = session.get_one(IssuedBadge, badge_id)
        assert badge.ob2 is not None and badge.ob2_jws is not None
        hosted_url, jws = badge.ob2["hosted"]["id"], badge.ob2_jws
    with running_server(create_app(services), port):
        hosted = run_validator(validator_python, data=hosted_url, email="ana.alvarez@example.org")
        assert hosted.valid, hosted.messages
        signed = run_validator(validator_python, data=jws, email="ana.alvarez@example.org")
        assert signed.valid, signed.messages
        head, payload, signature = jws.split(".")
        forged = run_validator(validator_python, data=f"{head}.{payload[:-4]}AAAA.{signature}")
        assert not forged.valid
        revoke(services, badge_id, reason="withdrawn by the issuer")
        gone = httpx.get(hosted_url)
        assert gone.status_code == 410 and gone.json()["revoked"] is True
        assert gone.json()["revocationReason"] == "withdrawn by the issuer"
        # The issuer's revocation list now holds exactly this one badge: the validator must still see it.
        revoked_signed = run_validator(validator_python, data=jws)
        assert not revoked_signed.valid
        assert revoked_signed.mentions("has been revoked", "withdrawn by the issuer"), revoked_signed.messages
        # Validator 1.1.2 does not check `revoked` on a hosted assertion: it refuses the stripped 410 body,
        # and the node it read (its output graph) carries the revocation and its reason.
        revoked_hosted = run_validator(validator_python, data=hosted_url)
        assert not revoked_hosted.valid
        [node] = [n for n in revoked_hosted.raw["graph"] if n.get("id") == hosted_url]
        assert node["revoked"] is True and node["revocationReason"] == "withdrawn by the issuer"
        assert "recipient" not in node  # a revoked award stops naming its recipient


def _urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return [value] if isinstance(value, str) and value.startswith("http") else []


def test_every_url_a_credential_names_resolves_and_the_achievement_answers_json_ld_or_a_page(services, tmp_path):
    from fastapi.testclient import TestClient

    from credflow.badges.jsonld import check_safe_mode

    sid = decided_submission(services, tmp_path)
    report = issue_for_decision(services, sid, today=NOW.date())  # the day the helpers decided it
    assert report.micro is not None and len(report.issued) == 1  # the micro-credential and the certification
    with services.db.session() as session:
        credentials = [session.get_one(IssuedBadge, badge_id).ob3 for badge_id in (report.micro, *report.issued)]
    base = services.settings.public_url
    client = TestClient(create_app(services))
    for credential in credentials:
        achievement = credential["credentialSubject"]["achievement"]
        for url in _urls(credential):
            if not url.startswith(base) or url.startswith("https://www.w3.org/"):
                continue  # the issuer's own web site, vocabularies
            assert client.get(url.removeprefix(base)).status_code == 200, url

        path = achievement["id"].removeprefix(base)
        for accept in ("application/ld+json", "application/json", "application/ld+json, text/html;q=0.5"):
            answer = client.get(path, headers={"Accept": accept})
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/ld+json")
            document = answer.json()
            assert {k: v for k, v in document.items() if k != "@context"} == achievement
            assert document["@context"] == credential["@context"]
            check_safe_mode(document)  # every term is defined: a JSON-LD processor reads it whole
        for browser_accept in ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "*/*", None):
            page = client.get(path, headers={"Accept": browser_accept} if browser_accept else {})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), browser_accept
            assert achievement["name"] in page.text and "Vary" in page.headers
        assert client.get(f"{path}?format=json").json()["id"] == achievement["id"]

    assert client.get("/achievements/no-such-badge", headers={"Accept": "application/ld+json"}).status_code == 404
    assert client.get("/achievements/no-such-badge").status_code == 404
