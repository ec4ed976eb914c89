"""The review's pure rules: scores checked and normalised, a decline's reason, the applicant anonymised."""

from __future__ import annotations

import hashlib
import unicodedata
from enum import StrEnum
from typing import Any, Protocol

from credflow.catalog.models import Criterion
from credflow.errors import PermanentError


class Verdict(StrEnum):
    MET = "met"
    NOT_YET = "not_yet"


def parse_verdict(text: str) -> Verdict | None:
    """A verdict as people write it: ``met``, ``Met``, ``Not Yet``, ``not yet``, ``not-yet`` or ``not_yet``.

    Returns:
        The verdict, or ``None`` when ``text`` names neither.
    """
    words = text.replace("-", " ").replace("_", " ").split()
    try:
        return Verdict("_".join(words).casefold())
    except ValueError:
        return None


class ScoringError(PermanentError):
    """A review cannot be saved as sent; ``problems`` maps each criterion to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {text}" for key, text in problems.items()))
        self.problems = problems


class Attempt(Protocol):
    """What anonymising needs of a submission."""

    @property
    def applicant_id(self) -> str: ...

    @property
    def credential_id(self) -> str: ...


def anonymous_id(submission: Attempt) -> str:
    """The applicant as reviewers see them: stable per applicant and credential, never the name."""
    digest = hashlib.sha256(f"{submission.applicant_id}:{submission.credential_id}".encode()).hexdigest()
    return f"Applicant {digest[:6].upper()}"


CONTROL_CHARACTER = "the text holds a control character (such as NUL): remove it and send again"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character other than newline, carriage return and tab."""
    # PostgreSQL can hold no NUL in text or JSON (it answered 500); other control characters are never typed.
    return any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text)


def check_scores(criteria: tuple[Criterion, ...], scores: dict[str, Any], *, final: bool) -> dict[str, dict[str, str]]:
    """Normalise scores; for a final submission every criterion needs a verdict and Not Yet a comment.

    Raises:
        ScoringError: naming each criterion that is missing a verdict or a required comment.
    """
    clean: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    known = {c.key: c for c in criteria}
    for key in scores:
        if key not in known:
            problems[key] = "not a criterion of this assignment"
    for criterion in criteria:
        raw = scores.get(criterion.key) or {}
        written = str(raw.get("verdict") or "").strip()
        comment = str(raw.get("comment") or "").strip()
        if has_control(comment):
            problems[criterion.key] = CONTROL_CHARACTER
            continue
        parsed = parse_verdict(written)
        if written and parsed is None:
            problems[criterion.key] = f"the verdict must be Met or Not Yet, not {written!r}"
            continue
        verdict = parsed.value if parsed else ""
        if final and not verdict:
            problems[criterion.key] = "choose Met or Not Yet"
            continue
        if final and verdict == Verdict.NOT_YET and not comment:
            problems[criterion.key] = "a comment is required for Not Yet: say what to strengthen"
            continue
        if verdict or comment:
            clean[criterion.key] = {"verdict": verdict, "comment": comment[:5000]}
    if problems:
        raise ScoringError(problems)
    return clean


def check_reason(reason: str) -> str:
    """A decline's reason, stripped; one must be given, without control characters.

    Raises:
        ScoringError: the reason is blank or holds a control character.
    """
    reason = reason.strip()
    if not reason:
        raise ScoringError({"reason": "say why you decline, so the program team can plan"})
    if has_control(reason):
        raise ScoringError({"reason": CONTROL_CHARACTER})
    return reason
