"""Open Badges 3.0 credentials (``OpenBadgeCredential``) built from plain inputs, ready to sign.

The shape follows the OB 3.0 specification on W3C VC 2.0: ``@context`` (VC 2.0 first, then OB 3.0.3),
``id``, ``type``, ``issuer`` (a Profile whose ``id`` is the DID of the signing key), ``validFrom`` and optional
``validUntil``, ``name``, ``credentialSubject`` (an AchievementSubject with a salted, hashed email
``identifier`` and/or an ``id``, and the ``achievement``), ``evidence`` links and a revocation
``credentialStatus`` (BitstringStatusListEntry).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from credflow.badges.errors import CredentialInputError
from credflow.badges.jsonld import OB_V3_CONTEXT, VC_V2_CONTEXT

CONTEXTS = (VC_V2_CONTEXT, OB_V3_CONTEXT)

#: The OB 3.0 AchievementType vocabulary; other values must start with "ext:".
ACHIEVEMENT_TYPES = frozenset(
    {
        "Achievement",
        "ApprenticeshipCertificate",
        "Assessment",
        "Assignment",
        "AssociateDegree",
        "Award",
        "Badge",
        "BachelorDegree",
        "Certificate",
        "CertificateOfCompletion",
        "Certification",
        "CoCurricular",
        "CommunityService",
        "Competency",
        "Course",
        "Degree",
        "Diploma",
        "DoctoralDegree",
        "Fieldwork",
        "GeneralEducationDevelopment",
        "JourneymanCertificate",
        "LearningProgram",
        "License",
        "Membership",
        "ProfessionalDoctorate",
        "QualityAssuranceCredential",
        "MasterCertificate",
        "MasterDegree",
        "MicroCredential",
        "ResearchDoctorate",
        "SecondarySchoolDiploma",
    }
)

_URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, kw_only=True)
class IssuerProfile:
    """The issuing organisation as the badge names it."""

    id: str  # the DID that controls the signing key (IssuerKey.controller): verifiers require they match
    name: str
    url: str
    email: str
    description: str | None = None
    image_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class AchievementInfo:
    """What was earned: the badge class of OB 2.0, the Achievement of OB 3.0."""

    id: str  # a stable https URL (or urn:uuid) of the achievement, the same on every badge of its kind
    name: str
    description: str
    criteria_narrative: str
    image_url: str
    image_caption: str | None = None
    criteria_url: str | None = None
    achievement_type: str | None = None  # one of ACHIEVEMENT_TYPES (e.g. "MicroCredential") or "ext:..."


@dataclass(frozen=True, kw_only=True)
class EvidenceLink:
    """One piece of evidence, linked by its record page: never a stored file or an expiring signed link."""

    id: str
    narrative: str
    name: str | None = None
    description: str | None = None
    genre: str | None = None


@dataclass(frozen=True, kw_only=True)
class StatusEntry:
    """Where the badge's revocation bit lives: an index in a BitstringStatusListCredential."""

    list_url: str
    index: int


def hash_email(email: str, salt: str) -> str:
    """The OB ``identityHash`` of an email address: ``sha256$`` + hex(sha256(normalised email + salt)).

    Email addresses are compared trimmed and lower-cased, as backpacks do, so the address a recipient types in
    later matches however it was written at intake.
    """
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return f"sha256${digest}"


def email_matches(identity: Mapping[str, Any], email: str) -> bool:
    """Whether a hashed-email IdentityObject of a credential names ``email``."""
    if identity.get("identityType") != "emailAddress":
        return False
    expected = str(identity.get("identityHash", ""))
    if not identity.get("hashed"):
        return hmac.compare_digest(expected.strip().lower(), email.strip().lower())
    return hmac.compare_digest(expected.lower(), hash_email(email, str(identity.get("salt", ""))).lower())


