"""Finding an applicant by email, including one erased earlier, and the tombstone that replaces them."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.db.models import Applicant
from credflow.errors import NotFoundError
from credflow.keyring import KeyRing, Purpose

#: What personal text becomes on erasure.
ERASED = "[erased]"


class UnknownApplicant(NotFoundError):
    """No applicant, current or erased, has this email address."""


def normalise_email(email: str) -> str:
    """Emails are stored trimmed and lower-cased (as intake stores them)."""
    return email.strip().lower()


def email_fingerprints(keys: KeyRing, email: str) -> tuple[str, ...]:
    """Keyed hashes of an erased applicant's email: they answer "already erased" but cannot be reversed.

    Args:
        keys: The deployment's key ring; without the secret the hash cannot be checked against guessed
            addresses.
        email: The address, normalised here.

    Returns:
        64 hex characters each: the current key's first (the one to store), then the previous key's, then
        the hashes made with the secret itself before keys were derived per purpose (still recognised).
    """
    message = f"credflow-erasure:{normalise_email(email)}".encode()
    legacy = [keys.current] + ([keys.previous] if keys.previous else [])
    return keys.macs(Purpose.ADDRESS_HASH, message) + tuple(
        hmac.new(secret.encode(), message, hashlib.sha256).hexdigest() for secret in legacy
    )


def tombstone_email(applicant_id: str) -> str:
    """The unique, undeliverable address an erased applicant's row keeps (RFC 2606 ``.invalid``)."""
    return f"erased+{applicant_id}@erased.invalid"


def find_applicant(session: Session, email: str, *, keys: KeyRing) -> Applicant:
    """The applicant with this email, or the latest erased one who had it.

    Raises:
        UnknownApplicant: nobody applied with this address (compared lower-cased).
    """
    address = normalise_email(email)
    if not address:
        raise UnknownApplicant("give the applicant's email address")
    live = session.scalar(select(Applicant).where(Applicant.email == address))
    if live is not None:
        return live
    erased = session.scalar(
        select(Applicant)
        .where(Applicant.erased_email_hash.in_(email_fingerprints(keys, address)))
        .order_by(Applicant.erased_at.desc())
        .limit(1)
    )
    if erased is not None:
        return erased
    raise UnknownApplicant(
        f"no applicant with email {address!r}: check the address (emails are compared lower-cased); "
        "an applicant erased under another CREDFLOW_SECRET_KEY is not recognised either"
    )


#: How a public badge page names an earner whose personal data was erased (the badge itself stays).
FORMER_EARNER = "a former earner"


def earner_name(name: str | None, *, erased: bool) -> str:
    """The earner a public badge page names: their name (never an address); :data:`FORMER_EARNER` once erased."""
    text = (name or "").strip()
    if erased or not text or text == ERASED:
        return FORMER_EARNER
    return text
