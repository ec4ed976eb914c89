"""Export everything credflow holds about one applicant: ``applicant.json`` plus their evidence files, as a zip."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credflow.catalog.models import Credential
from credflow.db.models import (
    Applicant,
    Assignment,
    CoachComment,
    CohortConsent,
    Decision,
    Draft,
    Enrolment,
    Event,
    EvidenceItem,
    InServiceHours,
    IssuedBadge,
    OutgoingMessage,
    PlanTargetRow,
    Submission,
    utcnow,
)
from credflow.errors import PermanentError
from credflow.letters.rules import LEAD_REVIEWER, criterion_results
from credflow.letters.stage import letter_verdicts
from credflow.privacy.identity import find_applicant
from credflow.services import Services
from credflow.states import AssignmentState
from credflow.submissions import events_of

#: The ``format`` field of ``applicant.json``; bump it when the layout changes.
EXPORT_FORMAT = "credflow-applicant-export/1"
#: Said of a file whose bytes the retention sweep deleted.
REMOVED_BY_RETENTION = "removed under the retention policy"
#: Event detail keys that identify reviewers (blind review): never exported.
_REVIEWER_KEYS = frozenset({"reviewer", "assignment"})


class ApplicantErased(PermanentError):
    """The applicant was erased: nothing personal is left to export."""


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    path: Path
    applicant_id: str
    submissions: int
    files: int  # evidence files in the zip
    removed: int  # evidence listed whose bytes are gone (retention)
    bytes: int  # evidence bytes written


@dataclass(frozen=True)
class _File:
    arcname: str
    storage_key: str
    sha256: str
    record: dict[str, Any]  # the entry in applicant.json, completed while streaming


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _arcname(submission_id: str, display_name: str, used: set[str]) -> str:
    # Display names are already safe (credflow.validation.names); keep only the last part anyway.
    name = PurePosixPath(display_name.replace("\\", "/")).name.lstrip(".") or "file"
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem} ({n}).{suffix}" if dot and stem else f"{name} ({n})"
    used.add(candidate)
    return f"evidence/{submission_id}/{candidate}"


def _decision(session: Session, sub: Submission, credential: Credential) -> dict[str, Any] | None:
    decision = session.scalar(select(Decision).where(Decision.submission_id == sub.id))
    if decision is None:
        return None
    # The letter's numbering: reviewers by position ("Reviewer 1"), the adjudicator as "Lead reviewer".
    reviews, adjudication = letter_verdicts(session, sub.id, credential)
    titles = {c.key: c.title for c in credential.criteria}
    try:
        results = criterion_results(credential, decision=decision.criteria, reviews=reviews, adjudication=adjudication)
        criteria = [
            {
                "criterion": r.criterion.key,
                "title": r.criterion.title,
                "verdict": r.verdict.value,
                "comments": [{"by": c.attribution, "text": c.text} for c in r.comments],
            }
            for r in results
        ]
    except KeyError:  # the rubric changed since: the recorded verdicts, without the comment numbering
        criteria = [
            {"criterion": key, "title": titles.get(key, key), "verdict": entry.get("verdict"), "comments": []}
            for key, entry in decision.criteria.items()
        ]
    backread = session.scalar(
        select(Assignment)
        .where(
            Assignment.submission_id == sub.id,
            Assignment.role == "backread",
            Assignment.state == AssignmentState.SUBMITTED,
        )
        .order_by(Assignment.completed_at, Assignment.id)
        .limit(1)
    )
    return {
        "outcome": decision.outcome,
        "decided_at": _iso(decision.decided_at),
        "criteria": criteria,
        "back_read": None
        if backread is None
        else {
            "by": f"{LEAD_REVIEWER} (back-read)",
            "scores": {
                key: {"verdict": score.get("verdict"), "comment": score.get("comment", "")}
                for key, score in (backread.scores or {}).items()
            },
        },
    }


def _actor(actor: str) -> str:
    # "reviewer:<id>" would let exports of several applicants be matched up to one reviewer.
    role, _, _ = actor.partition(":")
    return role


def _event(event: Event) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "kind": event.kind,
        "actor": _actor(event.actor),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "detail": {
            k: v
            for k, v in (event.detail or {}).items()
            # A decline's reason is the reviewer's own business (leave, conflict), not the applicant's.
            if k not in _REVIEWER_KEYS and not (k == "reason" and event.kind == "assignment_declined")
        },
    }


def _evidence(item: EvidenceItem, arcname: str | None) -> dict[str, Any]:
    return {
        "requirement": item.requirement_key,
        "position": item.position,
        "display_name": item.display_name,
        "name_as_sent": item.original_name,
        "sha256": item.sha256,
        "size": item.size,
        "format": item.sniffed_format,
        "mime": item.sniffed_mime,
        "received_at": _iso(item.created_at),
        "problems": [p.get("message") for p in item.validation or ()],
        "file": arcname,
        "removed": None if item.purged_at is None else {"at": _iso(item.purged_at), "why": REMOVED_BY_RETENTION},
    }


def _collect(services: Services, session: Session, applicant: Applicant) -> tuple[dict[str, Any], list[_File]]:
    subs = session.scalars(
        select(Submission)
        .where(Submission.applicant_id == applicant.id)
        .order_by(Submission.credential_id, Submission.created_at, Submission.attempt)
    ).all()
    files: list[_File] = []
    submissions = []
    for sub in subs:
        credential = services.catalog.get(sub.credential_id)
        used: set[str] = set()
        evidence = []
        for item in sub.evidence:
            arcname = _arcname(sub.id, item.display_name, used) if item.purged_at is None else None
            record = _evidence(item, arcname)
            evidence.append(record)
            if arcname is not None:
                files.append(_File(arcname, item.storage_key, item.sha256, record))
        submissions.append(
            {
                "id": sub.id,
                "credential": sub.credential_id,
                "credential_title": credential.title,
                "attempt": sub.attempt,
                "previous": sub.previous_id,
                "state": sub.state,
                "submitted_at": _iso(sub.created_at),
                "state_since": _iso(sub.state_since),
                "answers": dict(sub.answers or {}),
                "problems": list(sub.problems or ()),
                "evidence": evidence,
                "decision": _decision(session, sub, credential),
                "events": [_event(e) for e in events_of(session, sub.id)],
            }
        )
    badges = session.scalars(
        select(IssuedBadge).where(IssuedBadge.applicant_id == applicant.id).order_by(IssuedBadge.valid_from)
    ).all()
    hours = session.scalars(
        select(InServiceHours).where(InServiceHours.applicant_id == applicant.id).order_by(InServiceHours.earned_on)
    ).all()
    messages = session.scalars(
        select(OutgoingMessage).where(OutgoingMessage.recipient == applicant.email).order_by(OutgoingMessage.created_at)
    ).all()
    enrolments = session.scalars(select(Enrolment).where(Enrolment.applicant_id == applicant.id)).all()
    drafts = session.scalars(select(Draft).where(Draft.applicant_id == applicant.id).order_by(Draft.created_at)).all()
    plan = session.scalars(select(PlanTargetRow).where(PlanTargetRow.applicant_id == applicant.id)).all()
    consents = session.scalars(select(CohortConsent).where(CohortConsent.applicant_id == applicant.id)).all()
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(utcnow()),
        "applicant": {
            "id": applicant.id,
            "name": applicant.name,
            "email": applicant.email,
            "organisation": applicant.organisation,
            "first_seen": _iso(applicant.created_at),
        },
        "enrolments": [{"credential": e.credential_id, "enrolled_on": _iso(e.enrolled_on)} for e in enrolments],
        "submissions": submissions,
        "drafts": [
            {
                "credential": d.credential_id,
                "state": d.state,
                "started_at": _iso(d.created_at),
                "updated_at": _iso(d.updated_at),
                "answers": dict(d.answers or {}),
                "files": [{"requirement": f.requirement_key, "name": f.filename, "sha256": f.sha256} for f in d.files],
                "coach_comments": [
                    {"at": _iso(c.created_at), "comment": c.body}
                    for c in session.scalars(
                        select(CoachComment).where(CoachComment.draft_id == d.id).order_by(CoachComment.created_at)
                    )
                ],
            }
            for d in drafts
        ],
        "plan": [
            {"credential": p.credential_id, "requirement": p.requirement_key, "target": _iso(p.target_date)}
            for p in plan
        ],
        # Shown, with name, organisation and address, to others on these micro-credentials who agreed too.
        "cohort_consents": [{"credential": c.credential_id, "agreed_at": _iso(c.consented_at)} for c in consents],
        "badges": [
            {
                "id": b.id,
                "kind": b.kind,
                "badge": b.badge_key,
                "state": b.state,
                "valid_from": _iso(b.valid_from),
                "valid_until": _iso(b.valid_until),
                "revoked_at": _iso(b.revoked_at),
                "revoke_reason": b.revoke_reason,
                "ob3": b.ob3,
                "ob2": (b.ob2 or {}).get("hosted"),
            }
            for b in badges
        ],
        "inservice_hours": [
            {
                "credential": h.credential_id,
                "hours": h.hours,
                "earned_on": _iso(h.earned_on),
                "confirmation": h.confirmation,
            }
            for h in hours
        ],
        "messages": [
            {
                "kind": m.kind,
                "subject": m.subject,
                "state": m.state,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }
    return document, files


def export_applicant(services: Services, email: str, *, out: Path) -> ExportReport:
    """Write one applicant's data to the zip ``out``: ``applicant.json`` and ``evidence/<submission>/<name>``.

    The records are read in one transaction; the files are then streamed from the object store
    chunk by chunk (bounded memory whatever their size), hashed on the way, and each file's entry
    says whether its sha256 still matches the one recorded at intake. Reviewers appear only as
    "Reviewer 1", "Reviewer 2" and "Lead reviewer", as in the result letters. The zip is written
    beside ``out`` and renamed into place, readable by its owner only.

    Args:
        services: The composition root's services.
        email: The applicant's address (compared lower-cased).
        out: The zip file to write (replaced if it exists).

    Returns:
        What was written.

    Raises:
        UnknownApplicant: no applicant has this address.
        ApplicantErased: the applicant was erased; nothing personal is left.
    """
    with services.db.session() as session:
        applicant = find_applicant(session, email, keys=services.settings.keyring)
        if applicant.erased_at is not None:
            raise ApplicantErased(
                f"the applicant with this email was erased on {applicant.erased_at:%Y-%m-%d}; nothing personal is left"
            )
        document, files = _collect(services, session, applicant)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        with partial.open("wb") as raw:
            partial.chmod(0o600)
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    if not services.store.exists(file.storage_key):
                        file.record["file"] = None
                        file.record["removed"] = {"at": None, "why": "missing from storage"}
                        continue
                    digest = hashlib.sha256()
                    # Evidence is mostly compressed already (PDF, JPEG, MP4): stored, not deflated.
                    info = zipfile.ZipInfo(file.arcname, date_time=utcnow().timetuple()[:6])
                    info.compress_type = zipfile.ZIP_STORED
                    with archive.open(info, "w", force_zip64=True) as target:
                        for chunk in services.store.stream(file.storage_key):
                            digest.update(chunk)
                            target.write(chunk)
                            written += len(chunk)
                    file.record["sha256_matches"] = digest.hexdigest() == file.sha256
                archive.writestr("applicant.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    kept = sum(1 for f in files if f.record["file"] is not None)
    listed = sum(len(s["evidence"]) for s in document["submissions"])
    return ExportReport(
        path=out,
        applicant_id=document["applicant"]["id"],
        submissions=len(document["submissions"]),
        files=kept,
        removed=listed - kept,
        bytes=written,
    )
