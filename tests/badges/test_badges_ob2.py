"""OB 2.0 documents, RSA keys, signed and hosted verification, and 1EdTech's validator run offline on them."""

from __future__ import annotations

import hashlib
import json
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from credflow.badges import ob2
from credflow.badges.baking import OB2_KEYWORD, bake_png, bake_svg
from credflow.badges.errors import KeyStoreError
from credflow.badges.images import badge_png, badge_svg
from credflow.catalog import load_catalog
from tests.conftest import ROOT
from tests.utils.validator import run_validator

ISSUED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
EMAIL = "ana.alvarez@example.org"


# --------------------------------------------------------------------------- a small badge world


@pytest.fixture(scope="module")
def credential():
    return load_catalog(ROOT / "rubrics").get("udl-level-1")


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> ob2.RsaKeyStore:
    return ob2.RsaKeyStore(tmp_path_factory.mktemp("ob2") / "keys")  # the default size, as in production


class _Routes(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}

    def do_GET(self) -> None:
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@dataclass
class World:
    """Documents served on 127.0.0.1, as the web app would serve them."""

    base: str
    routes: dict[str, tuple[int, str, bytes]]
    issuer: ob2.Issuer
    badge: ob2.BadgeClass
    key: ob2.SigningKey
    key_url: str
    revoked: dict[str, str | None] = field(default_factory=dict)

    def serve_json(self, url: str, doc: dict[str, Any], status: int = 200) -> None:
        self.routes[url.removeprefix(self.base)] = (status, "application/ld+json", json.dumps(doc).encode())

    def serve_assertion(self, assertion: ob2.Assertion) -> None:
        response = ob2.hosted_assertion_response(assertion)
        self.serve_json(assertion.id, response.body, response.status)

    def revoke_signed(self, assertion_id: str, reason: str) -> None:
        self.revoked[assertion_id] = reason
        url = self.issuer.revocation_list or ""
        self.serve_json(url, ob2.revocation_list_document(id=url, issuer=self.issuer.id, revoked=self.revoked))

    def hosted(self, number: int, **changes: Any) -> ob2.Assertion:
        fields: dict[str, Any] = {
            "issued_on": ISSUED,
            "evidence": [ob2.Evidence(narrative="Lesson plan and reflection met every indicator.")],
        }
        fields.update(changes)
        assertion = ob2.issue_assertion(
            id=f"{self.base}/assertions/{number}",
            badge=self.badge.id,
            email=EMAIL,
            verification=ob2.HostedVerification(),
            **fields,
        )
        self.serve_assertion(assertion)
        return assertion

    def signed(self, number: int) -> tuple[ob2.Assertion, str]:
        assertion = ob2.issue_assertion(
            id=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
            badge=self.badge.id,
            email=EMAIL,
            issued_on=ISSUED,
            verification=ob2.SignedVerification(self.key_url),
            expires=ISSUED + timedelta(days=3 * 365),
        )
        return assertion, ob2.sign_assertion(assertion, self.key)


@pytest.fixture(scope="module")
def world(credential, keys) -> Iterator[World]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Routes)
    routes: dict[str, tuple[int, str, bytes]] = {}
    server.RequestHandlerClass = type("Routes", (_Routes,), {"routes": routes})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    key = keys.current()
    issuer_id = f"{base}/issuers/{credential.issuer.id}"
    key_url = f"{base}/keys/{key.name}"
    public_key = ob2.PublicKey(id=key_url, owner=issuer_id, public_key_pem=key.public_key_pem)
    issuer = ob2.Issuer(
        id=issuer_id,
        name=credential.issuer.name,
        url=str(credential.issuer.url),
        email=credential.issuer.email,
        public_key=public_key,
        revocation_list=f"{issuer_id}/revocations",
    )
    image_url = f"{base}/badges/{credential.id}.png"
    badge = ob2.BadgeClass.from_credential(
        credential, id=f"{base}/badges/{credential.id}", image=image_url, issuer=issuer_id
    )
    w = World(base=base, routes=routes, issuer=issuer, badge=badge, key=key, key_url=key_url)
    w.serve_json(issuer.id, issuer.document())
    w.serve_json(badge.id, badge.document())
    w.serve_json(key_url, public_key.document())
    routes[image_url.removeprefix(base)] = (200, "image/png", badge_png(credential))
    w.revoke_signed("urn:uuid:ffffffff-0000-4000-8000-000000000000", "issued in error")  # the list exists
    yield w
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- 1EdTech's validator, offline


