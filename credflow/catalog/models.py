"""Pydantic models of one micro-credential: evidence requirements, rubric and badge."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictFloat, StrictInt, model_validator

from credflow.validation.formats import KIND_FORMATS

#: Formats a requirement of each kind may accept. A document may also arrive as a photo or
#: scan of paper (student work is often handwritten), so documents accept image formats too.
ACCEPTED_FORMATS: dict[str, frozenset[str]] = {
    "document": KIND_FORMATS["document"] | KIND_FORMATS["image"],
    "image": KIND_FORMATS["image"],
    "video": KIND_FORMATS["video"],
}

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]


class Record(BaseModel):
    """Frozen, strict base: an unknown field in a catalog file is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EvidenceKind(StrEnum):
    TEXT = "text"  # a written answer in the answers file
    DOCUMENT = "document"
    IMAGE = "image"
    VIDEO = "video"


class EvidenceRequirement(Record):
    """One thing the applicant must submit: an answer, or files of one kind."""

    key: Key
    kind: EvidenceKind
    title: str = Field(min_length=1)
    prompt: str = Field(min_length=1, description="What the applicant is asked for.")
    min_count: int = Field(default=1, ge=0)
    max_count: int = Field(default=1, ge=1)
    formats: tuple[str, ...] = Field(default=(), description="Allowed formats (by content), e.g. pdf, docx, mp4.")
    max_size_mb: float | None = Field(default=None, gt=0)
    min_duration_s: float | None = Field(default=None, ge=0)
    max_duration_s: float | None = Field(default=None, gt=0)
    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_count < self.min_count:
            raise ValueError(f"max_count ({self.max_count}) is below min_count ({self.min_count})")
        if self.kind is EvidenceKind.TEXT:
            if self.formats or self.max_size_mb is not None:
                raise ValueError("a text requirement takes words (min_words/max_words), not formats or sizes")
            if self.max_count != 1:
                raise ValueError("a text requirement is one answer: max_count must be 1")
        else:
            if not self.formats:
                raise ValueError(f"a {self.kind} requirement needs its allowed formats")
            allowed = ACCEPTED_FORMATS[self.kind.value]
            unknown = [fmt for fmt in self.formats if fmt not in allowed]
            if unknown:
                raise ValueError(
                    f"formats {unknown} are not {self.kind} formats; choose from {', '.join(sorted(allowed))}"
                )
            if self.max_size_mb is None:
                raise ValueError(f"a {self.kind} requirement needs max_size_mb")
            if self.min_words is not None or self.max_words is not None:
                raise ValueError("word limits apply to text requirements only")
        if self.kind is not EvidenceKind.VIDEO and (self.min_duration_s or self.max_duration_s):
            raise ValueError("a duration range applies to video requirements only")
        if self.min_duration_s and self.max_duration_s and self.max_duration_s <= self.min_duration_s:
            raise ValueError("max_duration_s must be above min_duration_s")
        if self.min_words is not None and self.max_words is not None and self.max_words < self.min_words:
            raise ValueError("max_words is below min_words")
        return self

    @property
    def required(self) -> bool:
        return self.min_count > 0

    @property
    def max_size_bytes(self) -> int | None:
        return None if self.max_size_mb is None else int(self.max_size_mb * 1024 * 1024)


class Criterion(Record):
    """One rubric criterion, scored Met / Not Yet."""

    key: Key
    title: str = Field(min_length=1)
    met: str = Field(min_length=1, description="What Met looks like.")
    strengthen: str = Field(min_length=1, description="How to strengthen evidence that is Not Yet.")
    evidence: tuple[Key, ...] = Field(min_length=1, description="Evidence requirement keys this criterion reads.")


class SectionKind(StrEnum):
    OVERVIEW = "overview"  # overview questions
    ARTIFACTS = "artifacts"  # work examples and artifacts
    REFLECTION = "reflection"


class RubricSection(Record):
    kind: SectionKind
    title: str = Field(min_length=1)
    criteria: tuple[Criterion, ...] = Field(min_length=1)


class Issuer(Record):
    id: Slug
    name: str = Field(min_length=1)
    url: HttpUrl
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class Badge(Record):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    criteria: str = Field(min_length=1, description="Narrative of what earning requires.")


class ResubmissionPolicy(StrEnum):
    FRESH = "fresh"  # different reviewers, blind to earlier scores
    SAME = "same"  # the earlier reviewers, who see the earlier letter


class AssessmentMode(StrEnum):
    """How a micro-credential is assessed: a portfolio scored on the rubric, a formal test, or either."""

    PORTFOLIO = "portfolio"
    TEST = "test"
    EITHER = "either"  # the applicant's choice


class FormalTestOption(Record):
    """One answer option of a single-choice question."""

    key: Key
    text: str = Field(min_length=1)


class FormalTestItem(Record):
    """One single-choice question: its options, the correct option's key and why it is correct."""

    key: Key
    question: str = Field(min_length=1)
    options: tuple[FormalTestOption, ...] = Field(min_length=2, max_length=8)
    answer: Key = Field(description="The key of the correct option.")
    explanation: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> Self:
        keys = [option.key for option in self.options]
        if twice := sorted({key for key in keys if keys.count(key) > 1}):
            raise ValueError(f"option keys used twice: {', '.join(twice)}")
        if self.answer not in keys:
            raise ValueError(f"answer {self.answer!r} is not one of the options ({', '.join(keys)})")
        return self


