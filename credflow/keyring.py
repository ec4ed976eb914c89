"""One key per purpose, derived from ``CREDFLOW_SECRET_KEY`` with HKDF, plus the previous key during rotation.

Every signature credflow makes (review links, applicant tokens, sessions, CSRF pairs, store
URLs, upload grants, the ops webhook token, sign-in links, keyed hashes of addresses) uses
the key of its own purpose, so a key that leaks through one purpose signs nothing of another.
During a rotation the previous secret still verifies (never signs) until it is removed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import URLSafeSerializer

from credflow.errors import ConfigurationError

#: The default of ``CREDFLOW_SECRET_KEY``: public, so accepted only when nothing but this machine can connect.
DEV_SECRET_KEY = "dev-only-change-me-dev-only-change-me"  # noqa: S105 (public by design)
#: The shortest secret credflow accepts anywhere (characters).
MIN_SECRET_LENGTH = 32
#: How to make a good one, quoted in every refusal.
MAKE_ONE = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class Purpose(StrEnum):
    """What a derived key signs; the value is the HKDF ``info`` (changing one invalidates its signatures)."""

    REVIEW_LINK = "review-link"
    APPLICANT_TOKEN = "applicant-token"  # noqa: S105 (a purpose's name)
    SIGN_IN_LINK = "sign-in-link"
    SESSION = "session"
    CSRF = "csrf"
    STORE_URL = "store-url"
    UPLOAD_GRANT = "upload-grant"
    OPS_TOKEN = "ops-token"  # noqa: S105 (a purpose's name)
    ADDRESS_HASH = "address-hash"
    HOURS_CONFIRMATION = "hours-confirmation"


def derive(secret: str, purpose: Purpose) -> bytes:
    """The 32-byte key of ``purpose`` under ``secret`` (HKDF-SHA256, info ``credflow/v1/<purpose>``)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"credflow", info=f"credflow/v1/{purpose.value}".encode())
    return hkdf.derive(secret.encode())


@dataclass(frozen=True)
class KeyRing:
    """The per-purpose keys of the current secret and, during a rotation, of the previous one."""

    current: str = field(repr=False)
    previous: str | None = field(default=None, repr=False)

    def key(self, purpose: Purpose) -> bytes:
        """The key that signs for ``purpose`` (always the current secret's)."""
        return derive(self.current, purpose)

    def keys(self, purpose: Purpose) -> tuple[bytes, ...]:
        """Every key that verifies for ``purpose``: the current secret's first, then the previous one's."""
        found = [derive(self.current, purpose)]
        if self.previous:
            found.append(derive(self.previous, purpose))
        return tuple(found)

    def serializer(self, purpose: Purpose) -> URLSafeSerializer:
        """An itsdangerous serializer that signs with the current key and accepts the previous one."""
        # itsdangerous signs with the last key of the list and verifies with any of them.
        return URLSafeSerializer(list(reversed(self.keys(purpose))), salt=f"credflow-{purpose.value}")

    def mac(self, purpose: Purpose, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the current key of ``purpose``, hex."""
        return hmac.new(self.key(purpose), message, hashlib.sha256).hexdigest()

    def macs(self, purpose: Purpose, message: bytes) -> tuple[str, ...]:
        """The MACs of ``message`` under every verifying key of ``purpose`` (compare with any)."""
        return tuple(hmac.new(k, message, hashlib.sha256).hexdigest() for k in self.keys(purpose))

    def verify_mac(self, purpose: Purpose, message: bytes, mac: str) -> bool:
        """Whether ``mac`` is ``message``'s MAC under a verifying key of ``purpose`` (constant time)."""
        return any(hmac.compare_digest(candidate, mac) for candidate in self.macs(purpose, message))


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address) reaches this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret_for_exposure(*, secret: str, bind_host: str, public_url: str) -> None:
    """Refuse a public or short secret unless both the bound address and the public URL are loopback.

    Raises:
        ConfigurationError: says why and how to make a key.
    """
    weak = secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_LENGTH
    if not weak:
        return
    public_host = urlsplit(public_url).hostname or ""
    if is_loopback_host(bind_host) and is_loopback_host(public_host):
        return
    why = "is the public default" if secret == DEV_SECRET_KEY else f"is shorter than {MIN_SECRET_LENGTH} characters"
    raise ConfigurationError(
        f"CREDFLOW_SECRET_KEY {why}, and credflow would be reachable beyond this machine "
        f"(binding {bind_host}, public URL {public_url}): anyone could forge its links and tokens. "
        f"Set CREDFLOW_SECRET_KEY to a long random secret ({MAKE_ONE}), "
        "or bind 127.0.0.1 with a loopback CREDFLOW_PUBLIC_URL."
    )