def test_the_validator_passes_a_hosted_assertion(validator_python, world):
    assertion = world.hosted(1)
    report = run_validator(validator_python, data=assertion.id, email=EMAIL)
    assert report.valid, report.messages
    assert report.raw["report"].get("recipientProfile") == {"email": EMAIL}


def test_the_validator_passes_a_signed_assertion(validator_python, world):
    _, jws = world.signed(1)
    report = run_validator(validator_python, data=jws, email=EMAIL)
    assert report.valid, report.messages


def test_the_validator_and_verify_signed_fail_a_tampered_assertion(validator_python, world):
    _, jws = world.signed(2)
    header, payload, signature = jws.split(".")
    doc = json.loads(_b64decode(payload))
    doc["expires"] = "2099-01-01T00:00:00Z"  # the holder tries to extend the badge
    tampered = ".".join([header, _b64encode(json.dumps(doc).encode()), signature])

    report = run_validator(validator_python, data=tampered)
    assert not report.valid
    assert report.mentions("signature", "failed")
    result = ob2.verify_signed(tampered, world.key.public_key_pem)
    assert result.reasons == (ob2.Problem.BAD_SIGNATURE,)


def test_the_validator_reports_a_revoked_signed_assertion(validator_python, world):
    assertion, jws = world.signed(3)
    world.revoke_signed(assertion.id, "evidence was not the applicant's own")
    report = run_validator(validator_python, data=jws)
    assert not report.valid
    assert report.mentions("revoked", "evidence was not the applicant's own")


def test_the_validator_reports_a_revoked_signed_assertion_when_the_list_has_only_it(validator_python, world):
    # A one-element revokedAssertions compacts to a single object the validator does not match.
    assertion, jws = world.signed(4)
    before = dict(world.revoked)
    world.revoked.clear()
    try:
        world.revoke_signed(assertion.id, "awarded in error")
        assert list(world.revoked) == [assertion.id]
        report = run_validator(validator_python, data=jws)
        assert not report.valid
        assert report.mentions("revoked", "awarded in error")
    finally:
        world.revoked.clear()
        world.revoked.update(before)
        url = world.issuer.revocation_list or ""
        world.serve_json(url, ob2.revocation_list_document(id=url, issuer=world.issuer.id, revoked=before))


def test_a_revoked_hosted_assertion_is_gone_for_the_validator_and_reported_revoked(validator_python, world):
    assertion = world.hosted(2)
    assert run_validator(validator_python, data=assertion.id).valid
    world.serve_assertion(assertion.revoke("awarded to the wrong applicant"))

    status, _, body = world.routes[assertion.id.removeprefix(world.base)]
    assert status == 410
    # 1EdTech's validator reads neither `revoked` nor the 410 of a hosted assertion; it refuses
    # the stripped document as incomplete, which is why a revoked assertion is served stripped.
    report = run_validator(validator_python, data=assertion.id)
    assert not report.valid
    assert report.mentions("required property recipient not present")
    result = ob2.verify_hosted(json.loads(body), status=status, url=assertion.id)
    assert result.reasons == (ob2.Problem.REVOKED,)
    assert "awarded to the wrong applicant" in result.findings[0].message


def test_the_validator_reads_baked_png_and_svg_badges(validator_python, world, credential, tmp_path):
    assertion = world.hosted(3)
    png = tmp_path / "badge.png"
    png.write_bytes(bake_png(badge_png(credential), assertion.id, keyword=OB2_KEYWORD))
    report = run_validator(validator_python, file=png, email=EMAIL)
    assert report.valid, report.messages

    _, jws = world.signed(4)
    svg = tmp_path / "badge.svg"
    svg.write_bytes(bake_svg(badge_svg(credential), keyword=OB2_KEYWORD, verify=jws))
    report = run_validator(validator_python, file=svg, email=EMAIL)
    assert report.valid, report.messages


