"""Issuer signing keys: one Ed25519 key per issuer, kept in a folder outside the database, and key resolution.

Layout of ``keys_dir`` (folders 0700, files 0600)::

    <issuer id>/current.json                       the signing key: Multikey JSON with its secret
    <issuer id>/retired/<created>-<fingerprint>.json  earlier keys, public half only

A key file is the Multikey shape of the W3C Controlled Identifiers spec (``id``, ``type: Multikey``,
``controller``, ``publicKeyMultibase``, ``secretKeyMultibase``) plus ``issuerId`` and ``created``, so it can be
read by other Multikey tools. By default a key is a ``did:key`` (the DID *is* the public key, so verifiers need
nothing but the credential); with ``did_web_base`` the issuer gets one ``did:web`` DID whose DID document
(:meth:`KeyStore.did_document`, to be published) lists every key it ever had, so rotation keeps the DID.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from credflow.badges.errors import BadgeError, KeyStoreError

# What identifies a key file's contents without reading it: inode, size, mtime and ctime (ns). A rewrite goes
# through a new file renamed over the old one, so it always has another inode.
_FileStamp = tuple[int, int, int, int]

# Multicodec varint prefixes of https://github.com/multiformats/multicodec (ed25519-pub 0xed, ed25519-priv 0x1300).
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"
_ISSUER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


class KeyResolutionError(BadgeError):
    """A verification method could not be resolved to an Ed25519 public key."""


def encode_public_key(public_key: bytes) -> str:
    """The ``publicKeyMultibase`` (``z6Mk...``) of a raw 32-byte Ed25519 public key."""
    return "z" + base58.b58encode(_ED25519_PUB + public_key).decode("ascii")


def decode_public_key(multibase: str) -> bytes:
    """The raw Ed25519 public key of a ``publicKeyMultibase``.

    Raises:
        KeyResolutionError: Not base58btc, not an Ed25519 public key, or the wrong length.
    """
    if not multibase.startswith("z"):
        raise KeyResolutionError(f"{multibase!r} is not base58btc multibase (it must start with 'z')")
    try:
        raw = base58.b58decode(multibase[1:])
    except ValueError as exc:
        raise KeyResolutionError(f"{multibase!r} is not valid base58btc") from exc
    if not raw.startswith(_ED25519_PUB) or len(raw) != 34:
        raise KeyResolutionError(f"{multibase!r} is not an Ed25519 public key (multicodec 0xed, 32 bytes)")
    return raw[2:]


def _encode_secret_key(seed: bytes) -> str:
    return "z" + base58.b58encode(_ED25519_PRIV + seed).decode("ascii")


def _decode_secret_key(multibase: str) -> bytes:
    raw = base58.b58decode(multibase[1:]) if multibase.startswith("z") else b""
    if not raw.startswith(_ED25519_PRIV) or len(raw) != 34:
        raise KeyStoreError("secretKeyMultibase is not an Ed25519 secret key (multicodec 0x1300, 32 bytes)")
    return raw[2:]


def did_web_for(base_url: str, issuer_id: str) -> str:
    """The ``did:web`` DID of an issuer whose DID document is served at ``<base_url>/<issuer_id>/did.json``.

    Args:
        base_url: An https URL, e.g. ``https://badges.example.org/issuers``.
        issuer_id: The issuer's catalog id.

    Returns:
        e.g. ``did:web:badges.example.org:issuers:openscied`` (a port is written ``%3A``, as did:web requires).
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise KeyStoreError(f"did_web_base must be a plain https URL, not {base_url!r}")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    segments = [quote(s, safe="") for s in parts.path.split("/") if s] + [issuer_id]
    return ":".join(["did:web", host, *segments])


def did_web_document_url(did: str) -> str:
    """Where a ``did:web`` DID's document must be published (https://host/path/did.json)."""
    _, _, rest = did.partition("did:web:")
    host, *segments = rest.split(":")
    path = "/".join(segments) if segments else ".well-known"
    return f"https://{host.replace('%3A', ':')}/{path}/did.json"


