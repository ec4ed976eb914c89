"""The pre-assessor step: check a submission against its micro-credential's evidence requirements.

The pure checks (:func:`~credflow.validation.rules.check_file`,
:func:`~credflow.validation.rules.check_requirements`) decide from facts; this stage
(:func:`run_validation`) gathers those facts from the stored files (content sniffing,
archive and PDF inspection, the media probe) and records the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from credflow.catalog.models import Credential, EvidenceKind, EvidenceRequirement
from credflow.db.models import EvidenceItem
from credflow.lifecycle import State
from credflow.media.base import MediaProbe, ProbeError
from credflow.services import Services
from credflow.submissions import get_submission, transition
from credflow.validation.inspect import inspect_content
from credflow.validation.names import safe_display_name
from credflow.validation.rules import FileFacts, Problem, SentFile, ValidationOutcome, check_requirements, file_problems
from credflow.validation.sniff import sniff


def inspect_item(services: Services, item: EvidenceItem, requirement: EvidenceRequirement | None) -> FileFacts:
    """Gather the facts about one stored file (reads its bytes; probes media when it could be video)."""
    with services.store.local_path(item.storage_key) as path:
        return inspect_path(
            services,
            path,
            original_name=item.original_name,
            size=item.size,
            sha256=item.sha256,
            requirement=requirement,
        )


def inspect_path(
    services: Services,
    path: Path,
    *,
    original_name: str,
    size: int,
    sha256: str,
    requirement: EvidenceRequirement | None,
) -> FileFacts:
    """Gather the facts about one local file, as :func:`inspect_item` does for a stored one.

    A file larger than its requirement allows is sniffed (its first bytes) but not inspected, so a
    huge file costs no more memory or time than the size check that refuses it. Gold-standard
    imports check their files with it before storing them.
    """
    display = safe_display_name(original_name)
    limit = requirement.max_size_bytes if requirement is not None else None
    sniffed = sniff(path)  # reads the first 64 KiB only
    # A file over its limit is refused for its size: its content is never inspected.
    oversize = limit is not None and size > limit
    findings = [*display.findings, *([] if oversize else inspect_content(path, sniffed))]
    media: MediaProbe | None = None
    error: str | None = None
    wants_video = requirement is not None and requirement.kind is EvidenceKind.VIDEO
    if wants_video and sniffed.kind in ("video", "audio") and not findings and not oversize and size > 0:
        try:
            media = services.media.probe(path)
        except ProbeError as exc:
            error = str(exc)
    return FileFacts(
        original_name=original_name,
        display_name=display.name,
        size=size,
        sha256=sha256,
        sniffed=sniffed,
        findings=tuple(findings),
        probe=media,
        probe_error=error,
    )


def run_validation(
    services: Services, submission_id: str, *, actor: str = "pre-assessor", now: datetime | None = None
) -> ValidationOutcome:
    """Validate one submission and move it to returned, transcoding or awaiting_review (at ``now``, for tests).

    Each file's result is saved as soon as it is known, so a re-run after a crash
    inspects only the files not yet done; a submission already past validation is
    reported as it stands.
    """
    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        credential = services.catalog.get(sub.credential_id)
        if sub.state == State.RECEIVED:
            transition(session, sub, State.VALIDATING, actor=actor, now=now)
        elif sub.state != State.VALIDATING:
            return _outcome_as_recorded(sub.state, sub.problems, credential, sub.evidence)
        pending = [item.id for item in sub.evidence if item.validation is None]

    for item_id in pending:
        with services.db.session() as session:
            item = session.get_one(EvidenceItem, item_id)
            requirement = credential.requirement(item.requirement_key)
            facts = inspect_item(services, item, requirement)
            problems = file_problems(requirement, facts)
            item.display_name = facts.display_name
            item.sniffed_format = facts.sniffed.format
            item.sniffed_mime = facts.sniffed.mime
            item.media_probe = facts.probe.to_json() if facts.probe else None
            item.validation = [p.to_json() for p in problems]

    with services.db.session() as session:
        sub = get_submission(session, submission_id)
        files = [
            SentFile(
                item.requirement_key,
                item.display_name,
                item.sha256,
                tuple(Problem.from_json(p) for p in item.validation or ()),
            )
            for item in sub.evidence
        ]
        problems = check_requirements(credential, answers=sub.answers, files=files)
        videos = _video_count(credential, sub.evidence)
        if problems:
            sub.problems = [p.to_json() for p in problems]
            target = State.RETURNED
        else:
            target = State.TRANSCODING if videos else State.AWAITING_REVIEW
        transition(session, sub, target, actor=actor, detail={"problems": len(problems), "videos": videos}, now=now)
        return ValidationOutcome(target, tuple(problems), videos)


def _video_count(credential: Credential, items: Sequence[EvidenceItem]) -> int:
    kinds = {req.key: req.kind for req in credential.evidence}
    return sum(1 for item in items if kinds.get(item.requirement_key) is EvidenceKind.VIDEO)


def _outcome_as_recorded(
    state: str, problems: list[Any], credential: Credential, items: Sequence[EvidenceItem]
) -> ValidationOutcome:
    return ValidationOutcome(
        State(state), tuple(Problem.from_json(p) for p in problems or ()), _video_count(credential, items)
    )