def test_the_validator_refuses_a_badge_for_someone_else(validator_python, world):
    _, jws = world.signed(5)
    report = run_validator(validator_python, data=jws, email="someone.else@example.org")
    assert not report.valid
    assert report.mentions("did not match")


def test_the_validator_refuses_an_expired_assertion(validator_python, world):
    assertion = world.hosted(4, issued_on=datetime(2020, 1, 6, tzinfo=UTC), expires=datetime(2023, 1, 6, tzinfo=UTC))
    report = run_validator(validator_python, data=assertion.id)
    assert not report.valid
    assert report.mentions("expired")
    status, _, body = world.routes[assertion.id.removeprefix(world.base)]
    assert ob2.verify_hosted(json.loads(body), status=status, url=assertion.id).reasons == (ob2.Problem.EXPIRED,)


def test_after_a_key_rotation_new_badges_pass_the_validator_and_old_ones_verify_with_the_retired_key(
    validator_python, world, tmp_path
):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    old_key = store.current()
    issuer_id = f"{world.base}/issuers/rotating"

    def publish(key: ob2.SigningKey) -> ob2.PublicKey:
        public_key = ob2.PublicKey(
            id=f"{world.base}/keys/{key.name}", owner=issuer_id, public_key_pem=key.public_key_pem
        )
        world.serve_json(public_key.id, public_key.document())
        issuer = ob2.Issuer(
            id=issuer_id, name="Rotating Issuer", url=world.base, email="badges@example.org", public_key=public_key
        )
        world.serve_json(issuer.id, issuer.document())
        return public_key

    def award(number: int, key: ob2.SigningKey, public_key: ob2.PublicKey) -> str:
        assertion = ob2.issue_assertion(
            id=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
            badge=badge.id,
            email=EMAIL,
            issued_on=ISSUED,
            verification=ob2.SignedVerification(public_key.id),
        )
        return ob2.sign_assertion(assertion, key)

    badge = ob2.BadgeClass(
        id=f"{issuer_id}/badge",
        name="Rotation",
        description="Keys rotate.",
        image=world.badge.image,
        criteria="Sign before and after a rotation.",
        issuer=issuer_id,
    )
    world.serve_json(badge.id, badge.document())
    old_jws = award(10, old_key, publish(old_key))
    assert run_validator(validator_python, data=old_jws, email=EMAIL).valid

    new_key = store.rotate()
    new_jws = award(11, new_key, publish(new_key))
    assert run_validator(validator_python, data=new_jws, email=EMAIL).valid
    # The profile now names the new key only; the retired key is still served and still verifies.
    old_report = run_validator(validator_python, data=old_jws, email=EMAIL)
    assert not old_report.valid
    assert old_report.mentions("other than those authorized")
    retired_pem = store.public_keys()[old_key.name]
    assert ob2.verify_signed(old_jws, retired_pem, email=EMAIL, now=ISSUED).valid
    assert ob2.verify_signed(old_jws, new_key.public_key_pem, now=ISSUED).reasons == (ob2.Problem.BAD_SIGNATURE,)


# --------------------------------------------------------------------------- documents, keys, verification


@pytest.fixture(scope="module")
def signing_key(keys) -> ob2.SigningKey:
    return keys.current()


def _signed(key: ob2.SigningKey, **changes: Any) -> tuple[ob2.Assertion, str]:
    fields: dict[str, Any] = {"issued_on": ISSUED, "expires": ISSUED + timedelta(days=365)}
    fields.update(changes)
    assertion = ob2.issue_assertion(
        id="urn:uuid:2f1c9a0e-0000-4000-8000-000000000001",
        badge="https://badges.example.org/badges/udl-level-1",
        email=EMAIL,
        verification=ob2.SignedVerification("https://badges.example.org/keys/k1"),
        **fields,
    )
    return assertion, ob2.sign_assertion(assertion, key)


