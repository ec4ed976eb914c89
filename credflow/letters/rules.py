"""Feedback letters: the result email, criterion by criterion, with how to resubmit or the badge and hours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from credflow.catalog.models import Credential, Criterion
from credflow.letters import links
from credflow.mail.base import Message
from credflow.mail.render import render_message

LEAD_REVIEWER = "Lead reviewer"


class Outcome(StrEnum):
    """The result a letter announces."""

    EARNED = "earned"
    NOT_YET = "not_yet"


class Verdict(StrEnum):
    """A criterion's final verdict, with the values reviewers score and decisions record."""

    MET = "met"
    NOT_YET = "not_yet"

    @property
    def label(self) -> str:
        return "Met" if self is Verdict.MET else "Not Yet"


@dataclass(frozen=True)
class ReviewerComment:
    """One comment on one criterion, attributed by position only, never by a reviewer's name.

    ``reviewer`` is the 1-based position among the independent reviews ("Reviewer 1"); ``None``
    marks the lead reviewer's adjudication.
    """

    text: str
    reviewer: int | None

    def __post_init__(self) -> None:
        if self.reviewer is not None and self.reviewer < 1:
            raise ValueError(f"reviewer positions start at 1, got {self.reviewer}")

    @classmethod
    def by_reviewer(cls, position: int, text: str) -> ReviewerComment:
        """A comment from the independent review at ``position`` (1-based)."""
        return cls(text=text, reviewer=position)

    @classmethod
    def by_lead(cls, text: str) -> ReviewerComment:
        """A comment from the lead reviewer who adjudicated a split criterion."""
        return cls(text=text, reviewer=None)

    @property
    def attribution(self) -> str:
        return LEAD_REVIEWER if self.reviewer is None else f"Reviewer {self.reviewer}"

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(line.rstrip() for line in self.text.strip().splitlines())


@dataclass(frozen=True)
class CriterionResult:
    """The final verdict on one rubric criterion and what reviewers wrote about it."""

    criterion: Criterion
    verdict: Verdict
    comments: tuple[ReviewerComment, ...] = ()


@dataclass(frozen=True)
class BadgeLinks:
    """Where an earned badge can be verified and downloaded."""

    verification_url: str
    json_url: str
    png_url: str

    def __post_init__(self) -> None:
        for name in ("verification_url", "json_url", "png_url"):
            url = getattr(self, name)
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")


@dataclass(frozen=True)
class PortalLinks:
    """Where a letter sends its reader in the portal: the letter online, the enrolment, the next draft."""

    letter_url: str
    credential_url: str
    resubmit_url: str
    credentials_url: str

    def __post_init__(self) -> None:
        for name in ("letter_url", "credential_url", "resubmit_url", "credentials_url"):
            url = getattr(self, name)
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")

    @classmethod
    def of(cls, public_url: str, *, credential_id: str, submission_id: str) -> PortalLinks:
        """The portal's pages for one decided submission of ``credential_id`` on the site at ``public_url``."""
        return cls(
            letter_url=links.letter_url(public_url, submission_id),
            credential_url=links.credential_url(public_url, credential_id),
            resubmit_url=links.draft_url(public_url, credential_id),
            credentials_url=links.credentials_url(public_url),
        )


@dataclass(frozen=True)
class LetterInput:
    """Everything a result letter says.

    Earned letters need ``badge``; Not Yet letters need ``resubmit_by`` while attempts remain.
    ``criteria`` holds one result for every criterion of the credential's rubric; ``portal`` is
    where the letter sends its reader (the letter online, the enrolment, the next draft).
    """

    applicant_name: str
    credential: Credential
    submission_id: str
    attempt: int
    max_attempts: int
    outcome: Outcome
    criteria: tuple[CriterionResult, ...]
    portal: PortalLinks
    resubmit_by: date | None = None
    badge: BadgeLinks | None = None
    hours_confirmation: str | None = None

    def __post_init__(self) -> None:
        if self.attempt < 1 or self.max_attempts < 1:
            raise ValueError("attempt and max_attempts start at 1")
        keys = [result.criterion.key for result in self.criteria]
        expected = [criterion.key for criterion in self.credential.criteria]
        if sorted(keys) != sorted(expected):
            missing = sorted(set(expected) - set(keys))
            unknown = sorted(set(keys) - set(expected))
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise ValueError(
                f"criteria must match the rubric of {self.credential.id}: "
                f"missing {missing}, unknown {unknown}, given twice {twice}"
            )
        all_met = all(result.verdict is Verdict.MET for result in self.criteria)
        if all_met != (self.outcome is Outcome.EARNED):
            raise ValueError(f"outcome {self.outcome} contradicts the verdicts (earned means every criterion Met)")
        if self.outcome is Outcome.EARNED and self.badge is None:
            raise ValueError("an earned letter needs the badge links")
        if self.outcome is Outcome.NOT_YET and self.attempts_left > 0 and self.resubmit_by is None:
            raise ValueError("a Not Yet letter with attempts left needs the resubmission deadline")

    @property
    def attempts_left(self) -> int:
        return max(self.max_attempts - self.attempt, 0)

    @property
    def not_yet(self) -> tuple[CriterionResult, ...]:
        """The Not Yet criteria, in rubric order."""
        return tuple(result for result in self._in_rubric_order() if result.verdict is Verdict.NOT_YET)

    def _in_rubric_order(self) -> list[CriterionResult]:
        by_key = {result.criterion.key: result for result in self.criteria}
        return [by_key[criterion.key] for criterion in self.credential.criteria]


