"""Open Badges 3.0: credentials, issuer keys, eddsa-rdfc-2022 proofs, status lists and verification (pure domain).

Typical use::

    keys = KeyStore(keys_dir)
    key = keys.current("openscied")
    credential = build_credential(issuer=IssuerProfile(id=key.controller, ...), achievement=..., ...)
    signed = sign_credential(credential, key)
    verify_credential(signed, now=now, status_lists={url: signed_list}).verified
"""

from __future__ import annotations

from credflow.badges.errors import (
    BadgeError,
    CredentialInputError,
    KeyStoreError,
    UnknownContextError,
    UnsafeDocumentError,
)
from credflow.badges.jsonld import (
    OB_EXTENSIONS_CONTEXT,
    OB_V3_CONTEXT,
    VC_V2_CONTEXT,
    bundled_contexts,
    canonize,
    check_safe_mode,
    document_loader,
)
from credflow.badges.keys import (
    IssuerKey,
    KeyResolutionError,
    KeyResolver,
    KeyStore,
    ResolvedKey,
    did_web_document_url,
    did_web_for,
    resolve_did_key,
)
from credflow.badges.ob3 import (
    ACHIEVEMENT_TYPES,
    AchievementInfo,
    EvidenceLink,
    IssuerProfile,
    StatusEntry,
    build_credential,
    email_matches,
    hash_email,
)
from credflow.badges.proof import CRYPTOSUITE, add_proof, sign_credential, verify_proof
from credflow.badges.status_list import MIN_BITS, StatusList, build_status_list_credential
from credflow.badges.verify import Check, VerificationResult, verify_credential

__all__ = [
    "ACHIEVEMENT_TYPES",
    "CRYPTOSUITE",
    "MIN_BITS",
    "OB_EXTENSIONS_CONTEXT",
    "OB_V3_CONTEXT",
    "VC_V2_CONTEXT",
    "AchievementInfo",
    "BadgeError",
    "Check",
    "CredentialInputError",
    "EvidenceLink",
    "IssuerKey",
    "IssuerProfile",
    "KeyResolutionError",
    "KeyResolver",
    "KeyStore",
    "KeyStoreError",
    "ResolvedKey",
    "StatusEntry",
    "StatusList",
    "UnknownContextError",
    "UnsafeDocumentError",
    "VerificationResult",
    "add_proof",
    "build_credential",
    "build_status_list_credential",
    "bundled_contexts",
    "canonize",
    "check_safe_mode",
    "did_web_document_url",
    "did_web_for",
    "document_loader",
    "email_matches",
    "hash_email",
    "resolve_did_key",
    "sign_credential",
    "verify_credential",
    "verify_proof",
]
