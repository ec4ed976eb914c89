"""The reviewers stage: the pool imported and exported (re-imports keep history), gold standards, calibration."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.catalog import Catalog
from credflow.catalog.models import Credential
from credflow.db.models import (
    Assignment,
    CalibrationRecord,
    GoldFile,
    GoldStandard,
    Reviewer,
    ReviewerCertification,
    ReviewerRelation,
    ReviewerUnavailability,
    Transcode,
    utcnow,
)
from credflow.errors import ConfigurationError, NotFoundError
from credflow.media.base import MediaProbe
from credflow.review.stage import EvidenceFile, evidence_file
from credflow.reviewers.rules import (
    CalibrationResult,
    PoolFile,
    Rating,
    ReviewerEntry,
    calibrate,
    parse_gold,
    reads_as_met,
)
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.storage.base import CHUNK_SIZE
from credflow.submissions import record_event
from credflow.transcoding.rules import VideoJob
from credflow.transcoding.stage import transcode_video
from credflow.validation.rules import file_problems
from credflow.validation.stage import inspect_path


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


@dataclass(frozen=True)
class StagedGoldFile:
    """One evidence file of a gold standard, checked and stored, waiting for its record."""

    gold: str  # the gold standard's name
    requirement_key: str
    position: int
    display_name: str
    storage_key: str
    sha256: str
    size: int
    mime: str | None


def import_gold(
    session: Session,
    text: str,
    *,
    catalog: Catalog,
    source: str = "gold file",
    files: Sequence[StagedGoldFile] | None = None,
) -> int:
    """Add or replace gold-standard submissions; every criterion of the credential must be scored.

    Args:
        session: The open session.
        text: The gold file's YAML.
        catalog: The micro-credentials the gold standards are of.
        source: The file's name, for the errors.
        files: The evidence files the gold file lists, already checked and stored
            (:func:`import_gold_file` does both); a gold standard's files are replaced by these.

    Raises:
        ConfigurationError: unknown credential, missing or unknown criteria, bad YAML; files listed
            in the gold file but not given (they are imported with :func:`import_gold_file`).
    """
    data = parse_gold(text, catalog=catalog, source=source)
    if files is None and any(gold.files for gold in data.gold):
        raise ConfigurationError(
            f"{source}: lists evidence files; import it with `credflow gold import FILE`, which checks and stores them"
        )
    for gold in data.gold:
        row = session.scalar(select(GoldStandard).where(GoldStandard.name == gold.name))
        if row is None:
            row = GoldStandard(name=gold.name, credential_id=gold.credential, scores=dict(gold.scores))
            session.add(row)
            session.flush()
        else:
            row.credential_id, row.scores = gold.credential, dict(gold.scores)
        # Absent from the file means absent: a re-import without them clears what an earlier one gave.
        row.answers = dict(gold.answers) or None
        row.evidence_notes = gold.evidence_notes.strip() or None
        row.comments = dict(gold.comments) or None
        _replace_files(session, row, [f for f in files or () if f.gold == gold.name])
    return len(data.gold)


def _replace_files(session: Session, gold: GoldStandard, files: Sequence[StagedGoldFile]) -> None:
    """Make the gold standard's file records ``files``; a file unchanged keeps its record (and its links)."""
    wanted = {(f.requirement_key, f.position, f.sha256, f.display_name): f for f in files}
    have = list(session.scalars(select(GoldFile).where(GoldFile.gold_id == gold.id)))
    kept = set()
    for row in have:
        key = (row.requirement_key, row.position, row.sha256, row.display_name)
        if key in wanted:
            kept.add(key)
        else:
            session.delete(row)
    session.flush()  # the old rows go before the new take their (requirement, position)
    for key, f in wanted.items():
        if key not in kept:
            session.add(
                GoldFile(
                    gold_id=gold.id,
                    requirement_key=f.requirement_key,
                    position=f.position,
                    display_name=f.display_name,
                    storage_key=f.storage_key,
                    sha256=f.sha256,
                    size=f.size,
                    sniffed_mime=f.mime,
                )
            )


