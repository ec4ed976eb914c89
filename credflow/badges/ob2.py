"""Open Badges 2.0: issuer profiles, badge classes and assertions, verified hosted or signed (RS256 JWS).

The documents are plain JSON-LD dicts (``@context: https://w3id.org/openbadges/v2``) that the web
app serves at their ids. A hosted assertion is the document at its own URL (``410 Gone`` once
revoked); a signed one is a compact JWS whose payload is the assertion, signed with an RSA key
from a :class:`RsaKeyStore` and checked against the ``CryptographicKey`` its issuer publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from credflow.badges.errors import KeyStoreError
from credflow.catalog.models import Credential

OB2_CONTEXT = "https://w3id.org/openbadges/v2"
JWS_ALGORITHM = "RS256"
RSA_KEY_BITS = 3072
_MIN_RSA_KEY_BITS = 2048

Document = dict[str, Any]
# What identifies a key file's contents without reading it: key name, inode, size, mtime and ctime (ns).
_FileStamp = tuple[str, int, int, int, int]


def normalise_email(email: str) -> str:
    """The form of an address that credflow hashes: trimmed and lower-cased.

    Args:
        email: an address as typed.

    Returns:
        The address without surrounding spaces, in lower case.
    """
    return email.strip().lower()


def hash_identity(identity: str, salt: str) -> str:
    """The OB 2.0 hashed identity: ``sha256$`` and hex(sha256(identity + salt)).

    Args:
        identity: the recipient's identifier (an email address, already normalised).
        salt: the salt stored beside the hash in the assertion.

    Returns:
        The ``sha256$…`` string for the assertion's ``recipient.identity``.
    """
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()


def format_datetime(moment: datetime) -> str:
    """An aware datetime as the ISO 8601 UTC string OB 2.0 expects (``2026-11-23T06:44:00Z``).

    Raises:
        ValueError: the datetime has no time zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; Open Badges dates must be unambiguous")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> datetime:
    """Parse an OB 2.0 DateTime (ISO 8601); a value without a zone is taken as UTC.

    Raises:
        ValueError: the value is not an ISO 8601 date or date-time.
    """
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class PublicKey:
    """An issuer's RSA public key as published for signed verification (a ``CryptographicKey``)."""

    id: str
    owner: str
    public_key_pem: str

    def document(self) -> Document:
        """The ``CryptographicKey`` document to serve at :attr:`id`."""
        return {
            "@context": OB2_CONTEXT,
            "id": self.id,
            "type": "CryptographicKey",
            "owner": self.owner,
            "publicKeyPem": self.public_key_pem,
        }


@dataclass(frozen=True)
class Issuer:
    """An issuer profile.

    ``public_key`` is the key that signs now. The profile lists that one key only: 1EdTech's
    validator refuses a profile with more than one ``publicKey`` (and then every signed badge of
    the issuer). Retired keys stay served at their own URLs (see :meth:`RsaKeyStore.public_keys`),
    so a badge signed before a rotation can still be checked against its ``creator`` key.
    """

    id: str
    name: str
    url: str
    email: str
    public_key: PublicKey | None = None
    revocation_list: str | None = None

    def document(self) -> Document:
        """The ``Issuer`` profile document to serve at :attr:`id`."""
        doc: Document = {
            "@context": OB2_CONTEXT,
            "id": self.id,
            "type": "Issuer",
            "name": self.name,
            "url": self.url,
            "email": self.email,
        }
        if self.public_key is not None:
            # By URL, the key served on its own: 1EdTech's validator fails signed assertions whose
            # issuer embeds the key object (it checks the signature before it holds the key node).
            doc["publicKey"] = self.public_key.id
        if self.revocation_list:
            doc["revocationList"] = self.revocation_list
        return doc


