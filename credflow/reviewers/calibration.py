"""Calibration against gold-standard scores, and the ratings behind the agreement report."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.catalog import Catalog
from credflow.db.models import Assignment, CalibrationRecord, GoldStandard, Reviewer
from credflow.errors import ConfigurationError, NotFoundError
from credflow.reviewers.agreement import CalibrationResult, Rating, calibrate
from credflow.states import AssignmentState
from credflow.submissions import record_event


class _Gold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    credential: str
    scores: dict[str, bool]  # criterion -> Met


class _GoldFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gold: tuple[_Gold, ...]


def import_gold(session: Session, text: str, *, catalog: Catalog, source: str = "gold file") -> int:
    """Add or replace gold-standard submissions; every criterion of the credential must be scored.

    Raises:
        ConfigurationError: unknown credential, missing or unknown criteria, bad YAML.
    """
    try:
        data = _GoldFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    problems = []
    for index, gold in enumerate(data.gold):
        credential = catalog.credentials.get(gold.credential)
        if credential is None:
            problems.append(f"{source}: gold.{index}.credential: unknown micro-credential {gold.credential!r}")
            continue
        keys = {c.key for c in credential.criteria}
        if set(gold.scores) != keys:
            problems.append(
                f"{source}: gold.{index}.scores: must score exactly the criteria {sorted(keys)}; "
                f"missing {sorted(keys - set(gold.scores))}, unknown {sorted(set(gold.scores) - keys)}"
            )
    if problems:
        raise ConfigurationError("\n".join(problems))
    for gold in data.gold:
        row = session.scalar(select(GoldStandard).where(GoldStandard.name == gold.name))
        if row is None:
            session.add(GoldStandard(name=gold.name, credential_id=gold.credential, scores=dict(gold.scores)))
        else:
            row.credential_id, row.scores = gold.credential, dict(gold.scores)
    return len(data.gold)


def record_calibration(
    session: Session, *, reviewer_email: str, scores: dict[str, dict[str, Any]], today: date
) -> CalibrationResult:
    """Score a reviewer's answers on the gold standards of the credentials they are certified for.

    ``scores`` maps gold name -> criterion -> ``met``/``not_yet`` (or true/false). A reviewer
    who agrees on at least 80% of all those criteria becomes calibrated today.
    """
    reviewer = session.scalar(select(Reviewer).where(Reviewer.email == reviewer_email.lower()))
    if reviewer is None:
        raise NotFoundError(f"no reviewer {reviewer_email!r} in the pool")
    certified = {c.credential_id for c in reviewer.certifications}
    golds = list(session.scalars(select(GoldStandard).where(GoldStandard.credential_id.in_(certified))))
    if not golds:
        raise NotFoundError(
            f"no gold-standard submissions for {sorted(certified)}; import some with `credflow gold import`"
        )
    ratings = []
    for gold in golds:
        for criterion, verdict in (scores.get(gold.name) or {}).items():
            met = verdict if isinstance(verdict, bool) else str(verdict).strip().lower() in ("met", "true", "yes")
            ratings.append(Rating(gold.name, criterion, reviewer.id, met))
    gold_scores = {gold.name: {k: bool(v) for k, v in gold.scores.items()} for gold in golds}
    result = calibrate(ratings, gold_scores, today=today, reviewer_id=reviewer.id)
    for gold in golds:
        given = {r.criterion: r.met for r in ratings if r.submission_id == gold.name}
        agreed = sum(1 for k, v in gold.scores.items() if given.get(k) == bool(v))
        session.add(
            CalibrationRecord(
                reviewer_id=reviewer.id, gold_id=gold.id, scores=given, agreed=agreed, total=len(gold.scores)
            )
        )
    if result.calibrated:
        reviewer.calibrated_on = today
    record_event(
        session,
        submission_id=None,
        kind="calibration",
        actor="calibration",
        detail={"reviewer": reviewer.email, "share": round(result.share, 3), "calibrated": result.calibrated},
    )
    return result


def ratings_from_reviews(session: Session) -> list[Rating]:
    """Every submitted review's verdicts, per criterion, for the agreement report."""
    ratings = []
    reviews = session.scalars(
        select(Assignment).where(
            Assignment.role.in_(["review", "backread"]), Assignment.state == AssignmentState.SUBMITTED
        )
    )
    for review in reviews:
        for criterion, score in (review.scores or {}).items():
            if score.get("verdict") in ("met", "not_yet"):
                ratings.append(
                    Rating(review.submission_id, criterion, review.reviewer.email, score["verdict"] == "met")
                )
    return ratings