def test_documents_have_the_ob2_shape(credential):
    issuer = ob2.Issuer(
        id="https://badges.example.org/issuers/cast",
        name="CAST",
        url="https://www.cast.org",
        email="credentials@cast.org",
        public_key=ob2.PublicKey(
            id="https://badges.example.org/keys/k1", owner="https://badges.example.org/issuers/cast", public_key_pem="P"
        ),
    )
    badge = ob2.BadgeClass.from_credential(
        credential, id="https://badges.example.org/badges/udl", image="https://i/udl.png", issuer=issuer.id
    )
    assertion = ob2.issue_assertion(
        id="https://badges.example.org/assertions/1",
        badge=badge.id,
        email="  Ana.Alvarez@Example.ORG ",
        issued_on=datetime(2026, 11, 2, 11, 30, tzinfo=timezone(timedelta(hours=1))),
        verification=ob2.HostedVerification(),
        expires=datetime(2029, 11, 2, tzinfo=UTC),
        evidence=[ob2.Evidence(narrative="All indicators met.", id="https://badges.example.org/evidence/1")],
    )
    docs = [issuer.document(), badge.document(), assertion.document()]
    assert {doc["@context"] for doc in docs} == {"https://w3id.org/openbadges/v2"}
    assert [doc["type"] for doc in docs] == ["Issuer", "BadgeClass", "Assertion"]
    assert docs[0]["publicKey"] == "https://badges.example.org/keys/k1"
    assert docs[1]["criteria"] == {"narrative": credential.badge.criteria}
    assert docs[1]["name"] == credential.badge.name
    doc = docs[2]
    recipient = doc["recipient"]
    expected = "sha256$" + hashlib.sha256((EMAIL + recipient["salt"]).encode()).hexdigest()
    assert recipient == {"type": "email", "hashed": True, "salt": recipient["salt"], "identity": expected}
    assert EMAIL not in json.dumps(doc).lower()
    assert doc["issuedOn"] == "2026-11-02T10:30:00Z"
    assert doc["expires"] == "2029-11-02T00:00:00Z"
    assert doc["verification"] == {"type": "hosted"}
    assert doc["evidence"] == [
        {"type": "Evidence", "id": "https://badges.example.org/evidence/1", "narrative": "All indicators met."}
    ]
    assert "revoked" not in doc


def test_each_award_gets_its_own_salt():
    a, b = (ob2.Recipient.for_email(EMAIL) for _ in range(2))
    assert a.salt != b.salt and a.identity != b.identity
    assert a.matches("ANA.alvarez@example.org") and not a.matches("ana@example.org")


def test_dates_must_be_unambiguous_and_in_order():
    with pytest.raises(ValueError, match="time zone"):
        ob2.issue_assertion(
            id="u", badge="b", email=EMAIL, issued_on=datetime(2026, 1, 1), verification=ob2.HostedVerification()
        )
    with pytest.raises(ValueError, match="expire after"):
        ob2.issue_assertion(
            id="u",
            badge="b",
            email=EMAIL,
            issued_on=ISSUED,
            expires=ISSUED,
            verification=ob2.HostedVerification(),
        )


def test_a_revoked_hosted_assertion_is_served_as_410_without_its_recipient():
    assertion = ob2.issue_assertion(
        id="https://b.example.org/a/1", badge="b", email=EMAIL, issued_on=ISSUED, verification=ob2.HostedVerification()
    )
    live = ob2.hosted_assertion_response(assertion)
    assert live.status == 200 and live.body == assertion.document()
    gone = ob2.hosted_assertion_response(assertion.revoke("plagiarised evidence"))
    assert gone.status == 410
    assert gone.body == {
        "@context": "https://w3id.org/openbadges/v2",
        "id": "https://b.example.org/a/1",
        "type": "Assertion",
        "revoked": True,
        "revocationReason": "plagiarised evidence",
    }
    assert assertion.revoke("x").document()["revoked"] is True


def test_the_key_store_makes_one_private_key_readable_by_its_owner_only(tmp_path):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    first = store.current()
    assert store.current() == first  # generated once, then reused
    assert ob2.RsaKeyStore(tmp_path / "keys").current() == first  # and by another process
    private = tmp_path / "keys" / f"{first.name}.private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert b"BEGIN PRIVATE KEY" in first.private_key_pem
    assert "PRIVATE" not in repr(first)

    private.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        store.current()
    private.write_bytes(b"not a key")
    private.chmod(0o600)
    with pytest.raises(KeyStoreError, match="not a readable"):
        store.current()