def gold_storage_key(sha256: str) -> str:
    """Where a gold file's bytes are stored: by content, never by a name from the file."""
    return f"gold/{sha256}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def stage_gold_files(services: Services, path: Path, text: str) -> list[StagedGoldFile]:
    """Check the evidence files a gold file lists as intake checks evidence, store them and transcode the videos.

    Every file is checked before any is stored: a refused import stores nothing. Stored objects
    are keyed by content, so importing the same bytes again stores nothing new and reuses the
    transcode (keyed by the video's sha256, as evidence's are).

    Raises:
        ConfigurationError: each file that is missing, of the wrong type, too large, empty,
            unreadable or (a video) could not be transcoded, named with its place in the gold file.
    """
    source = str(path)
    data = parse_gold(text, catalog=services.catalog, source=source)
    problems: list[str] = []
    checked: list[tuple[StagedGoldFile, Path, MediaProbe | None]] = []
    for index, gold in enumerate(data.gold):
        credential = services.catalog.get(gold.credential)
        for key, names in gold.files.items():
            requirement = credential.requirement(key)
            for position, name in enumerate(names):
                where = f"{source}: gold.{index}.files.{key}: {name!r}"
                file = path.parent / name
                if not file.is_file():
                    problems.append(f"{where}: no such file (looked for {file})")
                    continue
                size, sha = file.stat().st_size, _sha256_file(file)
                facts = inspect_path(
                    services, file, original_name=file.name, size=size, sha256=sha, requirement=requirement
                )
                found = file_problems(requirement, facts)
                if found:
                    problems += [f"{where}: {p.message}" for p in found]
                    continue
                staged = StagedGoldFile(
                    gold.name, key, position, facts.display_name, gold_storage_key(sha), sha, size, facts.sniffed.mime
                )
                checked.append((staged, file, facts.probe))
    if problems:
        raise ConfigurationError("\n".join(problems))
    for staged, file, _ in checked:
        if not services.store.exists(staged.storage_key):
            services.store.put_file(staged.storage_key, file)
    for staged, _, probe in checked:
        if probe is None:
            continue
        job = VideoJob(f"gold:{staged.gold}", staged.sha256, staged.storage_key, staged.display_name, probe)
        outcome = transcode_video(services, job, owner=f"gold-import:{staged.sha256[:12]}")
        if not outcome.done:
            problems.append(f"{source}: {staged.display_name!r} could not be converted for reviewers: {outcome.error}")
    if problems:
        raise ConfigurationError("\n".join(problems))
    return [staged for staged, _, _ in checked]


def import_gold_file(services: Services, path: Path) -> tuple[int, int]:
    """``credflow gold import FILE``: check, store and transcode its evidence files, then record the gold standards.

    Returns:
        How many gold standards and how many evidence files were imported.

    Raises:
        ConfigurationError: what :func:`parse_gold` and :func:`stage_gold_files` refuse.
        OSError: the gold file cannot be read.
    """
    text = path.read_text(encoding="utf-8")
    files = stage_gold_files(services, path, text)
    with services.db.session() as session:
        count = import_gold(session, text, catalog=services.catalog, source=str(path), files=files)
    return count, len(files)


def gold_evidence(session: Session, credential: Credential, gold: GoldStandard) -> list[EvidenceFile]:
    """A gold standard's files as the review page shows evidence: videos with their review copy and poster."""
    rows = list(
        session.scalars(
            select(GoldFile).where(GoldFile.gold_id == gold.id).order_by(GoldFile.requirement_key, GoldFile.position)
        )
    )
    order = {req.key: n for n, req in enumerate(credential.evidence)}
    rows.sort(key=lambda r: (order.get(r.requirement_key, len(order)), r.position))
    requirements = {req.key: req for req in credential.evidence}
    transcodes = {
        t.input_sha256: t
        for t in session.scalars(select(Transcode).where(Transcode.input_sha256.in_([r.sha256 for r in rows])))
    }
    return [evidence_file(row, requirements, transcodes) for row in rows]


