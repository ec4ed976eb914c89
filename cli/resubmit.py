"""``credflow resubmit`` and ``credflow unlock``: the "not yet" branch from the command line."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from cli.common import console, fail, load_services
from cli.submissions import FLOW_STATES, check_catalog_keys, parse_evidence, read_answers, run_flow_for
from credflow.errors import CredflowError
from credflow.intake.rules import ApplicantInfo, CarryOver, IntakeRequest, IntakeResult, Upload
from credflow.intake.stage import submit
from credflow.services import Services


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resubmit_files(
    services: Services,
    previous_id: str,
    *,
    answers: dict[str, Any] | None,
    evidence: list[tuple[str, Path]],
) -> tuple[IntakeResult, int]:
    """Start the next attempt after ``previous_id``: files unchanged since then are carried over, not sent.

    Returns:
        The intake result and how many files were carried over.
    """
    from credflow.db.models import EvidenceItem
    from credflow.submissions import get_submission, resolve_id

    with services.db.session() as session:
        previous_id = resolve_id(session, previous_id)
        previous = get_submission(session, previous_id)
        who = ApplicantInfo(previous.applicant.name, previous.applicant.email, previous.applicant.organisation)
        credential_id = previous.credential_id
        old_answers = dict(previous.answers)
        known = {
            (item.requirement_key, item.sha256)
            for item in session.scalars(select(EvidenceItem).where(EvidenceItem.submission_id == previous_id))
        }
    check_catalog_keys(services, credential_id, answers=answers or {}, evidence=evidence)
    carried: list[CarryOver] = []
    uploads: list[tuple[str, Path]] = []
    for key, path in evidence:
        sha = _sha256(path)
        if (key, sha) in known:
            carried.append(CarryOver(key, sha))
        else:
            uploads.append((key, path))
    handles = [path.open("rb") for _, path in uploads]
    try:
        request = IntakeRequest(
            applicant=who,
            credential_id=credential_id,
            answers=old_answers if answers is None else answers,
            uploads=[Upload(key, path.name, h) for (key, path), h in zip(uploads, handles, strict=True)],
            carried=carried,
            previous_id=previous_id,
        )
        return submit(services, request), len(carried)
    finally:
        for handle in handles:
            handle.close()


def resubmit_command(
    previous: Annotated[str, typer.Argument(help="The 'not yet' submission this attempt follows.")],
    answers: Annotated[Path | None, typer.Option(help="Revised answers (default: the previous ones).")] = None,
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", "-e", help="KEY=PATH; repeat for every file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Resubmit after "not yet": list every file; those unchanged since the last attempt are not sent again."""
    from credflow.lifecycle import State

    try:
        services = load_services()
        result, carried = resubmit_files(
            services,
            previous,
            answers=read_answers(answers) if answers else None,
            evidence=parse_evidence(evidence or []),
        )
        state = result.state
        if State(state) in FLOW_STATES:
            state = run_flow_for(services, result.submission_id)
    except CredflowError as exc:
        fail(str(exc))
    payload = {**result.to_json(), "state": state, "carried_over": carried}
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    console.print(
        f"attempt {result.attempt} ({result.submission_id}) follows {result.previous_id}: "
        f"{carried} file(s) carried over; state {state}"
    )


def unlock_command(
    submission: str, reason: Annotated[str, typer.Option(help="Why (e.g. coaching meeting held on ...).")]
) -> None:
    """Reopen a closed chain for one more attempt; logged with the reason."""
    from credflow.resubmission.stage import unlock
    from credflow.submissions import resolve_id

    try:
        services = load_services()
        with services.db.session() as session:
            full = resolve_id(session, submission)
        unlock(services, full, reason=reason)
    except (ValueError, CredflowError) as exc:
        fail(str(exc))
    console.print(f"{full} unlocked: one more attempt allowed")
