"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C VC Data Integrity EdDSA Cryptosuites v1.0).

Signing (section 3.2 of the cryptosuite spec): the proof options (the proof without ``proofValue``, with the
document's ``@context``) and the document (without ``proof``) are each canonicalised with RDFC-1.0 and hashed
with SHA-256; the Ed25519 signature over ``sha256(canonical options) || sha256(canonical document)`` is the
``proofValue``, multibase base58btc (``z...``). Both are checked by JSON-LD safe mode first, so nothing in
either escapes the signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature

from credflow.badges.errors import BadgeError, CredentialInputError
from credflow.badges.jsonld import canonize, check_safe_mode
from credflow.badges.keys import IssuerKey, KeyResolver, ResolvedKey, Resolver
from credflow.badges.ob3 import xsd_datetime

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"


def _hash_data(unsecured: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """``sha256(canonical proof config) || sha256(canonical document)``, both checked by safe mode first.

    The expanded forms safe mode returns are canonicalised directly, so the contexts are processed once.
    """
    expanded_document = check_safe_mode(unsecured)
    expanded_config = check_safe_mode(proof_config)
    return (
        hashlib.sha256(canonize(expanded_config).encode("utf-8")).digest()
        + hashlib.sha256(canonize(expanded_document).encode("utf-8")).digest()
    )


def issuer_id(document: Mapping[str, Any]) -> str | None:
    """The issuer id of a credential whose ``issuer`` is a URL or an object with an ``id``."""
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def add_proof(
    document: Mapping[str, Any],
    key: IssuerKey,
    *,
    created: dt.datetime | None = None,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Sign ``document`` with an ``eddsa-rdfc-2022`` DataIntegrityProof.

    Args:
        document: An unsigned JSON-LD document (credential or status list).
        key: The issuer's current key.
        created: The proof's ``created`` time; now when None.
        proof_purpose: ``assertionMethod`` for credentials.

    Returns:
        A copy of ``document`` with its ``proof``.

    Raises:
        UnsafeDocumentError: The document (or the proof options) holds data the signature would not cover.
        UnknownContextError: The document names a context credflow does not bundle.
        CredentialInputError: The document already has a proof (proof sets and chains are not supported).
    """
    if "proof" in document:
        raise CredentialInputError("the document already has a proof")
    unsecured = dict(document)
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created or dt.datetime.now(dt.UTC), "proof created"),
        "verificationMethod": key.key_id,
        "proofPurpose": proof_purpose,
    }
    proof_config = {"@context": unsecured.get("@context"), **options}
    signature = key.sign(_hash_data(unsecured, proof_config))
    return {**unsecured, "proof": {**options, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}}


def sign_credential(
    credential: Mapping[str, Any], key: IssuerKey, *, created: dt.datetime | None = None
) -> dict[str, Any]:
    """Sign a credential for assertion, after checking its issuer is the key's controller.

    The ``proof`` is a one-element array: 1EdTech's OB 3.0 JSON Schema requires an array, and W3C VC 2.0
    allows one or more proofs (a proof set), so every verifier reads it.

    Raises:
        CredentialInputError: The issuer id is not the key's DID: every verifier would refuse the badge.
        UnsafeDocumentError: See :func:`add_proof`.
    """
    if issuer_id(credential) != key.controller:
        raise CredentialInputError(
            f"the credential's issuer {issuer_id(credential)!r} is not the signing key's controller {key.controller!r}"
        )
    signed = add_proof(credential, key, created=created)
    return {**signed, "proof": [signed["proof"]]}


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of checking one proof.

    ``key`` is set once the verification method resolved; ``safe_mode`` once the document went through JSON-LD
    safe mode: None when it was not reached, "" when it passed, else why it failed.
    """

    ok: bool
    reason: str
    key: ResolvedKey | None = None
    safe_mode: str | None = None


def proofs_of(document: Mapping[str, Any]) -> list[Any]:
    """The proofs of ``document``: its ``proof`` object, or each item of a proof set (an array)."""
    proof = document.get("proof")
    if proof is None:
        return []
    return list(proof) if isinstance(proof, list) else [proof]


def verify_proofs(document: Mapping[str, Any], *, resolver: Resolver | None = None) -> tuple[ProofCheck, ...]:
    """Check every ``eddsa-rdfc-2022`` proof of ``document``: a single object or a proof set (an array).

    W3C VC 2.0 allows a proof set; each proof signs the document without ``proof``, and all must hold.

    Returns:
        One check per proof, in order; a single failed check when there is none.
    """
    proofs = proofs_of(document)
    if not proofs:
        return (ProofCheck(False, "the document has no proof"),)
    resolver = resolver or KeyResolver()
    return tuple(_verify_one(document, proof, resolver) for proof in proofs)


def verify_proof(document: Mapping[str, Any], *, resolver: Resolver | None = None) -> ProofCheck:
    """Check the proofs of ``document`` (see :func:`verify_proofs`): the first that fails, else the last."""
    checks = verify_proofs(document, resolver=resolver)
    return next((check for check in checks if not check.ok), checks[-1])


def _verify_one(document: Mapping[str, Any], proof: Any, resolver: Resolver) -> ProofCheck:
    if not isinstance(proof, Mapping):
        return ProofCheck(False, "a proof is not a JSON object")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return ProofCheck(
            False, f"proof is {proof.get('type')}/{proof.get('cryptosuite')}, not {PROOF_TYPE}/{CRYPTOSUITE}"
        )
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        return ProofCheck(False, "proofValue is not base58btc multibase")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError:
        return ProofCheck(False, "proofValue is not valid base58btc")
    method = proof.get("verificationMethod")
    if not isinstance(method, str):
        return ProofCheck(False, "proof has no verificationMethod")
    try:
        key = resolver(method)
    except BadgeError as exc:
        return ProofCheck(False, f"verification method not resolved: {exc}")
    except ValueError as exc:  # a malformed key in a DID document
        return ProofCheck(False, f"verification method not resolved: {exc}")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    # A proof may carry its own @context; it must then be the document's (spec: securedDocument.@context
    # starts with proofOptions.@context). Otherwise the document's context is used, as when signing.
    context = options.pop("@context", unsecured.get("@context"))
    if context != unsecured.get("@context"):
        return ProofCheck(False, "the proof's @context differs from the document's", key)
    try:
        data = _hash_data(unsecured, {"@context": context, **options})
    except BadgeError as exc:  # safe mode refused the document or the proof options, or a context is unknown
        return ProofCheck(False, "the document holds data the proof cannot cover (see safe_mode)", key, str(exc))
    try:
        key.public_key.verify(signature, data)
    except InvalidSignature:
        reason = "signature does not match the document (changed after signing, or another key)"
        return ProofCheck(False, reason, key, "")
    return ProofCheck(True, f"signed by {method}", key, "")