@dataclass(frozen=True)
class BadgeClass:
    """What is earned: one micro-credential's badge, with the narrative of its criteria."""

    id: str
    name: str
    description: str
    image: str
    criteria: str
    issuer: str

    @classmethod
    def from_credential(cls, credential: Credential, *, id: str, image: str, issuer: str) -> BadgeClass:
        """The badge class of a catalog micro-credential.

        Args:
            credential: the catalog entry (its ``badge`` block gives name, description, criteria).
            id: the URL the badge class is served at.
            image: the badge image URL (or a ``data:`` URI).
            issuer: the issuer profile URL.
        """
        badge = credential.badge
        return cls(
            id=id, name=badge.name, description=badge.description, image=image, criteria=badge.criteria, issuer=issuer
        )

    def document(self) -> Document:
        """The ``BadgeClass`` document to serve at :attr:`id`."""
        return {
            "@context": OB2_CONTEXT,
            "id": self.id,
            "type": "BadgeClass",
            "name": self.name,
            "description": self.description,
            "image": self.image,
            "criteria": {"narrative": self.criteria},
            "issuer": self.issuer,
        }


@dataclass(frozen=True)
class Recipient:
    """A hashed email identity: the address never appears in the assertion."""

    identity: str
    salt: str

    @classmethod
    def for_email(cls, email: str, *, salt: str | None = None) -> Recipient:
        """Hash an address with a fresh random salt (or the one given)."""
        salt = salt if salt is not None else secrets.token_hex(16)
        return cls(identity=hash_identity(normalise_email(email), salt), salt=salt)

    def matches(self, email: str) -> bool:
        """Whether this identity is the hash of ``email``."""
        return secrets.compare_digest(hash_identity(normalise_email(email), self.salt), self.identity)

    def document(self) -> Document:
        """The assertion's ``recipient`` object."""
        return {"type": "email", "hashed": True, "salt": self.salt, "identity": self.identity}


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: a narrative, a URL, or both."""

    narrative: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if not self.narrative and not self.id:
            raise ValueError("evidence needs a narrative or an id (URL)")

    def document(self) -> Document:
        """The ``Evidence`` object inside an assertion."""
        doc: Document = {"type": "Evidence"}
        if self.id:
            doc["id"] = self.id
        if self.narrative:
            doc["narrative"] = self.narrative
        return doc


@dataclass(frozen=True)
class HostedVerification:
    """Verified by fetching the assertion at its id."""

    def document(self) -> Document:
        """The assertion's ``verification`` object."""
        return {"type": "hosted"}


@dataclass(frozen=True)
class SignedVerification:
    """Verified by checking the JWS against the key at ``creator`` (a URL the issuer lists)."""

    creator: str

    def document(self) -> Document:
        """The assertion's ``verification`` object."""
        return {"type": "signed", "creator": self.creator}


@dataclass(frozen=True)
class Assertion:
    """One awarded badge."""

    id: str
    badge: str
    recipient: Recipient
    issued_on: datetime
    verification: HostedVerification | SignedVerification
    expires: datetime | None = None
    evidence: tuple[Evidence, ...] = ()
    revoked: bool = False
    revocation_reason: str | None = None

    def __post_init__(self) -> None:
        format_datetime(self.issued_on)  # refuses naive datetimes early
        if self.expires is not None:
            format_datetime(self.expires)
            if self.expires <= self.issued_on:
                raise ValueError("an assertion must expire after it is issued")

    def document(self) -> Document:
        """The full ``Assertion`` document (the hosted body, or the JWS payload)."""
        doc: Document = {
            "@context": OB2_CONTEXT,
            "id": self.id,
            "type": "Assertion",
            "recipient": self.recipient.document(),
            "badge": self.badge,
            "verification": self.verification.document(),
            "issuedOn": format_datetime(self.issued_on),
        }
        if self.expires is not None:
            doc["expires"] = format_datetime(self.expires)
        if self.evidence:
            doc["evidence"] = [item.document() for item in self.evidence]
        if self.revoked:
            doc["revoked"] = True
            if self.revocation_reason:
                doc["revocationReason"] = self.revocation_reason
        return doc

    def revoke(self, reason: str | None = None) -> Assertion:
        """This assertion, revoked (with an optional reason shown to verifiers)."""
        return replace(self, revoked=True, revocation_reason=reason)