@dataclass(frozen=True)
class IssuerKey:
    """One issuer key: its public identity and, for the current key only, its secret."""

    issuer_id: str
    controller: str  # the DID; a credential's issuer id must be this
    key_id: str  # the verification method id that proofs name
    public_key_multibase: str
    created: dt.datetime
    private_key: Ed25519PrivateKey | None = None  # None for retired keys

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return decode_public_key(self.public_key_multibase)

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``.

        Raises:
            KeyStoreError: This is a retired key, whose secret is no longer kept.
        """
        if self.private_key is None:
            raise KeyStoreError(f"key {self.key_id} is retired: it can verify but no longer sign")
        return self.private_key.sign(data)

    def verification_method(self) -> dict[str, str]:
        """The Multikey verification method (public half) as a DID document lists it."""
        return {
            "id": self.key_id,
            "type": "Multikey",
            "controller": self.controller,
            "publicKeyMultibase": self.public_key_multibase,
        }


class KeyStore:
    """Ed25519 issuer keys in a folder: generated on first use, rotated on demand, old public keys kept.

    A key file is read once and kept with the stamp of the file (inode, size, times); every call stats
    the file, so a rotation by this store or by another process (which replaces ``current.json``) is
    picked up at the next call. ``loads`` counts the key files read.
    """

    def __init__(self, keys_dir: Path, *, did_web_base: str | None = None) -> None:
        """Open (not yet create) a key folder.

        Args:
            keys_dir: Where the keys live; created 0700 on first write. Keep it out of the database and backups
                that are less protected than the keys.
            did_web_base: None for did:key identifiers; an https URL to give each new key a did:web id under it.
        """
        self.keys_dir = keys_dir
        self.did_web_base = did_web_base
        self.loads = 0
        # By (file, with its secret): the file's stamp and the key read from it. Entries are swapped whole.
        self._cached: dict[tuple[Path, bool], tuple[_FileStamp, IssuerKey]] = {}
        if did_web_base is not None:
            did_web_for(did_web_base, "check")  # fail at start on a bad URL, not at the first badge

    # --- public API -------------------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop the keys read so far: the next calls read them from their files again."""
        self._cached = {}

    def current(self, issuer_id: str) -> IssuerKey:
        """The issuer's signing key, generated and stored the first time it is asked for.

        Raises:
            KeyStoreError: The issuer id is not a catalog slug, or the stored file is unsafe or corrupt.
        """
        path = self._folder(issuer_id) / "current.json"
        if path.exists():
            return self._read(path, with_secret=True)
        with self._locked(issuer_id):
            if not path.exists():  # another process may have made it while this one waited
                self._write(path, self._new_key(issuer_id), with_secret=True)
            return self._read(path, with_secret=True)

    def rotate(self, issuer_id: str, *, compromised: bool = False) -> IssuerKey:
        """Make a new current key; earlier badges still verify against the old public key.

        A key rotated on schedule keeps its secret in ``retired/`` for one job only: re-signing the
        revocation list of the badges it signed (a status list must come from the badge's own issuer,
        and with did:key that is the old key). A ``compromised`` key's secret is deleted: it signs
        nothing more, and its badges' revocation lists are frozen as last published.

        Returns:
            The new current key.
        """
        path = self._folder(issuer_id) / "current.json"
        with self._locked(issuer_id):
            if path.exists():
                old = self._read(path, with_secret=not compromised)
                fingerprint = old.public_key_multibase[-16:]
                retired = self._folder(issuer_id) / "retired" / f"{old.created:%Y%m%dT%H%M%S%f}-{fingerprint}.json"
                # The retired record goes first: a crash after it leaves the old key current, and a re-run
                # rewrites the same retired file (its name is fixed by the key).
                self._write(retired, old, with_secret=not compromised)
            new = self._new_key(issuer_id)
            self._write(path, new, with_secret=True)
            return self._read(path, with_secret=True)

    def status_signer(self, issuer_id: str, fingerprint: str) -> IssuerKey:
        """The key (current or retired on schedule) whose public key ends in ``fingerprint``, with its secret.

        Raises:
            KeyStoreError: no such key, or it was retired as compromised (its secret is gone).
        """
        folder = self._folder(issuer_id)
        candidates = [folder / "current.json", *sorted((folder / "retired").glob(f"*-{fingerprint}.json"))]
        for path in candidates:
            if not path.exists():
                continue
            key = self._read(path, with_secret=False)
            if key.public_key_multibase.endswith(fingerprint):
                if "secretKeyMultibase" not in json.loads(path.read_text(encoding="utf-8")):
                    raise KeyStoreError(f"{issuer_id}: key {fingerprint} was retired as compromised; it signs nothing")
                return self._read(path, with_secret=True)
        raise KeyStoreError(f"{issuer_id}: no key ending in {fingerprint}")

    def history(self, issuer_id: str) -> list[IssuerKey]:
        """Every key the issuer has had, public halves only, oldest first (the current key last)."""
        folder = self._folder(issuer_id)
        keys = [self._read(p, with_secret=False) for p in sorted((folder / "retired").glob("*.json"))]
        if (folder / "current.json").exists():
            keys.append(self._read(folder / "current.json", with_secret=False))
        return sorted(keys, key=lambda k: k.created)

    def did_document(self, issuer_id: str) -> dict[str, Any]:
        """The DID document of a did:web issuer, listing every key it has had (publish it, unchanged).

        Raises:
            KeyStoreError: The issuer has no key yet, or its current key is not a did:web key.
        """
        path = self._folder(issuer_id) / "current.json"
        if not path.exists():
            raise KeyStoreError(f"issuer {issuer_id} has no key yet")
        current = self._read(path, with_secret=False)
        if not current.controller.startswith("did:web:"):
            raise KeyStoreError(f"issuer {issuer_id}'s current key is {current.controller}, not a did:web key")
        # Keys made before a move to did:web keep their own did:key ids, which resolve without this document.
        keys = [k for k in self.history(issuer_id) if k.controller == current.controller]
        return {
            "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
            "id": current.controller,
            "verificationMethod": [k.verification_method() for k in keys],
            "assertionMethod": [k.key_id for k in keys],
        }

    def resolver(self) -> KeyResolver:
        """A resolver for did:key plus every did:web issuer in this folder."""
        documents: dict[str, Mapping[str, Any]] = {}
        if self.keys_dir.is_dir():
            for folder in sorted(p for p in self.keys_dir.iterdir() if (p / "current.json").exists()):
                with contextlib.suppress(KeyStoreError):
                    document = self.did_document(folder.name)
                    documents[document["id"]] = document
        return KeyResolver(documents)

    # --- files ------------------------------------------------------------------------------------------

    def _folder(self, issuer_id: str) -> Path:
        # The id becomes a folder name: only catalog slugs, so "../x" or "a/b" can never leave keys_dir.
        if not _ISSUER_ID.match(issuer_id):
            raise KeyStoreError(f"issuer id {issuer_id!r} is not a catalog slug (a-z, 0-9, '.', '_', '-')")
        return self.keys_dir / issuer_id

    @contextlib.contextmanager
    def _locked(self, issuer_id: str) -> Iterator[None]:
        folder = self._folder(issuer_id)
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        with os.fdopen(os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _new_key(self, issuer_id: str) -> IssuerKey:
        secret = Ed25519PrivateKey.generate()
        multibase = encode_public_key(secret.public_key().public_bytes_raw())
        web = self.did_web_base
        controller = f"did:key:{multibase}" if web is None else did_web_for(web, issuer_id)
        return IssuerKey(
            issuer_id=issuer_id,
            controller=controller,
            key_id=f"{controller}#{multibase}",
            public_key_multibase=multibase,
            # Microseconds keep two rotations within one second in order.
            created=dt.datetime.now(dt.UTC),
            private_key=secret,
        )

    def _write(self, path: Path, key: IssuerKey, *, with_secret: bool) -> None:
        record: dict[str, str] = {
            **key.verification_method(),
            "issuerId": key.issuer_id,
            "created": key.created.isoformat().replace("+00:00", "Z"),
        }
        if with_secret:
            if key.private_key is None:
                raise KeyStoreError(f"key {key.key_id} has no secret to store")
            record["secretKeyMultibase"] = _encode_secret_key(key.private_key.private_bytes_raw())
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # O_EXCL with 0600 from the start: the secret is never readable by others, not even for a moment.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _read(self, path: Path, *, with_secret: bool) -> IssuerKey:
        info = path.stat()
        mode = stat.S_IMODE(info.st_mode)
        # Checked on every call, cached or not: a key file opened up to others stops signing at once.
        if mode & 0o077:
            raise KeyStoreError(f"{path} is readable by others (mode {mode:04o}); run chmod 600 on it")
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        cached = self._cached.get((path, with_secret))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        key = self._parse(path, with_secret=with_secret)
        self._cached[(path, with_secret)] = (stamp, key)
        return key

    def _parse(self, path: Path, *, with_secret: bool) -> IssuerKey:
        self.loads += 1
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            key = IssuerKey(
                issuer_id=record["issuerId"],
                controller=record["controller"],
                key_id=record["id"],
                public_key_multibase=record["publicKeyMultibase"],
                created=dt.datetime.fromisoformat(record["created"]),
            )
            public = key.public_key
        except (ValueError, KeyError, TypeError, BadgeError) as exc:
            raise KeyStoreError(f"{path} is not a credflow key file: {exc}") from exc
        if not with_secret:
            return key
        if "secretKeyMultibase" not in record:
            raise KeyStoreError(f"{path} holds no secret key")
        secret = Ed25519PrivateKey.from_private_bytes(_decode_secret_key(record["secretKeyMultibase"]))
        if secret.public_key().public_bytes_raw() != public:
            raise KeyStoreError(f"{path}: the secret key does not match publicKeyMultibase")
        return IssuerKey(
            issuer_id=key.issuer_id,
            controller=key.controller,
            key_id=key.key_id,
            public_key_multibase=key.public_key_multibase,
            created=key.created,
            private_key=secret,
        )


@dataclass(frozen=True)
class ResolvedKey:
    """A verification method resolved to its public key and what its controller allows it to do."""

    id: str
    controller: str
    public_key: Ed25519PublicKey
    assertion: bool  # listed under the controller's assertionMethod


def resolve_did_key(verification_method: str) -> ResolvedKey:
    """Resolve a ``did:key:z6Mk...#z6Mk...`` verification method from the id alone (no lookup, no network).

    Raises:
        KeyResolutionError: Not an Ed25519 did:key verification method, or fragment and DID disagree.
    """
    did, _, fragment = verification_method.partition("#")
    multibase = did.removeprefix("did:key:")
    if not did.startswith("did:key:") or fragment != multibase:
        raise KeyResolutionError(f"{verification_method!r} is not a did:key verification method (did:key:X#X)")
    public = Ed25519PublicKey.from_public_bytes(decode_public_key(multibase))
    # A did:key document lists its one key under every verification relationship, assertionMethod included.
    return ResolvedKey(id=verification_method, controller=did, public_key=public, assertion=True)


class KeyResolver:
    """Resolves did:key from the id itself and did:web from DID documents given in advance (never fetched)."""

    def __init__(self, did_documents: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Args:
        did_documents: did:web DID documents by DID, e.g. from :meth:`KeyStore.did_document` or the
            issuer's published ``did.json`` files.
        """
        self.did_documents = dict(did_documents or {})

    def __call__(self, verification_method: str) -> ResolvedKey:
        """Resolve one verification method id.

        Raises:
            KeyResolutionError: Unknown DID method, unknown DID, or no such key in its document.
        """
        if verification_method.startswith("did:key:"):
            return resolve_did_key(verification_method)
        did = verification_method.partition("#")[0]
        document = self.did_documents.get(did)
        if document is None:
            raise KeyResolutionError(f"no DID document for {did!r} (only did:key and known did:web are resolved)")
        return _from_document(document, verification_method)


def _from_document(document: Mapping[str, Any], verification_method: str) -> ResolvedKey:
    did = str(document.get("id"))

    def absolute(ref: str) -> str:
        return f"{did}{ref}" if ref.startswith("#") else ref

    methods: list[Mapping[str, Any]] = [m for m in document.get("verificationMethod", []) if isinstance(m, dict)]
    assertion_refs: set[str] = set()
    for entry in document.get("assertionMethod", []):
        if isinstance(entry, str):
            assertion_refs.add(absolute(entry))
        elif isinstance(entry, dict):
            methods.append(entry)
            assertion_refs.add(absolute(str(entry.get("id"))))
    for method in methods:
        if absolute(str(method.get("id"))) != verification_method:
            continue
        if method.get("type") != "Multikey" or not isinstance(method.get("publicKeyMultibase"), str):
            raise KeyResolutionError(f"{verification_method} is not an Ed25519 Multikey")
        public = Ed25519PublicKey.from_public_bytes(decode_public_key(method["publicKeyMultibase"]))
        controller = str(method.get("controller", did))
        return ResolvedKey(
            id=verification_method,
            controller=controller,
            public_key=public,
            assertion=verification_method in assertion_refs,
        )
    raise KeyResolutionError(f"{verification_method} is not in the DID document of {did}")


Resolver = Callable[[str], ResolvedKey]
