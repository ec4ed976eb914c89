"""Bitstring Status List v1.0: revocation bits and the BitstringStatusListCredential that publishes them.

Bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (index 0 is the left-most bit, as the spec says). The
``encodedList`` is the GZIP of the bitstring, base64url without padding, with the multibase prefix ``u``. Lists
hold at least 131,072 bits (16 KiB) so that one badge's bit says little about who else holds one.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import zlib
from typing import Any

from credflow.badges.errors import CredentialInputError
from credflow.badges.jsonld import VC_V2_CONTEXT
from credflow.badges.ob3 import xsd_datetime

MIN_BITS = 131_072
# A decoded list bigger than this is refused: a gzip bomb must not exhaust the verifier's memory.
MAX_BITS = 1 << 27


class StatusList:
    """A mutable bitstring of revocation (or suspension) flags."""

    def __init__(self, length: int = MIN_BITS) -> None:
        """Make an all-clear list.

        Args:
            length: Number of bits: at least :data:`MIN_BITS`, a multiple of 8.
        """
        if length < MIN_BITS or length % 8 or length > MAX_BITS:
            raise CredentialInputError(f"a status list holds a multiple of 8 bits from {MIN_BITS} to {MAX_BITS}")
        self._bits = bytearray(length // 8)

    @property
    def length(self) -> int:
        """Number of bits."""
        return len(self._bits) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.length:
            raise IndexError(f"status index {index} is outside the list (0 to {self.length - 1})")
        return index // 8, 0x80 >> (index % 8)

    def get(self, index: int) -> bool:
        """Whether bit ``index`` is set (for revocation: the badge is revoked)."""
        byte, mask = self._locate(index)
        return bool(self._bits[byte] & mask)

    def set(self, index: int) -> None:
        """Set bit ``index`` (revoke)."""
        byte, mask = self._locate(index)
        self._bits[byte] |= mask

    def clear(self, index: int) -> None:
        """Clear bit ``index`` (un-revoke; meaningful for suspension lists)."""
        byte, mask = self._locate(index)
        self._bits[byte] &= ~mask & 0xFF

    def encode(self) -> str:
        """The ``encodedList``: ``u`` + base64url(gzip(bits)), no padding.

        gzip's timestamp is fixed at zero so the same bits always encode the same way (re-signing an unchanged
        list then yields the same credential body).
        """
        compressed = gzip.compress(bytes(self._bits), mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, encoded: str) -> StatusList:
        """Read an ``encodedList``.

        Raises:
            CredentialInputError: Not ``u``-prefixed base64url, not gzip, or outside the size limits.
        """
        if not encoded.startswith("u"):
            raise CredentialInputError("encodedList must be multibase base64url (prefix 'u')")
        body = encoded[1:]
        try:
            compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
            raw = inflater.decompress(compressed, MAX_BITS // 8 + 1)
        except (ValueError, zlib.error) as exc:
            raise CredentialInputError(f"encodedList is not base64url gzip: {exc}") from exc
        if len(raw) > MAX_BITS // 8:
            raise CredentialInputError("encodedList decodes to more than the largest list allowed")
        if len(raw) * 8 < MIN_BITS:
            raise CredentialInputError(f"encodedList holds {len(raw) * 8} bits; the spec requires {MIN_BITS}")
        status_list = cls()
        status_list._bits = bytearray(raw)
        return status_list


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str,
    status_list: StatusList,
    valid_from: dt.datetime,
    valid_until: dt.datetime | None = None,
    status_purpose: str = "revocation",
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential (sign it with :func:`credflow.badges.proof.add_proof`).

    Args:
        list_url: Where the credential is published; it is also the credential's id.
        issuer: The DID of the badges' issuer: verifiers require the list's issuer to be the badge's.
        status_list: The bits.
        valid_from: When this version of the list was made.
        valid_until: Optional end of validity, after which verifiers fetch a newer list.
        status_purpose: ``revocation`` (never cleared) or ``suspension``.

    Returns:
        The credential as a JSON-ready dict.
    """
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": xsd_datetime(valid_from, "valid_from"),
    }
    if valid_until is not None:
        credential["validUntil"] = xsd_datetime(valid_until, "valid_until")
    credential["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": status_purpose,
        "encodedList": status_list.encode(),
    }
    return credential