def issue_assertion(
    *,
    id: str,
    badge: str,
    email: str,
    issued_on: datetime,
    verification: HostedVerification | SignedVerification,
    expires: datetime | None = None,
    evidence: Iterable[Evidence] = (),
    salt: str | None = None,
) -> Assertion:
    """Build an assertion awarding ``badge`` to the holder of ``email`` (hashed with a random salt).

    Args:
        id: the assertion's URL (hosted: where it is served) or a ``urn:uuid:`` (signed).
        badge: the BadgeClass URL.
        email: the recipient's address; only its salted hash is kept.
        issued_on: when it was awarded (time-zone aware).
        verification: hosted, or signed with the key URL as creator.
        expires: when it stops being valid, if ever.
        evidence: narratives and/or URLs of the evidence reviewed.
        salt: a fixed salt (tests); by default a random one.

    Raises:
        ValueError: a naive datetime, or expiry not after issue.
    """
    return Assertion(
        id=id,
        badge=badge,
        recipient=Recipient.for_email(email, salt=salt),
        issued_on=issued_on,
        verification=verification,
        expires=expires,
        evidence=tuple(evidence),
    )


@dataclass(frozen=True)
class HostedResponse:
    """What the web app answers at a hosted assertion's URL."""

    status: int
    body: Document


def hosted_assertion_response(assertion: Assertion) -> HostedResponse:
    """The response for a hosted assertion's URL: 200 with the assertion, or 410 once revoked.

    A revoked assertion is stripped to ``id``, ``type``, ``revoked`` and ``revocationReason``, as
    the OB 2.0 spec allows: the award stops describing its recipient, and verifiers that ignore
    ``revoked`` and the status code refuse it all the same (1EdTech's validator 1.1.2 passes a
    full assertion marked ``revoked: true``, even when served with 410).
    """
    if not assertion.revoked:
        return HostedResponse(200, assertion.document())
    body: Document = {"@context": OB2_CONTEXT, "id": assertion.id, "type": "Assertion", "revoked": True}
    if assertion.revocation_reason:
        body["revocationReason"] = assertion.revocation_reason
    return HostedResponse(410, body)


def revocation_list_document(*, id: str, issuer: str, revoked: Mapping[str, str | None]) -> Document:
    """The issuer's ``RevocationList`` (how signed assertions are revoked).

    ``revokedAssertions`` holds an object per revoked assertion (its ``id`` and ``revocationReason``).
    A list of exactly one is followed by that assertion's bare id (the spec allows either form):
    1EdTech's validator compacts the list against the OB 2.0 context, where a one-element array
    becomes a single object that it then fails to match, and no ``@container: @set`` in the served
    context survives that compaction. Two entries stay an array, so the revocation is read.

    Args:
        id: the URL the list is served at (the issuer profile's ``revocationList``).
        issuer: the issuer profile URL.
        revoked: revoked assertion ids, each with its reason or None.
    """
    entries: list[Document | str] = []
    for assertion_id, reason in sorted(revoked.items()):
        entry: Document = {"id": assertion_id}
        if reason:
            entry["revocationReason"] = reason
        entries.append(entry)
    if len(revoked) == 1:
        entries.extend(revoked)
    return {
        "@context": OB2_CONTEXT,
        "id": id,
        "type": "RevocationList",
        "issuer": issuer,
        "revokedAssertions": entries,
    }