def record_calibration(
    session: Session,
    *,
    reviewer_email: str,
    scores: dict[str, dict[str, Any]],
    today: date,
    gold_ids: Collection[str] | None = None,
    may_calibrate: bool = True,
    now: datetime | None = None,
) -> CalibrationResult:
    """Score a reviewer's answers on the gold standards of the credentials they are certified for.

    ``scores`` maps gold name -> criterion -> ``met``/``not_yet`` (or true/false). A reviewer
    who agrees on at least 80% of all those criteria becomes calibrated today.

    Args:
        session: The open session.
        reviewer_email: The reviewer, by their pool address.
        scores: Gold name -> criterion -> verdict.
        today: The day recorded as ``calibrated_on`` on success.
        gold_ids: Only these gold standards (by id) are scored (the browser scores one at a time);
            default: every gold standard of the reviewer's credentials.
        may_calibrate: False records the scoring as practice: ``calibrated_on`` is left as it is.
        now: When the records are made (default: the wall clock).
    """
    reviewer = session.scalar(select(Reviewer).where(Reviewer.email == reviewer_email.lower()))
    if reviewer is None:
        raise NotFoundError(f"no reviewer {reviewer_email!r} in the pool")
    certified = {c.credential_id for c in reviewer.certifications}
    query = select(GoldStandard).where(GoldStandard.credential_id.in_(certified))
    if gold_ids is not None:
        query = query.where(GoldStandard.id.in_(list(gold_ids)))
    golds = list(session.scalars(query))
    if not golds:
        raise NotFoundError(
            f"no gold-standard submissions for {sorted(certified)}; import some with `credflow gold import`"
        )
    ratings = []
    for gold in golds:
        for criterion, verdict in (scores.get(gold.name) or {}).items():
            ratings.append(Rating(gold.name, criterion, reviewer.id, reads_as_met(verdict)))
    gold_scores = {gold.name: {k: bool(v) for k, v in gold.scores.items()} for gold in golds}
    result = calibrate(ratings, gold_scores, today=today, reviewer_id=reviewer.id)
    for gold in golds:
        given = {r.criterion: r.met for r in ratings if r.submission_id == gold.name}
        agreed = sum(1 for k, v in gold.scores.items() if given.get(k) == bool(v))
        session.add(
            CalibrationRecord(
                reviewer_id=reviewer.id,
                gold_id=gold.id,
                scores=given,
                agreed=agreed,
                total=len(gold.scores),
                at=now or utcnow(),
                practice=not may_calibrate,
            )
        )
    if result.calibrated and may_calibrate:
        reviewer.calibrated_on = today
    detail: dict[str, Any] = {
        "reviewer": reviewer.email,
        "share": round(result.share, 3),
        "calibrated": result.calibrated and may_calibrate,
    }
    if not may_calibrate:
        detail["practice"] = True
    record_event(session, submission_id=None, kind="calibration", actor="calibration", detail=detail, at=now)
    return result


# --- calibration in the browser: one gold standard at a time ---------------------------------------


def pool_reviewer(session: Session, email: str) -> Reviewer | None:
    """The reviewer of the pool with this address (lower-cased), or None (not in it, or left it)."""
    return session.scalar(select(Reviewer).where(Reviewer.email == email.strip().lower(), Reviewer.in_pool.is_(True)))


def golds_for(session: Session, reviewer: Reviewer) -> list[GoldStandard]:
    """The gold standards of the credentials ``reviewer`` is certified for, by credential then name."""
    certified = [c.credential_id for c in reviewer.certifications]
    return list(
        session.scalars(
            select(GoldStandard)
            .where(GoldStandard.credential_id.in_(certified))
            .order_by(GoldStandard.credential_id, GoldStandard.name)
        )
    )


def gold_for(session: Session, reviewer: Reviewer, gold_id: str) -> GoldStandard | None:
    """One gold standard, when it is of a credential ``reviewer`` is certified for (else None)."""
    gold = session.get(GoldStandard, gold_id)
    if gold is None or gold.credential_id not in {c.credential_id for c in reviewer.certifications}:
        return None
    return gold


def calibration_records(session: Session, reviewer: Reviewer) -> list[CalibrationRecord]:
    """Every scoring of a gold standard by ``reviewer``, oldest first."""
    return list(
        session.scalars(
            select(CalibrationRecord)
            .where(CalibrationRecord.reviewer_id == reviewer.id)
            .order_by(CalibrationRecord.at, CalibrationRecord.id)
        )
    )


def calibrate_on_gold(
    session: Session, *, reviewer: Reviewer, gold: GoldStandard, verdicts: dict[str, bool], now: datetime
) -> tuple[CalibrationResult, CalibrationRecord]:
    """Record a reviewer's scoring of one gold standard; the first scoring of it may calibrate them.

    A retake is practice only: once the result page has shown the gold verdicts and comments,
    scoring the same gold standard again proves nothing, so it leaves ``calibrated_on`` as it is.

    Returns:
        The calibration result and the record just made.
    """
    mine = select(CalibrationRecord.id).where(
        CalibrationRecord.reviewer_id == reviewer.id, CalibrationRecord.gold_id == gold.id
    )
    before = set(session.scalars(mine))
    result = record_calibration(
        session,
        reviewer_email=reviewer.email,
        scores={gold.name: {key: verdicts[key] for key in verdicts}},
        today=now.date(),
        gold_ids=[gold.id],
        may_calibrate=not before,
        now=now,
    )
    session.flush()
    (made,) = set(session.scalars(mine)) - before  # record_calibration made exactly one, for this gold
    return result, session.get_one(CalibrationRecord, made)


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