#: A pass mark as a count of correct answers (an integer, 8) or a fraction of them (a decimal, 0.8).
PassMark = Annotated[StrictInt, Field(ge=1)] | Annotated[StrictFloat, Field(gt=0, le=1)]


class FormalTest(Record):
    """A formal test: single-choice items scored automatically against a pass mark."""

    items: tuple[FormalTestItem, ...] = Field(min_length=1)
    pass_mark: PassMark = Field(description="Correct answers needed: a count (8) or a fraction (0.8).")
    attempts: int = Field(default=3, ge=1, le=10)
    retake_wait_days: int = Field(default=0, ge=0, le=365)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [item.key for item in self.items]
        if twice := sorted({key for key in keys if keys.count(key) > 1}):
            raise ValueError(f"item keys used twice: {', '.join(twice)}")
        if isinstance(self.pass_mark, int) and self.pass_mark > len(self.items):
            raise ValueError(f"pass_mark {self.pass_mark} is more than the {len(self.items)} items")
        return self

    @property
    def correct_needed(self) -> int:
        """How many correct answers pass (a fraction rounds up: 0.8 of 12 items is 10)."""
        if isinstance(self.pass_mark, int):
            return self.pass_mark
        return max(1, math.ceil(self.pass_mark * len(self.items) - 1e-9))


class Credential(Record):
    """One micro-credential as offered by its issuer."""

    id: Slug
    title: str = Field(min_length=1)
    issuer: Issuer
    program: Slug = Field(description="The series or program it belongs to (for reports and pathways).")
    program_title: str | None = Field(
        default=None, min_length=1, max_length=120, description="The program's name as admins read it."
    )
    competency: str = Field(min_length=1)
    description: str = Field(min_length=1)
    access_years: int = Field(default=3, ge=1, le=20, description="Years of access from enrolment.")
    evidence: tuple[EvidenceRequirement, ...] = ()
    rubric: tuple[RubricSection, ...] = ()
    reviewers_per_submission: int = Field(default=2, ge=1, le=5)
    max_attempts: int = Field(default=3, ge=1, le=10)
    resubmission_window_days: int = Field(default=60, ge=1)
    resubmission_policy: ResubmissionPolicy = ResubmissionPolicy.FRESH
    decision_target_business_days: int = Field(default=5, ge=1)
    in_service_hours: float = Field(default=3, ge=0)
    support_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Where the program's mail is answered (its Reply-To); default: the issuer's email.",
    )
    badge: Badge
    prerequisites: tuple[Slug, ...] = Field(default=(), description="Micro-credentials to earn first.")
    assessment: AssessmentMode = AssessmentMode.PORTFOLIO
    test: FormalTest | None = None

    @model_validator(mode="after")
    def _assessment(self) -> Self:
        if self.assessment is AssessmentMode.PORTFOLIO and self.test is not None:
            raise ValueError("a test is declared but assessment is portfolio: set assessment to test or either")
        if self.assessment is not AssessmentMode.PORTFOLIO and self.test is None:
            raise ValueError(f"assessment {self.assessment} needs a test (items and pass_mark)")
        if self.assessment is not AssessmentMode.TEST and not (self.evidence and self.rubric):
            raise ValueError("a portfolio needs its evidence requirements and its rubric")
        if self.id in self.prerequisites:
            raise ValueError("a micro-credential cannot be its own prerequisite")
        if twice := sorted({p for p in self.prerequisites if self.prerequisites.count(p) > 1}):
            raise ValueError(f"prerequisites listed twice: {', '.join(twice)}")
        return self

    @property
    def reply_to(self) -> str:
        """The address replies to the program's mail go to: its support address, else the issuer's email."""
        return self.support_email or self.issuer.email

    @property
    def offers_portfolio(self) -> bool:
        return self.assessment is not AssessmentMode.TEST

    @property
    def offers_test(self) -> bool:
        return self.test is not None and self.assessment is not AssessmentMode.PORTFOLIO

    @model_validator(mode="after")
    def _references(self) -> Self:
        keys = [req.key for req in self.evidence]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"evidence keys used twice: {', '.join(duplicates)}")
        criteria = [c.key for section in self.rubric for c in section.criteria]
        duplicates = sorted({key for key in criteria if criteria.count(key) > 1})
        if duplicates:
            raise ValueError(f"criterion keys used twice: {', '.join(duplicates)}")
        known = set(keys)
        for section in self.rubric:
            for criterion in section.criteria:
                missing = [key for key in criterion.evidence if key not in known]
                if missing:
                    raise ValueError(f"criterion {criterion.key!r} reads unknown evidence {missing}")
        return self

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for section in self.rubric for c in section.criteria)

    def requirement(self, key: str) -> EvidenceRequirement | None:
        return next((req for req in self.evidence if req.key == key), None)

    @property
    def file_requirements(self) -> tuple[EvidenceRequirement, ...]:
        return tuple(req for req in self.evidence if req.kind is not EvidenceKind.TEXT)

    @property
    def text_requirements(self) -> tuple[EvidenceRequirement, ...]:
        return tuple(req for req in self.evidence if req.kind is EvidenceKind.TEXT)
