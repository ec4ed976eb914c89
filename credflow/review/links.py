"""Private review links: signed tokens scoped to one assignment, expiring, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from credflow.errors import PermanentError
from credflow.keyring import KeyRing, Purpose

#: A link stays usable this long after the assignment's deadline (the sweep withdraws it first).
GRACE = timedelta(days=2)


class AccessDenied(PermanentError):
    """The link is forged, expired, revoked or not this reviewer's; the message says which, without data."""


@dataclass(frozen=True)
class TokenClaims:
    assignment_id: str
    nonce: str
    expires: datetime


def _serializer(keys: KeyRing) -> URLSafeSerializer:
    return keys.serializer(Purpose.REVIEW_LINK)


def issue_token(keys: KeyRing, *, assignment_id: str, nonce: str, due_at: datetime) -> str:
    """Sign a link token for one assignment; it expires ``GRACE`` after the deadline."""
    expires = int((due_at + GRACE).timestamp())
    return str(_serializer(keys).dumps({"a": assignment_id, "n": nonce, "e": expires}))


def read_token(keys: KeyRing, token: str, *, now: datetime) -> TokenClaims:
    """Check the signature and expiry of a token (revocation is checked against the database).

    Raises:
        AccessDenied: forged or tampered, or expired.
    """
    try:
        data = _serializer(keys).loads(token)
        claims = TokenClaims(str(data["a"]), str(data["n"]), datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo))
    # OverflowError/OSError: an expiry no calendar holds (year past 9999), read as a broken link.
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise AccessDenied(
            "This review link is not valid. Use the link from your most recent assignment email."
        ) from None
    if now > claims.expires:
        raise AccessDenied("This review link has expired. Contact the program team if you still need access.")
    return claims
