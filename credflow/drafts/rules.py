"""Drafts' rules: what a draft may hold, what Check my evidence says, when a coach link works.

Pure: no session, no services. :mod:`credflow.drafts.stage` stores drafts and runs the pre-assessor on them.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from credflow.catalog.models import Credential, EvidenceKind, EvidenceRequirement
from credflow.errors import PermanentError
from credflow.formatting import human_size
from credflow.intake.rules import MAX_ANSWER_CHARS
from credflow.validation.rules import Problem, count_words

#: What a coach link may last: a week or two is the usual; never more than this.
MAX_COACH_DAYS = 60
DEFAULT_COACH_DAYS = 14
MAX_COMMENT_CHARS = 5_000

# The file name endings a browser's file picker offers for each format (the server sniffs content anyway).
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "jpeg": (".jpg", ".jpeg"),
    "mp4": (".mp4",),
    "mov": (".mov",),
    "m4v": (".m4v",),
    "heic": (".heic", ".heif"),
    "txt": (".txt",),
}


class DraftRefused(PermanentError):
    """What the applicant asked of a draft cannot be done; the message says why and what to do."""


class DraftNotFound(DraftRefused):
    """No such draft, file or link for this person (pages answer 404, never naming someone else's)."""


@dataclass(frozen=True)
class CoachLinkProblem:
    """Why a coach link cannot be used: the HTTP status of its page and a sentence for the coach."""

    status: int
    message: str


def slot(applicant_id: str, credential_id: str) -> str:
    """The open-draft slot of an applicant and a credential: at most one open draft holds it."""
    return f"{applicant_id}:{credential_id}"


def accept_list(requirement: EvidenceRequirement) -> str:
    """The file picker's ``accept`` for a requirement: its formats' usual name endings (``.pdf,.docx``)."""
    endings: list[str] = []
    for fmt in requirement.formats:
        endings.extend(_EXTENSIONS.get(fmt, (f".{fmt}",)))
    return ",".join(dict.fromkeys(endings))


def kind_label(requirement: EvidenceRequirement) -> str:
    """What a requirement takes, in words: ``PDF, DOCX or PPTX, at most 25.0 MB each (1 to 2 files)``."""
    formats = [fmt.upper() for fmt in requirement.formats]
    listed = formats[0] if len(formats) == 1 else ", ".join(formats[:-1]) + " or " + formats[-1]
    size = f", at most {human_size(requirement.max_size_bytes)} each" if requirement.max_size_bytes else ""
    low, high = requirement.min_count, requirement.max_count
    count = f"{high} file{'s' if high > 1 else ''}" if low == high else f"{low} to {high} files"
    if low == 0:
        count = f"optional, up to {high} file{'s' if high > 1 else ''}"
    return f"{listed}{size} ({count})"


def words_label(requirement: EvidenceRequirement, text: str) -> str:
    """The word count of an answer against its limits: ``212 words (150 to 600)``."""
    words = count_words(text)
    low, high = requirement.min_words, requirement.max_words
    if low is not None and high is not None:
        span = f" ({low} to {high})"
    elif low is not None:
        span = f" (at least {low})"
    elif high is not None:
        span = f" (at most {high})"
    else:
        span = ""
    return f"{words} word{'' if words == 1 else 's'}{span}"


def answer_problem(title: str, text: str) -> str | None:
    """Why an answer cannot be saved as typed (too long, control characters), or None.

    The answer is not changed here: the page shows it again with the problem, so nothing typed is lost.
    """
    if len(text) > MAX_ANSWER_CHARS:
        return (
            f"The answer to '{title}' is {len(text):,} characters long; the most a draft keeps is {MAX_ANSWER_CHARS:,}."
        )
    bad = sorted({ch for ch in text if ch not in "\t\r\n" and unicodedata.category(ch) in {"Cc", "Cs"}})
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5])
        return f"The answer to '{title}' contains control characters ({shown}); paste it as plain text."
    return None


def normal_answer(text: str) -> str:
    """An answer as stored: a browser's CRLF line breaks become LF, so the same text saved twice is equal."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def answers_to_send(credential: Credential, answers: Mapping[str, str]) -> dict[str, str]:
    """The draft's answers the intake receives: those of the credential's questions that are not blank."""
    return {
        req.key: answers[req.key]
        for req in credential.text_requirements
        if isinstance(answers.get(req.key), str) and answers[req.key].strip()
    }


def content_hash(answers: Mapping[str, str], files: Iterable[tuple[str, str]]) -> str:
    """The sha256 of a draft's content: answers and ``(requirement key, file sha256)`` pairs, order-free."""
    content = {"answers": dict(sorted(answers.items())), "files": sorted([key, sha] for key, sha in files)}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def idempotency_key(draft_id: str, digest: str) -> str:
    """The intake's Idempotency-Key of applying a draft: the same draft with the same content is one submission."""
    return f"draft:{draft_id}:{digest}"