# --------------------------------------------------------------------------- keys and signing


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair from the key store; ``name`` is stable and becomes part of the key's URL.

    ``private_key`` is the parsed and validated key that signs: parsing an RSA-3072 PEM costs about
    200 ms, a signature with the parsed key about 1.5 ms.
    """

    name: str
    private_key_pem: bytes = field(repr=False)
    public_key_pem: str
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False)


class RsaKeyStore:
    """RSA signing keys in a folder: generated once (mode 0600), rotated on demand.

    Layout: ``<name>.private.pem`` (only for the current key), ``<name>.public.pem`` (every key
    ever used, so badges signed before a rotation still verify) and ``current`` (the name of the
    signing key). Creating the first key is safe against a concurrent creator: the loser adopts
    the winner's key.

    The current key is parsed once and kept with the stamp of its file (name, inode, size, times);
    each call reads the ``current`` pointer and stats the key file, so a rotation by this store or
    by another process is picked up at the next call. ``loads`` counts the private keys parsed.
    """

    def __init__(self, folder: Path, *, key_bits: int = RSA_KEY_BITS) -> None:
        if key_bits < _MIN_RSA_KEY_BITS:
            raise ValueError(f"RSA keys must have {_MIN_RSA_KEY_BITS} bits or more")
        self.folder = folder
        self.key_bits = key_bits
        self.loads = 0
        # One entry (the current key): a tuple swapped whole, so threads sharing the store never see half of one.
        self._cached: tuple[_FileStamp, SigningKey] | None = None

    def forget(self) -> None:
        """Drop the parsed key: the next call reads and validates it from its file again."""
        self._cached = None

    def current(self) -> SigningKey:
        """The signing key, generated on first use.

        Raises:
            KeyStoreError: the folder holds a broken or weak key.
        """
        name = self._current_name()
        if name is None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            candidate = self._generate()
            if not self._set_current(candidate, replace_existing=False):
                self._discard(candidate)
            name = self._current_name()
            if name is None:  # pragma: no cover - the link above guarantees a pointer
                raise KeyStoreError(f"no current signing key in {self.folder}")
        return self._load(name)

    def rotate(self) -> SigningKey:
        """Make a new signing key current; the old public key stays published, its private key is deleted."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        previous = self._current_name()
        name = self._generate()
        self._set_current(name, replace_existing=True)
        if previous and previous != name:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{previous}.private.pem").unlink()
        return self._load(name)

    def public_keys(self) -> dict[str, str]:
        """Every public key by name (current and retired), oldest name first."""
        if not self.folder.is_dir():
            return {}
        return {
            path.name.removesuffix(".public.pem"): path.read_text(encoding="ascii")
            for path in sorted(self.folder.glob("*.public.pem"))
        }

    def _current_name(self) -> str | None:
        try:
            name = (self.folder / "current").read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not name or "/" in name or name.startswith("."):
            raise KeyStoreError(f"{self.folder / 'current'} does not name a key")
        return name

    def _generate(self) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.key_bits)
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(self.folder / f"{name}.private.pem", private_pem, mode=0o600)
        _write_new(self.folder / f"{name}.public.pem", public_pem, mode=0o644)
        return name

    def _set_current(self, name: str, *, replace_existing: bool) -> bool:
        pointer = self.folder / "current"
        staged = self.folder / f".current-{secrets.token_hex(6)}"
        _write_new(staged, name.encode("ascii") + b"\n", mode=0o644)
        try:
            if replace_existing:
                staged.replace(pointer)
                return True
            try:
                os.link(staged, pointer)  # atomic "create if absent"
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()

    def _discard(self, name: str) -> None:
        for suffix in (".private.pem", ".public.pem"):
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{name}{suffix}").unlink()

    def _load(self, name: str) -> SigningKey:
        private_path = self.folder / f"{name}.private.pem"
        try:
            info = private_path.stat()
        except FileNotFoundError as exc:
            raise KeyStoreError(f"signing key {name!r} is incomplete in {self.folder}: {exc}") from None
        # Checked on every call, cached or not: a key file opened up to others stops signing at once.
        if info.st_mode & 0o077:
            raise KeyStoreError(f"{private_path} must be readable by its owner only (chmod 600)")
        stamp = (name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            private_pem = private_path.read_bytes()
            public_pem = (self.folder / f"{name}.public.pem").read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise KeyStoreError(f"signing key {name!r} is incomplete in {self.folder}: {exc}") from None
        self.loads += 1
        try:
            key = serialization.load_pem_private_key(private_pem, password=None)
        except (TypeError, ValueError) as exc:
            raise KeyStoreError(f"{private_path} is not a readable unencrypted PEM key: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < _MIN_RSA_KEY_BITS:
            raise KeyStoreError(f"{private_path} is not an RSA key of {_MIN_RSA_KEY_BITS} bits or more")
        loaded = SigningKey(name=name, private_key_pem=private_pem, public_key_pem=public_pem, private_key=key)
        self._cached = (stamp, loaded)
        return loaded


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(mode)  # the umask may have narrowed the mode; be exact


def sign_assertion(assertion: Assertion | Mapping[str, Any], key: SigningKey) -> str:
    """Sign an assertion: a compact JWS, header ``{"alg": "RS256"}``, payload the assertion JSON.

    Args:
        assertion: an assertion with signed verification (or its document).
        key: the signing key; its public key must be published at ``verification.creator``.

    Raises:
        ValueError: the assertion is not set up for signed verification.
    """
    doc = assertion.document() if isinstance(assertion, Assertion) else dict(assertion)
    verification = doc.get("verification")
    if not isinstance(verification, Mapping) or verification.get("type") != "signed" or not verification.get("creator"):
        raise ValueError("only an assertion with verification {type: signed, creator: <key URL>} can be signed")
    payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # The parsed key object: given the PEM, PyJWT would parse and validate the key again for every signature.
    return jwt.api_jws.PyJWS().encode(payload, key.private_key, algorithm=JWS_ALGORITHM, headers={"typ": None})


# --------------------------------------------------------------------------- verification


class Problem(StrEnum):
    """Why an assertion does not verify."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RECIPIENT_MISMATCH = "recipient_mismatch"
    WRONG_VERIFICATION = "wrong_verification"


@dataclass(frozen=True)
class Finding:
    """One problem with a human-readable explanation."""

    problem: Problem
    message: str


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verifying one assertion; valid when there are no findings."""

    assertion: Document | None
    findings: tuple[Finding, ...] = ()

    @property
    def valid(self) -> bool:
        """True when nothing is wrong."""
        return not self.findings

    @property
    def reasons(self) -> tuple[Problem, ...]:
        """The problems found, in the order they were found."""
        return tuple(f.problem for f in self.findings)


_REQUIRED = ("id", "type", "recipient", "badge", "verification", "issuedOn")


def _check_assertion(
    doc: Mapping[str, Any],
    *,
    verification_type: str,
    email: str | None,
    now: datetime | None,
    revoked_ids: Mapping[str, str | None],
) -> list[Finding]:
    findings: list[Finding] = []
    if doc.get("revoked") is True:
        reason = doc.get("revocationReason")
        findings.append(Finding(Problem.REVOKED, "revoked" + (f": {reason}" if reason else "")))
    elif doc.get("id") in revoked_ids:
        reason = revoked_ids[doc["id"]]
        findings.append(
            Finding(Problem.REVOKED, "revoked in the issuer's revocation list" + (f": {reason}" if reason else ""))
        )
    if findings:
        return findings  # a revoked assertion may be stripped of everything else
    missing = [name for name in _REQUIRED if name not in doc]
    if missing:
        return [Finding(Problem.MALFORMED, f"missing required properties: {', '.join(missing)}")]
    if doc.get("type") != "Assertion":
        findings.append(Finding(Problem.MALFORMED, f"type is {doc.get('type')!r}, not 'Assertion'"))
    verification = doc["verification"]
    if not isinstance(verification, Mapping) or verification.get("type") != verification_type:
        findings.append(
            Finding(
                Problem.WRONG_VERIFICATION, f"verification is {verification!r}, expected type {verification_type!r}"
            )
        )
    moment = now or datetime.now(UTC)
    if "expires" in doc:
        try:
            expires = parse_datetime(str(doc["expires"]))
        except ValueError:
            findings.append(Finding(Problem.MALFORMED, f"expires {doc['expires']!r} is not an ISO 8601 date-time"))
        else:
            if expires <= moment:
                findings.append(Finding(Problem.EXPIRED, f"expired on {format_datetime(expires)}"))
    if email is not None:
        findings.extend(_check_recipient(doc["recipient"], email))
    return findings


def _check_recipient(recipient: Any, email: str) -> list[Finding]:
    if not isinstance(recipient, Mapping) or "identity" not in recipient:
        return [Finding(Problem.MALFORMED, "recipient has no identity")]
    if recipient.get("type", "email") != "email":
        return [Finding(Problem.RECIPIENT_MISMATCH, f"recipient is identified by {recipient.get('type')}, not email")]
    identity = str(recipient["identity"])
    address = normalise_email(email)
    if recipient.get("hashed"):
        salt = str(recipient.get("salt") or "")
        if not identity.lower().startswith("sha256$"):
            return [Finding(Problem.MALFORMED, f"unsupported identity hash {identity.split('$')[0]!r}")]
        matched = secrets.compare_digest(hash_identity(address, salt), "sha256$" + identity[7:].lower())
    else:
        matched = normalise_email(identity) == address
    return [] if matched else [Finding(Problem.RECIPIENT_MISMATCH, f"the badge was not awarded to {email}")]


def verify_signed(
    jws: str,
    public_key_pem: str | bytes,
    *,
    email: str | None = None,
    now: datetime | None = None,
    revoked_ids: Mapping[str, str | None] | Collection[str] = (),
) -> VerificationResult:
    """Verify a signed OB 2.0 assertion.

    Args:
        jws: the compact JWS (as baked or sent).
        public_key_pem: the issuer's public key published at ``verification.creator``.
        email: if given, the address the badge must have been awarded to.
        now: the moment to judge expiry at (default: now).
        revoked_ids: assertion ids in the issuer's revocation list (with reasons, or a plain collection).

    Returns:
        The result; a bad signature is reported alone since nothing else in the payload can be trusted.
    """
    try:
        decoded = jwt.api_jws.PyJWS().decode_complete(jws.strip(), key=public_key_pem, algorithms=[JWS_ALGORITHM])
    except jwt.InvalidSignatureError:
        return VerificationResult(None, (Finding(Problem.BAD_SIGNATURE, "the signature does not match the key"),))
    except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as exc:
        return VerificationResult(None, (Finding(Problem.BAD_SIGNATURE, f"cannot be checked with this key: {exc}"),))
    except jwt.DecodeError as exc:
        return VerificationResult(None, (Finding(Problem.MALFORMED, f"not a compact JWS: {exc}"),))
    try:
        doc = json.loads(decoded["payload"])
    except (UnicodeDecodeError, ValueError) as exc:
        return VerificationResult(None, (Finding(Problem.MALFORMED, f"the payload is not JSON: {exc}"),))
    if not isinstance(doc, dict):
        return VerificationResult(None, (Finding(Problem.MALFORMED, "the payload is not a JSON object"),))
    revoked = revoked_ids if isinstance(revoked_ids, Mapping) else dict.fromkeys(revoked_ids)
    findings = _check_assertion(doc, verification_type="signed", email=email, now=now, revoked_ids=revoked)
    return VerificationResult(doc, tuple(findings))


def verify_hosted(
    document: Mapping[str, Any] | None,
    *,
    status: int = 200,
    url: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify a hosted OB 2.0 assertion from what its URL answered.

    Args:
        document: the JSON body fetched from the assertion's URL (None if there was none).
        status: the HTTP status; 410 means revoked.
        url: the URL it was fetched from; the assertion's id must be that URL.
        email: if given, the address the badge must have been awarded to.
        now: the moment to judge expiry at (default: now).
    """
    if status == 410:
        reason = document.get("revocationReason") if document else None
        message = "revoked (410 Gone)" + (f": {reason}" if reason else "")
        return VerificationResult(dict(document) if document else None, (Finding(Problem.REVOKED, message),))
    if status != 200 or document is None:
        return VerificationResult(None, (Finding(Problem.MALFORMED, f"the assertion URL answered {status}"),))
    doc = dict(document)
    findings = _check_assertion(doc, verification_type="hosted", email=email, now=now, revoked_ids={})
    if url is not None and doc.get("id") != url and not any(f.problem is Problem.REVOKED for f in findings):
        findings.append(Finding(Problem.MALFORMED, f"the assertion's id {doc.get('id')!r} is not its URL {url!r}"))
    return VerificationResult(doc, tuple(findings))