def test_signing_many_badges_parses_the_private_key_once(tmp_path):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    jws = [ob2.sign_assertion(_signed(store.current())[0], store.current()) for _ in range(3)]
    assert store.loads == 1
    public_pem = store.current().public_key_pem
    assert all(ob2.verify_signed(token, public_pem, email=EMAIL, now=ISSUED).valid for token in jws)


def test_signing_uses_the_parsed_key_not_the_pem(tmp_path):
    key = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048).current()
    # PEM bytes that no parser accepts: a signature only comes out if the parsed key object signs.
    jws = ob2.sign_assertion(_signed(key)[0], replace(key, private_key_pem=b"not a key"))
    assert ob2.verify_signed(jws, key.public_key_pem, email=EMAIL, now=ISSUED).valid


def test_a_rotation_by_another_process_is_picked_up_by_a_store_that_holds_the_old_key(tmp_path):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    old = store.current()
    new = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048).rotate()  # as `credflow badge rotate-key` does
    assert store.current() == new and store.loads == 2
    jws = ob2.sign_assertion(_signed(store.current())[0], store.current())
    assert ob2.verify_signed(jws, new.public_key_pem, email=EMAIL, now=ISSUED).valid
    assert ob2.verify_signed(jws, old.public_key_pem, now=ISSUED).reasons == (ob2.Problem.BAD_SIGNATURE,)


def test_a_key_file_replaced_under_the_same_name_is_read_again(tmp_path):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    first = store.current()
    other = ob2.RsaKeyStore(tmp_path / "other", key_bits=2048).current()
    private = tmp_path / "keys" / f"{first.name}.private.pem"
    staged = private.with_name("staged")
    staged.write_bytes(other.private_key_pem)
    staged.chmod(0o600)
    staged.replace(private)  # a restore from backup: same name, new contents
    assert store.current().private_key_pem == other.private_key_pem and store.loads == 2


def test_rotation_keeps_old_public_keys_and_drops_the_old_private_key(tmp_path):
    store = ob2.RsaKeyStore(tmp_path / "keys", key_bits=2048)
    old = store.current()
    new = store.rotate()
    assert new.name != old.name and store.current() == new
    assert store.public_keys() == {old.name: old.public_key_pem, new.name: new.public_key_pem}
    assert not (tmp_path / "keys" / f"{old.name}.private.pem").exists()


def test_weak_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="2048"):
        ob2.RsaKeyStore(tmp_path, key_bits=1024)


def test_a_signed_assertion_is_an_rs256_jws_of_the_assertion(signing_key):
    assertion, jws = _signed(signing_key)
    header, payload, _ = jws.split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256"}
    assert json.loads(_b64decode(payload)) == assertion.document()
    result = ob2.verify_signed(jws, signing_key.public_key_pem, email=EMAIL, now=ISSUED)
    assert result.valid and result.reasons == ()
    assert result.assertion == assertion.document()


def test_only_signed_assertions_can_be_signed(signing_key):
    hosted = ob2.issue_assertion(
        id="https://b/a/1", badge="b", email=EMAIL, issued_on=ISSUED, verification=ob2.HostedVerification()
    )
    with pytest.raises(ValueError, match="signed"):
        ob2.sign_assertion(hosted, signing_key)


def test_verify_signed_gives_its_reasons(signing_key, tmp_path):
    _, jws = _signed(signing_key)
    other = ob2.RsaKeyStore(tmp_path / "other", key_bits=2048).current()
    assert ob2.verify_signed(jws, other.public_key_pem).reasons == (ob2.Problem.BAD_SIGNATURE,)
    later = ISSUED + timedelta(days=400)
    assert ob2.verify_signed(jws, signing_key.public_key_pem, now=later).reasons == (ob2.Problem.EXPIRED,)
    mismatch = ob2.verify_signed(jws, signing_key.public_key_pem, email="eve@example.org", now=ISSUED)
    assert mismatch.reasons == (ob2.Problem.RECIPIENT_MISMATCH,)
    both = ob2.verify_signed(jws, signing_key.public_key_pem, email="eve@example.org", now=later)
    assert both.reasons == (ob2.Problem.EXPIRED, ob2.Problem.RECIPIENT_MISMATCH)
    revoked = ob2.verify_signed(
        jws,
        signing_key.public_key_pem,
        now=ISSUED,
        revoked_ids={"urn:uuid:2f1c9a0e-0000-4000-8000-000000000001": "issued in error"},
    )
    assert revoked.reasons == (ob2.Problem.REVOKED,)
    assert "issued in error" in revoked.findings[0].message
    assert ob2.verify_signed("not.a.jws", signing_key.public_key_pem).reasons == (ob2.Problem.MALFORMED,)