class ScoredReview(Protocol):
    """A submitted review or adjudication: ``scores`` maps criterion keys to ``{verdict, comment}``."""

    @property
    def scores(self) -> Mapping[str, Any]: ...


def criterion_results(
    credential: Credential,
    *,
    decision: Mapping[str, Mapping[str, Any]],
    reviews: Sequence[ScoredReview],
    adjudication: ScoredReview | None = None,
) -> tuple[CriterionResult, ...]:
    """Build the letter's per-criterion results from a decision and the reviews behind it.

    Only the verdicts and comments are read: reviewers are numbered by their position in
    ``reviews`` (the same number on every criterion), the adjudicator is "Lead reviewer".

    Args:
        credential: The micro-credential whose rubric was scored.
        decision: The decision's per-criterion record (criterion key to ``{"verdict": ...}``).
        reviews: The independent reviews, in the order to number them.
        adjudication: The lead reviewer's adjudication of split criteria, if any.

    Returns:
        One result per rubric criterion, in rubric order.

    Raises:
        KeyError: The decision lacks a criterion of the rubric.
    """
    results = []
    for criterion in credential.criteria:
        comments = [
            ReviewerComment.by_reviewer(position, text)
            for position, review in enumerate(reviews, start=1)
            if (text := _comment(review, criterion.key))
        ]
        if adjudication is not None and (text := _comment(adjudication, criterion.key)):
            comments.append(ReviewerComment.by_lead(text))
        verdict = Verdict(decision[criterion.key]["verdict"])
        results.append(CriterionResult(criterion=criterion, verdict=verdict, comments=tuple(comments)))
    return tuple(results)


def _comment(review: ScoredReview, key: str) -> str:
    score = review.scores.get(key) or {}
    return str(score.get("comment") or "").strip()


def _day(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _hours(hours: float) -> str:
    return f"{hours:g} in-service hour{'' if hours == 1 else 's'}"


def letter_context(letter: LetterInput) -> dict[str, Any]:
    """What a letter says, as the templates read it: the email's and the portal's letter page alike."""
    credential = letter.credential
    by_key = {result.criterion.key: result for result in letter.criteria}
    sections = []
    for section in credential.rubric:
        criteria = []
        for criterion in section.criteria:
            result = by_key[criterion.key]
            not_yet = result.verdict is Verdict.NOT_YET
            criteria.append(
                {
                    "title": criterion.title,
                    "not_yet": not_yet,
                    "verdict": result.verdict.label,
                    "looked_for": criterion.met,
                    "strengthen": criterion.strengthen if not_yet else None,
                    "comments": [{"by": c.attribution, "lines": c.lines} for c in result.comments],
                }
            )
        sections.append({"title": section.title, "criteria": criteria})
    context: dict[str, Any] = {
        "applicant_name": letter.applicant_name,
        "credential_title": credential.title,
        "issuer_name": credential.issuer.name,
        "submission_id": letter.submission_id,
        "short_id": letter.submission_id[:8],
        "attempt": letter.attempt,
        "max_attempts": letter.max_attempts,
        "attempts_left": letter.attempts_left,
        "criteria_count": len(letter.criteria),
        "sections": sections,
        "not_yet": [result.criterion.title for result in letter.not_yet],
        "letter_url": letter.portal.letter_url,
        "credential_url": letter.portal.credential_url,
        "resubmit_url": letter.portal.resubmit_url,
        "portal_url": letter.portal.credentials_url,
    }
    if letter.outcome is Outcome.EARNED:
        assert letter.badge is not None  # checked by LetterInput
        context |= {
            "badge_name": credential.badge.name,
            "verification_url": letter.badge.verification_url,
            "json_url": letter.badge.json_url,
            "png_url": letter.badge.png_url,
            "hours": _hours(credential.in_service_hours) if credential.in_service_hours else None,
            "hours_confirmation": letter.hours_confirmation,
        }
    else:
        context |= {
            "resubmit_by": _day(letter.resubmit_by) if letter.resubmit_by else None,
        }
    return context


def render_letter(letter: LetterInput, *, idempotency_key: str, to_email: str) -> Message:
    """Render the result letter (HTML with inline styles, plus plain text) for one decision.

    Sections follow the rubric's sections. Every applicant- or reviewer-provided text is
    escaped in the HTML part; reviewers appear only as "Reviewer 1", "Reviewer 2" and
    "Lead reviewer".

    Args:
        letter: What the letter says.
        idempotency_key: The message's key for exactly-once delivery (e.g. ``result:<submission>``).
        to_email: The applicant's address.

    Returns:
        The message, of kind ``result_earned`` or ``result_not_yet``.
    """
    return render_message(
        f"result_{letter.outcome.value}",
        idempotency_key=idempotency_key,
        to_email=to_email,
        to_name=letter.applicant_name,
        reply_to=letter.credential.reply_to,
        context=letter_context(letter),
    )