def file_refusal(requirement: EvidenceRequirement | None, *, credential: Credential, key: str, held: int) -> str | None:
    """Why no file can be added under ``key`` now (not a file requirement, or it holds its maximum), or None."""
    if requirement is None:
        files = ", ".join(req.key for req in credential.file_requirements)
        return f"{credential.title!r} asks for no file under '{key[:64]}'; its files are: {files}."
    if requirement.kind is EvidenceKind.TEXT:
        return f"'{requirement.title}' is a written answer: type it in the box, not as a file."
    if held >= requirement.max_count:
        plural = "s" if requirement.max_count > 1 else ""
        return (
            f"'{requirement.title}' takes at most {requirement.max_count} file{plural}, "
            "and the draft holds that many: remove or replace one first."
        )
    return None


def wrong_kind(requirement: EvidenceRequirement, *, filename: str, found: str, fmt: str) -> str | None:
    """Why a file's content (sniffed as ``fmt``, described as ``found``) does not fit its requirement, or None."""
    if fmt in requirement.formats:
        return None
    return (
        f"'{filename}' is {found}; '{requirement.title}' accepts {', '.join(f.upper() for f in requirement.formats)}. "
        "Save or export it as one of those and add it again."
    )


def too_large(requirement: EvidenceRequirement, *, filename: str, limit: int) -> str:
    """The message for a file over its requirement's (or the upload cap's) limit; nothing of it was kept."""
    return (
        f"'{filename}' is larger than {human_size(limit)}, the limit for '{requirement.title}'; nothing of it was "
        "kept. Compress or shorten the file, or export it at a lower resolution, then add it again."
    )


@dataclass(frozen=True)
class RequirementProblems:
    """Check my evidence's findings for one requirement (``key`` None: about the draft as a whole)."""

    key: str | None
    title: str
    problems: tuple[Problem, ...]


def problems_by_requirement(credential: Credential, problems: Sequence[Problem]) -> list[RequirementProblems]:
    """Group the pre-assessor's problems under the requirements in catalog order; the rest come last."""
    grouped: list[RequirementProblems] = []
    for req in credential.evidence:
        mine = tuple(p for p in problems if p.requirement == req.key)
        if mine:
            grouped.append(RequirementProblems(req.key, req.title, mine))
    known = {req.key for req in credential.evidence}
    rest = tuple(p for p in problems if p.requirement not in known)
    if rest:
        grouped.append(RequirementProblems(None, "The draft as a whole", rest))
    return grouped


def coach_days(text: str) -> int:
    """The coach link's lifetime in days, from the form.

    Raises:
        DraftRefused: not a whole number from 1 to ``MAX_COACH_DAYS``.
    """
    value = text.strip() or str(DEFAULT_COACH_DAYS)
    if not value.isdigit() or not 1 <= int(value) <= MAX_COACH_DAYS:
        raise DraftRefused(f"Choose how long the link works: a whole number of days from 1 to {MAX_COACH_DAYS}.")
    return int(value)


def comment_text(text: str) -> str:
    """A coach's comment as stored.

    Raises:
        DraftRefused: empty, too long, or with control characters.
    """
    body = normal_answer(text).strip()
    if not body:
        raise DraftRefused("Write a comment before sending it.")
    if len(body) > MAX_COMMENT_CHARS:
        raise DraftRefused(f"The comment is {len(body):,} characters long; the limit is {MAX_COMMENT_CHARS:,}.")
    if answer_problem("the comment", body):
        raise DraftRefused("The comment contains control characters; paste it as plain text.")
    return body


def coach_link_problem(
    *, found: bool, revoked_at: datetime | None, expires_at: datetime | None, applied: bool, now: datetime
) -> CoachLinkProblem | None:
    """Why a coach link cannot be used now, or None when it can.

    Args:
        found: A link with this token exists.
        revoked_at: When the applicant revoked it, if they did.
        expires_at: When it expires.
        applied: Its draft has been applied (the draft is closed to coaching).
        now: The moment of the check.
    """
    if not found or expires_at is None:
        return CoachLinkProblem(404, "This coach link is not valid. Ask the educator who shared it for a new one.")
    if revoked_at is not None:
        return CoachLinkProblem(
            403, "The educator withdrew this coach link. Ask them for a new one if you are still coaching them."
        )
    if applied:
        return CoachLinkProblem(410, "The educator has applied with this draft, so it is closed to comments.")
    if now >= expires_at:
        return CoachLinkProblem(
            410, f"This coach link expired on {expires_at:%d %B %Y at %H:%M} UTC. Ask the educator for a new one."
        )
    return None


def coach_expiry(now: datetime, days: int) -> datetime:
    """When a coach link made at ``now`` for ``days`` days stops working."""
    return now + timedelta(days=days)