def test_verify_signed_refuses_unsigned_and_hmac_tokens(signing_key):
    assertion, _ = _signed(signing_key)
    body = _b64encode(json.dumps(assertion.document()).encode())
    unsigned = _b64encode(b'{"alg":"none"}') + "." + body + "."
    assert not ob2.verify_signed(unsigned, signing_key.public_key_pem).valid
    import hmac

    head = _b64encode(b'{"alg":"HS256"}')
    mac = hmac.new(signing_key.public_key_pem.encode(), f"{head}.{body}".encode(), "sha256").digest()
    forged = f"{head}.{body}.{_b64encode(mac)}"
    assert not ob2.verify_signed(forged, signing_key.public_key_pem).valid


def test_verify_hosted_gives_its_reasons():
    url = "https://b.example.org/a/7"
    assertion = ob2.issue_assertion(
        id=url,
        badge="https://b.example.org/b",
        email=EMAIL,
        issued_on=ISSUED,
        expires=ISSUED + timedelta(days=30),
        verification=ob2.HostedVerification(),
    )
    doc = assertion.document()
    assert ob2.verify_hosted(doc, url=url, email=EMAIL, now=ISSUED).valid
    assert ob2.verify_hosted(doc, url=url, email="x@example.org", now=ISSUED).reasons == (
        ob2.Problem.RECIPIENT_MISMATCH,
    )
    assert ob2.verify_hosted(doc, url=url, now=ISSUED + timedelta(days=31)).reasons == (ob2.Problem.EXPIRED,)
    assert ob2.verify_hosted(assertion.revoke().document(), url=url, now=ISSUED).reasons == (ob2.Problem.REVOKED,)
    assert ob2.verify_hosted({"revoked": True}, status=410, url=url).reasons == (ob2.Problem.REVOKED,)
    assert ob2.verify_hosted(None, status=410).reasons == (ob2.Problem.REVOKED,)
    assert ob2.verify_hosted(None, status=404).reasons == (ob2.Problem.MALFORMED,)
    assert ob2.verify_hosted(doc, url="https://elsewhere.example.org/a/7", now=ISSUED).reasons == (
        ob2.Problem.MALFORMED,
    )
    signed_doc = {**doc, "verification": {"type": "signed", "creator": "k"}}
    assert ob2.verify_hosted(signed_doc, url=url, now=ISSUED).reasons == (ob2.Problem.WRONG_VERIFICATION,)
    stripped = {k: v for k, v in doc.items() if k != "recipient"}
    assert ob2.verify_hosted(stripped, url=url, now=ISSUED).reasons == (ob2.Problem.MALFORMED,)


def test_the_revocation_list_names_each_revoked_assertion_with_its_reason():
    doc = ob2.revocation_list_document(
        id="https://b/revocations", issuer="https://b/issuer", revoked={"urn:uuid:2": None, "urn:uuid:1": "error"}
    )
    assert doc["type"] == "RevocationList" and doc["issuer"] == "https://b/issuer"
    assert doc["revokedAssertions"] == [{"id": "urn:uuid:1", "revocationReason": "error"}, {"id": "urn:uuid:2"}]
    # Exactly one is followed by its bare id, so the list stays a list through JSON-LD compaction.
    one = ob2.revocation_list_document(id="https://b/r", issuer="https://b/issuer", revoked={"urn:uuid:3": "x"})
    assert one["revokedAssertions"] == [{"id": "urn:uuid:3", "revocationReason": "x"}, "urn:uuid:3"]
    empty = ob2.revocation_list_document(id="https://b/r", issuer="https://b/issuer", revoked={})
    assert empty["revokedAssertions"] == []


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
