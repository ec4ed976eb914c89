"""The reviewer pool: import and export YAML; re-imports update without losing history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.catalog import Catalog
from credflow.db.models import Reviewer, ReviewerCertification, ReviewerRelation, ReviewerUnavailability
from credflow.errors import ConfigurationError
from credflow.submissions import record_event


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(_Entry):
    starts: date = Field(alias="from")
    ends: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends < self.starts:
            raise ValueError(f"'to' ({self.ends}) is before 'from' ({self.starts})")
        return self


class Relation(_Entry):
    applicant: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The applicant's email.")
    kind: str = Field(pattern=r"^(coach|mentor|supervisor|mentee|colleague|family|other)$")


class ReviewerEntry(_Entry):
    """One reviewer as written in the pool file."""

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    organisation: str = Field(min_length=1)
    certified_for: tuple[str, ...] = ()
    calibrated_on: date | None = None
    max_active: int = Field(default=5, ge=0, le=100)
    lead: bool = False
    unavailable: tuple[Period, ...] = ()
    relations: tuple[Relation, ...] = ()


class PoolFile(_Entry):
    reviewers: tuple[ReviewerEntry, ...]


@dataclass
class ImportReport:
    """What an import changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    left_pool: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.left_pool)} left the pool"
        )


def parse_pool(text: str, *, catalog: Catalog, source: str = "pool file") -> PoolFile:
    """Parse and check a pool file.

    Raises:
        ConfigurationError: every problem, each with its reviewer index and field.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML: {exc}") from None
    try:
        pool = PoolFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigurationError("\n".join(lines)) from None
    problems = []
    emails = [entry.email.lower() for entry in pool.reviewers]
    for index, entry in enumerate(pool.reviewers):
        unknown = [c for c in entry.certified_for if c not in catalog.credentials]
        if unknown:
            problems.append(f"{source}: reviewers.{index}.certified_for: unknown micro-credentials {unknown}")
        if emails.count(entry.email.lower()) > 1:
            problems.append(f"{source}: reviewers.{index}.email: {entry.email} appears more than once")
    if problems:
        raise ConfigurationError("\n".join(dict.fromkeys(problems)))
    return pool


def _snapshot(reviewer: Reviewer) -> dict[str, Any]:
    return {
        "name": reviewer.name,
        "organisation": reviewer.organisation,
        "certified_for": sorted(c.credential_id for c in reviewer.certifications),
        "calibrated_on": reviewer.calibrated_on.isoformat() if reviewer.calibrated_on else None,
        "max_active": reviewer.max_active,
        "lead": reviewer.is_lead,
        "unavailable": sorted([u.starts_on.isoformat(), u.ends_on.isoformat()] for u in reviewer.unavailable),
        "relations": sorted([r.applicant_email, r.kind] for r in reviewer.relations),
        "in_pool": reviewer.in_pool,
    }


def _apply(reviewer: Reviewer, entry: ReviewerEntry) -> None:
    reviewer.name = entry.name.strip()
    reviewer.organisation = entry.organisation.strip()
    reviewer.max_active = entry.max_active
    reviewer.is_lead = entry.lead
    reviewer.calibrated_on = entry.calibrated_on
    reviewer.in_pool = True
    # Update the collections by difference: replacing them would insert before deleting and
    # trip the unique constraints, and unchanged rows keep their identity.
    wanted_certs = set(entry.certified_for)
    reviewer.certifications = [c for c in reviewer.certifications if c.credential_id in wanted_certs]
    have = {c.credential_id for c in reviewer.certifications}
    reviewer.certifications += [ReviewerCertification(credential_id=c) for c in sorted(wanted_certs - have)]

    wanted_periods = {(p.starts, p.ends) for p in entry.unavailable}
    reviewer.unavailable = [u for u in reviewer.unavailable if (u.starts_on, u.ends_on) in wanted_periods]
    have_periods = {(u.starts_on, u.ends_on) for u in reviewer.unavailable}
    reviewer.unavailable += [
        ReviewerUnavailability(starts_on=start, ends_on=end) for start, end in sorted(wanted_periods - have_periods)
    ]

    wanted_relations = {r.applicant.lower(): r.kind for r in entry.relations}
    reviewer.relations = [r for r in reviewer.relations if wanted_relations.get(r.applicant_email) == r.kind]
    have_relations = {r.applicant_email for r in reviewer.relations}
    reviewer.relations += [
        ReviewerRelation(applicant_email=email, kind=kind)
        for email, kind in sorted(wanted_relations.items())
        if email not in have_relations
    ]


def import_pool(session: Session, pool: PoolFile, *, actor: str = "operator") -> ImportReport:
    """Add and update reviewers from ``pool``; those left out leave the pool but keep their history."""
    report = ImportReport()
    existing = {r.email: r for r in session.scalars(select(Reviewer))}
    seen: set[str] = set()
    for entry in pool.reviewers:
        email = entry.email.lower()
        seen.add(email)
        reviewer = existing.get(email)
        if reviewer is None:
            reviewer = Reviewer(email=email, name=entry.name, organisation=entry.organisation)
            session.add(reviewer)
            _apply(reviewer, entry)
            session.flush()
            report.added.append(email)
            record_event(
                session,
                submission_id=None,
                kind="reviewer_added",
                actor=actor,
                detail={"reviewer": email, **_snapshot(reviewer)},
            )
            continue
        before = _snapshot(reviewer)
        _apply(reviewer, entry)
        session.flush()
        after = _snapshot(reviewer)
        if before == after:
            report.unchanged.append(email)
            continue
        changes = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
        report.updated.append(email)
        record_event(
            session,
            submission_id=None,
            kind="reviewer_updated",
            actor=actor,
            detail={"reviewer": email, "changes": changes},
        )
    for email, reviewer in existing.items():
        if email not in seen and reviewer.in_pool:
            reviewer.in_pool = False
            report.left_pool.append(email)
            record_event(
                session, submission_id=None, kind="reviewer_left_pool", actor=actor, detail={"reviewer": email}
            )
    return report


def export_pool(session: Session) -> str:
    """The pool (reviewers still in it) as YAML in the import format."""
    entries = []
    for reviewer in session.scalars(select(Reviewer).where(Reviewer.in_pool.is_(True)).order_by(Reviewer.email)):
        snap = _snapshot(reviewer)
        entry: dict[str, Any] = {
            "name": reviewer.name,
            "email": reviewer.email,
            "organisation": reviewer.organisation,
            "certified_for": snap["certified_for"],
            "calibrated_on": reviewer.calibrated_on,
            "max_active": reviewer.max_active,
            "lead": reviewer.is_lead,
        }
        if reviewer.unavailable:
            entry["unavailable"] = [{"from": u.starts_on, "to": u.ends_on} for u in reviewer.unavailable]
        if reviewer.relations:
            entry["relations"] = [{"applicant": r.applicant_email, "kind": r.kind} for r in reviewer.relations]
        entries.append(entry)
    return yaml.safe_dump({"reviewers": entries}, sort_keys=False, allow_unicode=True)
