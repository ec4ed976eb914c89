"""Verify an Open Badges 3.0 credential: structure, safe mode, signature, issuer, validity period and status.

Every check is reported, passed or not, with the reason, so a verification page can show what was checked and
an operator can see why a badge failed. :func:`verify_credential` fetches nothing: keys come from did:key ids or
DID documents given to the resolver, status lists from the caller. :func:`verify_fetching` fetches, through a
function it is given, only what a credential's proof vouches for (see there).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from credflow.badges.errors import BadgeError
from credflow.badges.jsonld import OB_V3_CONTEXT, VC_V2_CONTEXT, check_safe_mode
from credflow.badges.keys import KeyResolver, Resolver
from credflow.badges.proof import ProofCheck, issuer_id, proofs_of, verify_proofs
from credflow.badges.status_list import StatusList

Outcome = Literal["passed", "failed", "skipped"]
#: ``(statusListCredential URL, index) -> bit is set``; for callers that keep the bits themselves.
StatusLookup = Callable[[str, int], bool]
#: ``url -> body``; raises a :class:`~credflow.errors.CredflowError` when it cannot (see ``badges.fetch``).
Fetch = Callable[[str], bytes]

#: Status lists :func:`verify_fetching` fetches for one credential at most.
MAX_STATUS_LISTS = 4
#: How far a status list's ``validFrom`` may run ahead of the verifier's ``now`` (fetch time, clock skew).
STATUS_LIST_CLOCK_SKEW = dt.timedelta(minutes=5)
OB_TYPES = ("OpenBadgeCredential", "AchievementCredential")
SAFE = "every term is defined by the bundled contexts, so the proof covers all the data"


@dataclass(frozen=True)
class Check:
    """One verification check and its outcome."""

    name: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class VerificationResult:
    """Every check made; the credential is verified when none failed."""

    checks: tuple[Check, ...]

    @property
    def verified(self) -> bool:
        """True when no check failed (a skipped status check, for want of a list, does not fail)."""
        return all(check.outcome != "failed" for check in self.checks)

    @property
    def errors(self) -> list[str]:
        """``"<check>: <reason>"`` for each failed check."""
        return [f"{check.name}: {check.detail}" for check in self.checks if check.outcome == "failed"]

    def check(self, name: str) -> Check:
        """The check called ``name``.

        Raises:
            KeyError: No such check was made.
        """
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``verified``, ``errors`` and every check."""
        return {
            "verified": self.verified,
            "errors": self.errors,
            "checks": [{"name": c.name, "outcome": c.outcome, "detail": c.detail} for c in self.checks],
        }


def _types(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str)]


def _structure(credential: Mapping[str, Any]) -> Check:
    missing: list[str] = []
    contexts = credential.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    types = _types(credential.get("type"))
    if contexts[:1] != [VC_V2_CONTEXT]:
        missing.append(f"@context must start with {VC_V2_CONTEXT}")
    if "VerifiableCredential" not in types:
        missing.append("type lacks VerifiableCredential")
    if not issuer_id(credential):
        missing.append("issuer id")
    if not isinstance(credential.get("validFrom"), str):
        missing.append("validFrom")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        missing.append("credentialSubject (a single object)")
    if any(t in types for t in OB_TYPES):
        if OB_V3_CONTEXT not in contexts[1:]:
            missing.append(f"@context lacks {OB_V3_CONTEXT}")
        if not isinstance(credential.get("id"), str):
            missing.append("id")
        issuer = credential.get("issuer")
        if not isinstance(issuer, Mapping) or "Profile" not in _types(issuer.get("type")):
            missing.append("issuer Profile type")
        if isinstance(subject, Mapping):
            if "AchievementSubject" not in _types(subject.get("type")):
                missing.append("credentialSubject type AchievementSubject")
            if "id" not in subject and not subject.get("identifier"):
                missing.append("credentialSubject id or identifier")
            achievement = subject.get("achievement")
            if not isinstance(achievement, Mapping):
                missing.append("credentialSubject.achievement")
            else:
                missing += [
                    f"achievement.{field}"
                    for field in ("id", "type", "name", "description", "criteria")
                    if field not in achievement
                ]
    if missing:
        return Check("structure", "failed", "missing or wrong: " + ", ".join(missing))
    return Check("structure", "passed", "required Verifiable Credential and Open Badges fields present")


