"""Open Badges 3.0: credflow's signed badges verify in Digital Bazaar's independent verifier and in credflow's own."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from credflow.badges import (
    MIN_BITS,
    OB_V3_CONTEXT,
    VC_V2_CONTEXT,
    AchievementInfo,
    CredentialInputError,
    EvidenceLink,
    IssuerKey,
    IssuerProfile,
    KeyResolver,
    KeyStore,
    KeyStoreError,
    StatusEntry,
    StatusList,
    UnknownContextError,
    UnsafeDocumentError,
    add_proof,
    build_credential,
    build_status_list_credential,
    bundled_contexts,
    email_matches,
    hash_email,
    sign_credential,
    verify_credential,
)
from tests.utils.builders import ACHIEVEMENT
from tests.utils.ob3_verify import JS_DIR, NodeVerify, node_verifier, schema_errors

LIST_URL = "https://badges.example.org/status/openscied/1"
AWARDED = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
LATER = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
LISTED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # the status lists' validFrom, before every badge


@pytest.fixture(scope="session")
def node_verify() -> NodeVerify:
    return node_verifier()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


def _issuer(key: IssuerKey) -> IssuerProfile:
    return IssuerProfile(
        id=key.controller, name="OpenSciEd", url="https://www.openscied.org", email="credentials@openscied.org"
    )


def _credential(key: IssuerKey, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "issuer": _issuer(key),
        "achievement": ACHIEVEMENT,
        "valid_from": AWARDED,
        "recipient_email": "Ana.Alvarez@Riverside.example.org",
        "evidence": [
            EvidenceLink(
                id="https://credflow.example.org/submissions/42/evidence/discussion_video",
                # Newline, tab, quotes, a backslash and non-ASCII: N-Quads escaping must match jsonld.js exactly.
                narrative='A 24-minute video.\n\tTeachers "argue from evidence" \\ é — ✓',
                name="Discussion video",
                genre="Video",
            )
        ],
        "status": StatusEntry(list_url=LIST_URL, index=7),
    }
    values.update(overrides)
    return build_credential(**values)


def _status_list(key: IssuerKey, *revoked: int) -> dict[str, Any]:
    bits = StatusList()
    for index in revoked:
        bits.set(index)
    unsigned = build_status_list_credential(
        list_url=LIST_URL, issuer=key.controller, status_list=bits, valid_from=LISTED
    )
    return add_proof(unsigned, key, created=LISTED)


def _verify(credential: dict[str, Any], key: IssuerKey, *revoked: int, now: dt.datetime = LATER) -> Any:
    return verify_credential(credential, now=now, status_lists={LIST_URL: _status_list(key, *revoked)})


def test_the_bundled_contexts_are_the_npm_packages_contexts(node_verify: NodeVerify) -> None:
    proc = subprocess.run(
        ["node", "verify.mjs", "--contexts"], cwd=JS_DIR, capture_output=True, text=True, timeout=60, check=True
    )
    served = json.loads(proc.stdout)
    assert set(served) == set(bundled_contexts())
    for url, context in served.items():
        assert bundled_contexts()[url] == context, url


def test_a_signed_badge_has_every_required_field_and_verifies_in_node_and_python(
    keys: KeyStore, node_verify: NodeVerify
) -> None:
    key = keys.current("openscied")
    signed = sign_credential(_credential(key), key)

    assert signed["@context"] == [VC_V2_CONTEXT, OB_V3_CONTEXT]
    assert signed["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert signed["id"].startswith("urn:uuid:")
    assert signed["issuer"] == {
        "id": key.controller,
        "type": ["Profile"],
        "name": "OpenSciEd",
        "url": "https://www.openscied.org",
        "email": "credentials@openscied.org",
    }
    subject = signed["credentialSubject"]
    identity = subject["identifier"][0]
    assert identity["identityHash"] == hash_email("ana.alvarez@riverside.example.org", identity["salt"])
    assert "riverside" not in json.dumps(signed).lower()  # the address never appears in clear
    assert email_matches(identity, " ana.alvarez@RIVERSIDE.example.org ")
    assert not email_matches(identity, "someone.else@example.org")
    assert subject["achievement"]["criteria"] == {"narrative": ACHIEVEMENT.criteria_narrative}
    assert subject["achievement"]["image"]["type"] == "Image"
    assert signed["evidence"][0]["type"] == ["Evidence"]
    assert signed["credentialStatus"]["statusListIndex"] == "7"
    [proof] = signed["proof"]  # a proof set of one, as the OB 3.0 JSON Schema requires
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof",
        "eddsa-rdfc-2022",
        "assertionMethod",
    )
    assert proof["verificationMethod"] == f"{key.controller}#{key.public_key_multibase}"
    assert key.controller.startswith("did:key:z6Mk") and proof["proofValue"].startswith("z")

    result = _verify(signed, key)
    assert result.verified, result.errors
    assert [c.outcome for c in result.checks] == ["passed"] * 6
    [node] = node_verify([signed], status_lists=[_status_list(key)])
    assert node == {"verified": True, "errors": []}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="full"),
        pytest.param(
            {"evidence": (), "status": None, "recipient_email": None, "recipient_id": "did:example:ana"}, id="bare"
        ),
        pytest.param({"valid_until": LATER, "description": "Renewed for a year."}, id="expiring"),
    ],
)
def test_a_signed_badge_meets_1edtechs_json_schema_which_a_single_proof_object_breaks(
    keys: KeyStore, overrides: dict[str, Any]
) -> None:
    key = keys.current("openscied")
    signed = sign_credential(_credential(key, **overrides), key)
    assert schema_errors(signed) == []
    single = {**signed, "proof": signed["proof"][0]}  # what credflow issued before
    assert [error.partition(":")[0] for error in schema_errors(single)] == ["proof"]


def test_a_single_proof_object_and_a_proof_set_both_verify_and_every_proof_of_a_set_must_hold(
    keys: KeyStore, node_verify: NodeVerify
) -> None:
    key = keys.current("openscied")
    signed = sign_credential(_credential(key), key)
    [proof] = signed["proof"]
    single = {**signed, "proof": proof}  # the form credflow issued before the OB 3.0 JSON Schema check
    assert _verify(single, key).verified, _verify(single, key).errors

    other = keys.current("other-issuer")
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    foreign = add_proof(unsigned, other)["proof"]
    broken = {**proof, "proofValue": proof["proofValue"][:-4] + "1111"}
    with_bad = {**signed, "proof": [proof, broken]}
    with_foreign = {**signed, "proof": [proof, foreign]}
    empty = {**signed, "proof": []}

    assert _verify({**signed, "proof": [proof, proof]}, key).verified
    bad = _verify(with_bad, key)
    assert bad.check("signature").outcome == "failed"
    assert bad.check("signature").detail.startswith("1 of 2 proofs hold")
    foreign_result = _verify(with_foreign, key)
    assert foreign_result.check("signature").outcome == "passed"
    assert foreign_result.check("issuer").outcome == "failed"
    assert not _verify(empty, key).verified
    # Digital Bazaar's verifier takes both forms (it passes a set when one proof holds: credflow is stricter).
    nodes = node_verify([signed, single], status_lists=[_status_list(key)])
    assert [n["verified"] for n in nodes] == [True, True]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c.update(name="Expert Facilitator"), id="name"),
        pytest.param(
            lambda c: c["credentialSubject"]["identifier"][0].update(
                identityHash=hash_email("mallory@example.org", c["credentialSubject"]["identifier"][0]["salt"])
            ),
            id="recipient-hash",
        ),
        pytest.param(lambda c: c.update(validFrom="2020-01-01T00:00:00Z"), id="backdated"),
    ],
)
def test_a_tampered_badge_fails_in_node_and_python(
    keys: KeyStore, node_verify: NodeVerify, tamper: Callable[[dict[str, Any]], None]
) -> None:
    key = keys.current("openscied")
    signed = sign_credential(_credential(key), key)
    tampered = copy.deepcopy(signed)
    tamper(tampered)

    result = _verify(tampered, key)
    assert not result.verified
    assert result.check("signature").outcome == "failed"
    [node_good, node_bad] = node_verify([signed, tampered], status_lists=[_status_list(key)])
    assert node_good["verified"] and not node_bad["verified"]
    assert "Invalid signature." in node_bad["errors"]


def test_an_unknown_term_is_refused_before_signing_and_when_added_after(
    keys: KeyStore, node_verify: NodeVerify
) -> None:
    key = keys.current("openscied")
    credential = _credential(key)
    credential["credentialSubject"]["score"] = "A+"
    credential["credentialSubject"]["achievement"]["type"] = ["Achievement", "GoldStar"]
    with pytest.raises(UnsafeDocumentError) as refused:
        sign_credential(credential, key)
    problems = " | ".join(refused.value.problems)
    assert "'score'" in problems and "'GoldStar'" in problems

    # Added after signing, the term is not covered by the proof: both verifiers must refuse the badge.
    signed = sign_credential(_credential(key), key)
    padded = copy.deepcopy(signed)
    padded["credentialSubject"]["score"] = "A+"
    result = _verify(padded, key)
    assert result.check("safe_mode").outcome == "failed" and not result.verified
    [node] = node_verify([padded], status_lists=[_status_list(key)])
    assert not node["verified"] and "Safe mode validation error." in node["errors"]


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda c: c.update({"xsd:note": "x"}), UnsafeDocumentError, "not defined"),
        (
            lambda c: c["issuer"].update({"@context": {"note": "https://example.org/note"}}),
            UnsafeDocumentError,
            "nested",
        ),
        (lambda c: c["issuer"].update(id="issuers/openscied"), CredentialInputError, "controller"),
        (lambda c: c.update(description=None), UnsafeDocumentError, "null"),
        (lambda c: c["credentialSubject"].update(creditsEarned=1.5), UnsafeDocumentError, "non-integer"),
        (lambda c: c.update(name="bell \x07"), UnsafeDocumentError, "control characters"),
        (lambda c: c["@context"].append("https://example.org/my-context.json"), UnknownContextError, "not bundled"),
    ],
    ids=["compact-iri", "inline-context", "issuer-mismatch", "null", "float", "control-char", "unknown-context"],
)
def test_safe_mode_and_signing_refuse_what_the_proof_would_not_cover(
    keys: KeyStore, change: Callable[[dict[str, Any]], None], error: type[Exception], words: str
) -> None:
    key = keys.current("openscied")
    credential = _credential(key)
    change(credential)
    with pytest.raises(error, match=words):
        sign_credential(credential, key)


def test_rotation_keeps_earlier_badges_verifiable(keys: KeyStore, node_verify: NodeVerify) -> None:
    old_key = keys.current("openscied")
    old_badge = sign_credential(_credential(old_key), old_key)
    old_list = _status_list(old_key)
    new_key = keys.rotate("openscied", compromised=True)
    new_badge = sign_credential(_credential(new_key, status=None), new_key)

    assert new_key.key_id != old_key.key_id
    assert keys.current("openscied").key_id == new_key.key_id
    assert [k.key_id for k in keys.history("openscied")] == [old_key.key_id, new_key.key_id]
    retired = list((keys.keys_dir / "openscied" / "retired").glob("*.json"))
    assert len(retired) == 1 and "secretKeyMultibase" not in json.loads(retired[0].read_text())
    with pytest.raises(KeyStoreError, match="retired"):
        keys.history("openscied")[0].sign(b"x")

    assert _verify(old_badge, old_key).verified
    assert verify_credential(new_badge, now=LATER).verified
    assert node_verify([old_badge, new_badge], status_lists=[old_list]) == [{"verified": True, "errors": []}] * 2


def test_an_expired_badge_fails_in_node_and_python(keys: KeyStore, node_verify: NodeVerify) -> None:
    key = keys.current("openscied")
    expired = sign_credential(
        _credential(
            key, valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), valid_until=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        ),
        key,
    )
    assert expired["validUntil"] == "2025-01-01T00:00:00Z"
    assert _verify(expired, key, now=dt.datetime(2024, 12, 31, 23, 59, tzinfo=dt.UTC)).verified
    result = _verify(expired, key, now=LATER)
    assert not result.verified
    assert result.errors == [f"validity: expired at 2025-01-01T00:00:00Z (now {LATER.isoformat()})"]
    [node] = node_verify([expired], status_lists=[_status_list(key)], now=LATER.isoformat())
    assert not node["verified"] and any("validUntil" in e for e in node["errors"])


def test_a_revoked_badge_fails_in_node_and_python(keys: KeyStore, node_verify: NodeVerify) -> None:
    key = keys.current("openscied")
    badge = sign_credential(_credential(key), key)
    assert _verify(badge, key, 6, 8).verified  # neighbours revoked, not this one
    result = _verify(badge, key, 7)
    assert result.errors == [f"status: revoked (bit 7 of {LIST_URL} is set)"]
    [node] = node_verify([badge], status_lists=[_status_list(key, 7)])
    assert not node["verified"] and any("status bit set" in e for e in node["errors"])
    # A lookup function instead of the list itself.
    assert not verify_credential(badge, now=LATER, status_lookup=lambda url, index: index == 7).verified
    assert verify_credential(badge, now=LATER).check("status").outcome == "skipped"


def test_a_status_list_from_another_issuer_or_forged_is_refused(keys: KeyStore) -> None:
    key = keys.current("openscied")
    other = keys.current("digital-promise")
    badge = sign_credential(_credential(key), key)
    foreign = add_proof(
        build_status_list_credential(
            list_url=LIST_URL, issuer=other.controller, status_list=StatusList(), valid_from=AWARDED
        ),
        other,
    )
    result = verify_credential(badge, now=LATER, status_lists={LIST_URL: foreign})
    assert "issuer is not the credential's issuer" in result.check("status").detail
    # The revoked list with its bits swapped for an all-clear list: the list's own signature breaks.
    forged = _status_list(key, 7)
    forged["credentialSubject"]["encodedList"] = StatusList().encode()
    detail = verify_credential(badge, now=LATER, status_lists={LIST_URL: forged}).check("status").detail
    assert "does not verify: signature" in detail


def test_status_list_bits_follow_the_spec_encoding() -> None:
    bits = StatusList()
    assert bits.length == MIN_BITS == 131_072
    bits.set(0)
    bits.set(9)
    bits.set(MIN_BITS - 1)
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded
    import base64

    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    # Index 0 is the left-most (most significant) bit of the first byte.
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000 and raw[-1] == 0b0000_0001
    decoded = StatusList.decode(encoded)
    assert [decoded.get(i) for i in (0, 1, 9, MIN_BITS - 1)] == [True, False, True, True]
    decoded.clear(9)
    assert not decoded.get(9)
    assert encoded == StatusList.decode(encoded).encode()  # gzip without a timestamp: stable bytes
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).decode().rstrip("=")
    with pytest.raises(CredentialInputError, match="131072"):
        StatusList.decode(short)
    with pytest.raises(IndexError):
        bits.set(MIN_BITS)


def test_keys_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = KeyStore(tmp_path / "keys").current("openscied")
    again = KeyStore(tmp_path / "keys").current("openscied")
    assert again.key_id == first.key_id and again.sign(b"m") == first.sign(b"m")
    path = tmp_path / "keys" / "openscied" / "current.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    record = json.loads(path.read_text())
    assert record["type"] == "Multikey" and record["issuerId"] == "openscied"
    assert record["id"] == f"did:key:{record['publicKeyMultibase']}#{record['publicKeyMultibase']}"
    assert record["secretKeyMultibase"].startswith("z3u2") and record["created"].endswith("Z")

    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore(tmp_path / "keys").current("openscied")
    with pytest.raises(KeyStoreError, match="slug"):
        KeyStore(tmp_path / "keys").current("../escape")


def test_an_issuer_key_is_read_once_and_a_rotation_elsewhere_is_picked_up(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    old_key = keys.current("openscied")
    assert keys.current("openscied") is old_key and keys.loads == 1
    new_key = KeyStore(tmp_path / "keys").rotate("openscied")  # another process: `credflow badge rotate-key`
    assert keys.current("openscied").key_id == new_key.key_id and keys.loads == 2
    badge = sign_credential(_credential(keys.current("openscied"), status=None), keys.current("openscied"))
    assert badge["proof"][0]["verificationMethod"] == new_key.key_id
    assert verify_credential(badge, now=LATER).verified


def test_did_web_keys_rotate_under_one_did_document(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys", did_web_base="https://badges.example.org/issuers")
    old_key = keys.current("openscied")
    assert old_key.controller == "did:web:badges.example.org:issuers:openscied"
    old_badge = sign_credential(_credential(old_key, status=None), old_key)
    new_key = keys.rotate("openscied")
    new_badge = sign_credential(_credential(new_key, status=None), new_key)
    assert new_key.controller == old_key.controller and new_key.key_id != old_key.key_id

    document = keys.did_document("openscied")
    assert document["assertionMethod"] == [old_key.key_id, new_key.key_id]
    for badge in (old_badge, new_badge):
        assert verify_credential(badge, now=LATER, resolver=keys.resolver()).verified
        assert verify_credential(badge, now=LATER, resolver=KeyResolver({document["id"]: document})).verified
    unknown = verify_credential(new_badge, now=LATER)  # did:key-only resolution knows no did:web document
    assert unknown.check("signature").outcome == "failed" and "no DID document" in unknown.check("signature").detail


def test_inputs_that_break_open_badges_rules_are_refused(keys: KeyStore) -> None:
    key = keys.current("openscied")
    signed_link = EvidenceLink(
        id="https://credflow.example.org/files/evidence/1b2c?expires=1&signature=ab", narrative="the video"
    )
    with pytest.raises(CredentialInputError, match="evidence record"):
        _credential(key, evidence=[signed_link])
    with pytest.raises(CredentialInputError, match="time zone"):
        _credential(key, valid_from=dt.datetime(2025, 1, 1))
    with pytest.raises(CredentialInputError, match="recipient"):
        _credential(key, recipient_email=None)
    with pytest.raises(CredentialInputError, match="vocabulary"):
        build_credential(
            issuer=_issuer(key),
            achievement=AchievementInfo(**{**ACHIEVEMENT.__dict__, "achievement_type": "GoldStar"}),
            valid_from=AWARDED,
            recipient_email="a@example.org",
        )