def xsd_datetime(value: dt.datetime, what: str = "date") -> str:
    """``value`` as an XML Schema dateTime in UTC to the second (``2025-05-01T12:00:00Z``).

    Raises:
        CredentialInputError: ``value`` is naive: a badge date without a zone means different instants to
            different verifiers.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise CredentialInputError(f"{what} {value!r} has no time zone")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise CredentialInputError(f"{what} must be an http(s) URL, not {url!r}")
    return url


def _check_id(value: str, what: str) -> str:
    if _URN_UUID.match(value) or _DID.match(value):
        return value
    return _check_url(value, what)


def _check_evidence_url(url: str) -> str:
    _check_url(url, "evidence id")
    parts = urlsplit(url)
    # Presigned object links carry their signature in the query (?signature=, X-Amz-Signature=) and the local
    # store serves files under /files/: both would publish a private file, and expire anyway.
    if parts.query or "/files/" in f"{parts.path}/":
        raise CredentialInputError(
            f"evidence id {url!r} looks like a stored file or a signed link; link the evidence record instead"
        )
    return url


def _text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise CredentialInputError(f"{what} is empty")
    return value


def _achievement(info: AchievementInfo) -> dict[str, Any]:
    criteria: dict[str, Any] = {"narrative": _text(info.criteria_narrative, "criteria narrative")}
    if info.criteria_url is not None:
        criteria = {"id": _check_url(info.criteria_url, "criteria url"), **criteria}
    image: dict[str, Any] = {"id": _check_url(info.image_url, "achievement image"), "type": "Image"}
    if info.image_caption:
        image["caption"] = info.image_caption
    achievement: dict[str, Any] = {
        "id": _check_id(info.id, "achievement id"),
        "type": ["Achievement"],
        "name": _text(info.name, "achievement name"),
        "description": _text(info.description, "achievement description"),
        "criteria": criteria,
        "image": image,
    }
    if info.achievement_type is not None:
        if info.achievement_type not in ACHIEVEMENT_TYPES and not info.achievement_type.startswith("ext:"):
            raise CredentialInputError(
                f"achievement type {info.achievement_type!r} is not in the OB 3.0 vocabulary (extensions start 'ext:')"
            )
        achievement["achievementType"] = info.achievement_type
    return achievement


def achievement_document(info: AchievementInfo) -> dict[str, Any]:
    """The Achievement on its own, as JSON-LD: what a credential's ``achievement.id`` answers.

    Raises:
        CredentialInputError: See :func:`build_credential`.
    """
    return {"@context": list(CONTEXTS), **_achievement(info)}


def _issuer(profile: IssuerProfile) -> dict[str, Any]:
    if not _EMAIL.match(profile.email):
        raise CredentialInputError(f"issuer email {profile.email!r} is not an email address")
    issuer: dict[str, Any] = {
        "id": _check_id(profile.id, "issuer id"),
        "type": ["Profile"],
        "name": _text(profile.name, "issuer name"),
        "url": _check_url(profile.url, "issuer url"),
        "email": profile.email,
    }
    if profile.description:
        issuer["description"] = profile.description
    if profile.image_url:
        issuer["image"] = {"id": _check_url(profile.image_url, "issuer image"), "type": "Image"}
    return issuer


def _evidence(item: EvidenceLink) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": _check_evidence_url(item.id),
        "type": ["Evidence"],
        "narrative": _text(item.narrative, "evidence narrative"),
    }
    for field in ("name", "description", "genre"):
        value = getattr(item, field)
        if value:
            entry[field] = value
    return entry


def status_entry(status: StatusEntry) -> dict[str, Any]:
    """The ``credentialStatus`` of a revocable badge (the index is a string, as the spec writes it)."""
    _check_url(status.list_url, "status list url")
    if status.index < 0:
        raise CredentialInputError(f"status list index {status.index} is negative")
    return {
        "id": f"{status.list_url}#{status.index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(status.index),
        "statusListCredential": status.list_url,
    }


def build_credential(
    *,
    issuer: IssuerProfile,
    achievement: AchievementInfo,
    valid_from: dt.datetime,
    recipient_email: str | None = None,
    recipient_id: str | None = None,
    salt: str | None = None,
    valid_until: dt.datetime | None = None,
    awarded: dt.datetime | None = None,
    evidence: Sequence[EvidenceLink] = (),
    status: StatusEntry | None = None,
    credential_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """An unsigned OpenBadgeCredential (sign it with :func:`credflow.badges.proof.sign_credential`).

    Args:
        issuer: The issuing organisation; its ``id`` must be the signing key's controller DID.
        achievement: What was earned.
        valid_from: When the badge starts being valid (usually the award time).
        recipient_email: The earner's email, stored only as a salted sha256 ``identityHash``.
        recipient_id: The earner's own DID or profile URL, when known.
        salt: Salt of the email hash; a fresh random one when None (keep it to re-issue the same identity).
        valid_until: Expiry, or None for a badge that never expires.
        awarded: OB ``awardedDate``; defaults to ``valid_from``.
        evidence: Links to the evidence records the badge was earned with.
        status: The badge's revocation bit, or None for a badge that cannot be revoked.
        credential_id: An https URL (the public verification page) or ``urn:uuid:``; a new urn:uuid when None.
        name: The credential's display name; defaults to the achievement's name.
        description: Optional credential description.

    Returns:
        The credential as a JSON-ready dict.

    Raises:
        CredentialInputError: No recipient, a naive date, ``valid_until`` not after ``valid_from``, a bad URL,
            an evidence link to a file, or an achievement type outside the OB vocabulary.
    """
    if recipient_email is None and recipient_id is None:
        raise CredentialInputError("a credential needs a recipient email or id")
    subject: dict[str, Any] = {}
    if recipient_id is not None:
        subject["id"] = _check_id(recipient_id, "recipient id")
    subject["type"] = ["AchievementSubject"]
    if recipient_email is not None:
        if not _EMAIL.match(recipient_email.strip()):
            raise CredentialInputError("recipient email is not an email address")
        salt = salt if salt is not None else secrets.token_hex(16)
        subject["identifier"] = [
            {
                "type": "IdentityObject",
                "identityHash": hash_email(recipient_email, salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            }
        ]
    subject["achievement"] = _achievement(achievement)

    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": _check_id(credential_id, "credential id") if credential_id else f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": _issuer(issuer),
        "validFrom": xsd_datetime(valid_from, "valid_from"),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise CredentialInputError("valid_until must be after valid_from")
        credential["validUntil"] = xsd_datetime(valid_until, "valid_until")
    credential["awardedDate"] = xsd_datetime(awarded or valid_from, "awarded")
    credential["name"] = _text(name or achievement.name, "credential name")
    if description:
        credential["description"] = description
    credential["credentialSubject"] = subject
    if evidence:
        credential["evidence"] = [_evidence(item) for item in evidence]
    if status is not None:
        credential["credentialStatus"] = status_entry(status)
    return credential