def _safe_mode(credential: Mapping[str, Any]) -> Check:
    try:
        check_safe_mode({k: v for k, v in credential.items() if k != "proof"})
    except BadgeError as exc:
        return Check("safe_mode", "failed", str(exc))
    return Check("safe_mode", "passed", SAFE)


def _instant(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a date-time string")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{what} {value!r} has no time zone")
    return moment


def _validity(credential: Mapping[str, Any], now: dt.datetime) -> Check:
    try:
        valid_from = _instant(credential.get("validFrom"), "validFrom")
        until = credential.get("validUntil")
        valid_until = _instant(until, "validUntil") if until is not None else None
    except ValueError as exc:
        return Check("validity", "failed", str(exc))
    if now < valid_from:
        return Check("validity", "failed", f"not valid before {credential['validFrom']} (now {now.isoformat()})")
    if valid_until is not None and now >= valid_until:
        return Check("validity", "failed", f"expired at {credential['validUntil']} (now {now.isoformat()})")
    until_text = f" until {credential['validUntil']}" if valid_until else ", no expiry"
    return Check("validity", "passed", f"valid from {credential['validFrom']}{until_text}")


def _status_entries(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = credential.get("credentialStatus")
    entries = status if isinstance(status, list) else [status] if status is not None else []
    return [entry for entry in entries if isinstance(entry, Mapping)]


def _list_bit(
    entry: Mapping[str, Any],
    credential: Mapping[str, Any],
    *,
    now: dt.datetime,
    resolver: Resolver,
    status_lists: Mapping[str, Mapping[str, Any]],
) -> bool:
    """The bit of ``entry`` read from its (verified) status list credential; raises ValueError on any defect."""
    url = str(entry.get("statusListCredential"))
    list_credential = status_lists.get(url)
    if list_credential is None:
        raise ValueError(f"status list {url} was not supplied")
    # The issuer dates a list when it serves it: after this verifier read its clock, and by its own clock.
    checked_at = now
    try:
        made = _instant(list_credential.get("validFrom"), "validFrom")
    except ValueError:
        made = now  # the validity check below names the defect
    if now < made <= now + STATUS_LIST_CLOCK_SKEW:
        checked_at = made
    result = verify_credential(list_credential, now=checked_at, resolver=resolver)
    if not result.verified:
        raise ValueError(f"status list {url} does not verify: {'; '.join(result.errors)}")
    if "BitstringStatusListCredential" not in _types(list_credential.get("type")):
        raise ValueError(f"{url} is not a BitstringStatusListCredential")
    if list_credential.get("id") != url:
        raise ValueError(f"the status list at {url} names itself {list_credential.get('id')}")
    # Otherwise anyone could publish an all-clear list for someone else's badges.
    if issuer_id(list_credential) != issuer_id(credential):
        raise ValueError("the status list's issuer is not the credential's issuer")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or "BitstringStatusList" not in _types(subject.get("type")):
        raise ValueError(f"{url} holds no BitstringStatusList")
    if subject.get("statusPurpose") != entry.get("statusPurpose"):
        raise ValueError(
            f"{url} is a {subject.get('statusPurpose')} list, the entry a {entry.get('statusPurpose')} one"
        )
    try:
        bits = StatusList.decode(str(subject.get("encodedList")))
        return bits.get(int(str(entry.get("statusListIndex"))))
    except (BadgeError, IndexError) as exc:
        raise ValueError(str(exc)) from exc


def _status(
    credential: Mapping[str, Any],
    *,
    now: dt.datetime,
    resolver: Resolver,
    status_lists: Mapping[str, Mapping[str, Any]] | None,
    status_lookup: StatusLookup | None,
) -> Check:
    entries = _status_entries(credential)
    if not entries:
        return Check("status", "skipped", "the credential has no credentialStatus (it cannot be revoked)")
    if status_lists is None and status_lookup is None:
        return Check("status", "skipped", "no status list or lookup was supplied")
    flagged: list[str] = []
    for entry in entries:
        if entry.get("type") != "BitstringStatusListEntry":
            return Check("status", "failed", f"unsupported credentialStatus type {entry.get('type')!r}")
        try:
            index = int(str(entry.get("statusListIndex")))
            url = str(entry.get("statusListCredential"))
            if status_lookup is not None:
                bit = status_lookup(url, index)
            else:
                bit = _list_bit(entry, credential, now=now, resolver=resolver, status_lists=status_lists or {})
        except (ValueError, LookupError) as exc:
            return Check("status", "failed", f"status could not be checked: {exc}")
        if bit:
            state = "revoked" if entry.get("statusPurpose") == "revocation" else str(entry.get("statusPurpose"))
            flagged.append(f"{state} (bit {index} of {url} is set)")
    if flagged:
        return Check("status", "failed", "; ".join(flagged))
    return Check("status", "passed", "not revoked")


def _issuer_check(credential: Mapping[str, Any], proofs: tuple[ProofCheck, ...]) -> Check:
    """Every proof must be made by a key the issuer controls, for assertion."""
    issuer = issuer_id(credential)
    purposes = [p.get("proofPurpose") if isinstance(p, Mapping) else None for p in proofs_of(credential)]
    for check, purpose in zip(proofs, purposes or [None], strict=False):
        if check.key is None:
            return Check("issuer", "skipped", "the verification method did not resolve")
        if check.key.controller != issuer:
            return Check("issuer", "failed", f"signed by {check.key.controller}, but the issuer is {issuer}")
        if purpose != "assertionMethod" or not check.key.assertion:
            return Check("issuer", "failed", f"{check.key.id} is not an assertionMethod of {check.key.controller}")
    keys = ", ".join(dict.fromkeys(check.key.id for check in proofs if check.key is not None))
    return Check("issuer", "passed", f"issuer {issuer} controls {keys}")


def verify_credential(
    credential: Mapping[str, Any],
    *,
    now: dt.datetime,
    resolver: Resolver | None = None,
    status_lists: Mapping[str, Mapping[str, Any]] | None = None,
    status_lookup: StatusLookup | None = None,
) -> VerificationResult:
    """Verify a signed Verifiable Credential (Open Badges checks when it is an OpenBadgeCredential).

    Args:
        credential: The signed credential as parsed JSON.
        now: The time to check ``validFrom``/``validUntil`` against (time-zone aware).
        resolver: Resolves verification methods; did:key only when None, :meth:`KeyStore.resolver` adds the
            stored did:web documents.
        status_lists: Signed BitstringStatusListCredentials by URL; each is verified before its bit is read.
        status_lookup: Alternatively, a function answering whether a (list URL, index) bit is set.

    Returns:
        Checks ``structure``, ``safe_mode``, ``signature``, ``issuer``, ``validity`` and ``status``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    resolver = resolver or KeyResolver()
    proofs = verify_proofs(credential, resolver=resolver)
    failed = [check for check in proofs if not check.ok]
    stopped = [check.safe_mode for check in proofs]
    if all(mode is None for mode in stopped):  # every proof check stopped before safe mode: run it on its own
        safe = _safe_mode(credential)
    elif any(stopped):
        safe = Check("safe_mode", "failed", next(mode for mode in stopped if mode))
    else:
        safe = Check("safe_mode", "passed", SAFE)
    signature = "; ".join(check.reason for check in (failed or proofs))
    if len(proofs) > 1:
        signature = f"{len(proofs) - len(failed)} of {len(proofs)} proofs hold: {signature}"
    checks = [
        _structure(credential),
        safe,
        Check("signature", "failed" if failed else "passed", signature),
        _issuer_check(credential, proofs),
    ]
    checks.append(_validity(credential, now))
    checks.append(
        _status(credential, now=now, resolver=resolver, status_lists=status_lists, status_lookup=status_lookup)
    )
    return VerificationResult(tuple(checks))


class FetchedDocumentError(BadgeError):
    """A document fetched for verification (DID document, status list) is not what it must be."""


def _fetched_json(fetch: Fetch, url: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(fetch(url))
    except (ValueError, RecursionError) as exc:
        raise FetchedDocumentError(f"{what} at {url} is not JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise FetchedDocumentError(f"{what} at {url} is not a JSON object")
    return document


def _signing_did(credential: Mapping[str, Any]) -> str | None:
    """The DID of the (first) proof's key; None unless every proof names a key of that same DID."""
    methods = [p.get("verificationMethod") if isinstance(p, Mapping) else None for p in proofs_of(credential)]
    dids = {method.partition("#")[0] if isinstance(method, str) else None for method in methods}
    return dids.pop() if len(dids) == 1 else None


def _did_web_document(issuer: str, fetch: Fetch) -> dict[str, Any]:
    from credflow.badges.keys import did_web_document_url

    url = did_web_document_url(issuer)
    document = _fetched_json(fetch, url, "the issuer's DID document")
    if document.get("id") != issuer:
        raise FetchedDocumentError(f"the DID document at {url} is for {str(document.get('id'))[:200]!r}, not {issuer}")
    if not isinstance(document.get("verificationMethod", []), list):
        raise FetchedDocumentError(f"the DID document at {url} has no verificationMethod list")
    return document


def _vouched(result: VerificationResult) -> bool:
    return all(result.check(name).outcome == "passed" for name in ("structure", "signature", "issuer"))


def verify_fetching(credential: Mapping[str, Any], *, now: dt.datetime, fetch: Fetch | None) -> VerificationResult:
    """Verify a credential from elsewhere, fetching only what its own proof vouches for.

    A forged credential could name any URL (an internal service, an endless body), so nothing it names is
    fetched before its proof holds, with one exception the proof needs: a ``did:web`` issuer's DID document,
    fetched only when the credential's structure passed and its proof names a key of that same issuer. The
    status lists are fetched only once structure, signature and issuer passed.

    Args:
        credential: The credential as parsed JSON.
        now: The time to check validity against (time-zone aware).
        fetch: Returns a URL's body (e.g. a :class:`~credflow.badges.fetch.SafeFetcher`); None fetches nothing
            (did:web issuers then fail to resolve and the status check is skipped).

    Returns:
        The checks of :func:`verify_credential`.

    Raises:
        CredflowError: A document could not be fetched, or is not JSON of the expected shape.
    """
    documents: dict[str, Mapping[str, Any]] = {}
    issuer = issuer_id(credential)
    if (
        fetch is not None
        and issuer is not None
        and issuer.startswith("did:web:")
        and _signing_did(credential) == issuer
        and _structure(credential).outcome == "passed"
    ):
        documents[issuer] = _did_web_document(issuer, fetch)
    resolver = KeyResolver(documents)
    result = verify_credential(credential, now=now, resolver=resolver)
    if fetch is None or not _vouched(result):
        if fetch is not None and _status_entries(credential):
            skipped = Check("status", "skipped", "the revocation list is not fetched for an unverified credential")
            result = VerificationResult((*result.checks[:-1], skipped))
        return result
    named = (entry.get("statusListCredential") for entry in _status_entries(credential))
    urls = list(dict.fromkeys(url for url in named if isinstance(url, str)))
    if len(urls) > MAX_STATUS_LISTS:  # one per purpose is usual; a signed badge may still name thousands
        raise FetchedDocumentError(f"{len(urls)} status lists named; {MAX_STATUS_LISTS} at most are read")
    lists: dict[str, Mapping[str, Any]] = {url: _fetched_json(fetch, url, "the revocation list") for url in urls}
    if not lists:
        return result
    return verify_credential(credential, now=now, resolver=resolver, status_lists=lists)
