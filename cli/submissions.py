"""``credflow submit``, ``run``, ``status`` and ``demo``: submissions from the command line."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, fail, load_services
from credflow.errors import CredflowError
from credflow.intake.rules import MAX_ANSWERS_BYTES, ApplicantInfo, IntakeRequest, IntakeResult, Upload, parse_answers
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.services import Services

#: States in which the submission flow still has work to do for an attempt.
FLOW_STATES = {State.RECEIVED, State.VALIDATING, State.TRANSCODING}


def read_answers(path: Path | None) -> dict[str, Any]:
    """The answers file as a mapping, read only when its size is within the cap (YAML or JSON)."""
    if path is None:
        return {}
    if not path.is_file():  # a folder, a device (/dev/zero) or a pipe that might never end
        raise CredflowError(f"answers file {path}: not a regular file")
    try:
        with path.open("rb") as fh:
            # Read one byte past the cap rather than trusting stat(): a pipe or a growing file has no size.
            data = fh.read(MAX_ANSWERS_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredflowError(f"answers file {path}: cannot be read: {exc}") from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise CredflowError(
            f"answers file {path}: larger than {MAX_ANSWERS_BYTES // 1024} KB; written answers fit in far less"
        )
    return parse_answers(text, source=f"answers file {path}", yaml_too=True)


def parse_evidence(values: list[str]) -> list[tuple[str, Path]]:
    pairs = []
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise CredflowError(f"--evidence {value!r}: use KEY=PATH, e.g. lesson_plan=plan.pdf")
        file = Path(path).expanduser()
        if not file.is_file():
            raise CredflowError(f"--evidence {value!r}: no such file {file}")
        pairs.append((key.strip(), file))
    return pairs


def run_flow_for(services: Services, submission_id: str) -> str:
    """Run the submission flow in this process (Prefect is imported only here)."""
    from cli.launch import run_in_process
    from flows.submission import run_submission

    return str(run_in_process(services, lambda: run_submission(submission_id)))


def submit_files(
    services: Services,
    *,
    applicant: ApplicantInfo,
    credential_id: str,
    answers: dict[str, Any],
    evidence: list[tuple[str, Path]],
    idempotency_key: str | None = None,
    enrolled_on: date | None = None,
    run: bool = True,
) -> tuple[IntakeResult, str]:
    """Submit local files through intake, then run the flow if the attempt still needs it."""
    handles = [path.open("rb") for _, path in evidence]
    try:
        request = IntakeRequest(
            applicant=applicant,
            credential_id=credential_id,
            answers=answers,
            # The local path is the sender's business: only the file's own name is sent.
            uploads=[Upload(key, path.name, handle) for (key, path), handle in zip(evidence, handles, strict=True)],
            idempotency_key=idempotency_key,
            enrolled_on=enrolled_on,
        )
        result = submit(services, request)
    finally:
        for handle in handles:
            handle.close()
    state = result.state
    if run and State(state) in FLOW_STATES:
        state = run_flow_for(services, result.submission_id)
    return result, state


def _problems(services: Services, submission_id: str) -> list[dict[str, Any]]:
    from credflow.submissions import get_submission

    with services.db.session() as session:
        return list(get_submission(session, submission_id).problems or [])


def submit_command(
    name: Annotated[str, typer.Option(help="Applicant's full name.")],
    email: Annotated[str, typer.Option(help="Applicant's email address (their identity).")],
    organisation: Annotated[str, typer.Option(help="Applicant's school, district or organisation.")],
    credential: Annotated[str, typer.Option(help="Micro-credential id (see `credflow catalog list`).")],
    answers: Annotated[Path | None, typer.Option(help="YAML or JSON file of written answers by question key.")] = None,
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", "-e", help="KEY=PATH of one evidence file; repeat.")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Client key: the same key is the same submission.")
    ] = None,
    enrolled_on: Annotated[str | None, typer.Option(help="Enrolment date YYYY-MM-DD (default: today).")] = None,
    run: Annotated[bool, typer.Option(help="Run validation and transcoding now.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Submit evidence for one micro-credential (idempotent)."""
    try:
        enrolled = date.fromisoformat(enrolled_on) if enrolled_on else None
    except ValueError as exc:
        fail(f"--enrolled-on: {exc}")
    try:
        services = load_services()
        result, state = submit_files(
            services,
            applicant=ApplicantInfo(name=name, email=email, organisation=organisation),
            credential_id=credential,
            answers=read_answers(answers),
            evidence=parse_evidence(evidence or []),
            idempotency_key=idempotency_key,
            enrolled_on=enrolled,
            run=run,
        )
        problems = _problems(services, result.submission_id)
    except CredflowError as exc:
        fail(str(exc))
    payload = {**result.to_json(), "state": state, "problems": problems}
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    verb = "recorded" if result.created else "already recorded"
    console.print(
        f"Submission [bold]{result.submission_id}[/] {verb}: attempt {result.attempt}, state [bold]{state}[/]"
    )
    for problem in problems:
        console.print(f"  - {problem['message']}\n    [dim]what to do:[/] {problem['fix']}")


def run_command(submission_id: str) -> None:
    """Run (or re-run) the submission flow; finished stages are not redone."""
    from credflow.submissions import resolve_id

    try:
        services = load_services()
        with services.db.session() as session:
            full = resolve_id(session, submission_id)
        state = run_flow_for(services, full)
    except CredflowError as exc:
        fail(str(exc))
    console.print(f"{full}: {state}")


def status_command(submission_id: Annotated[str | None, typer.Argument()] = None) -> None:
    """List submissions by state, or print one submission's timeline."""
    from sqlalchemy import select

    from credflow.calendar import business_days_between
    from credflow.db.models import Submission, utcnow
    from credflow.lifecycle import ACTIVE
    from credflow.reports.rules import submission_markdown
    from credflow.submissions import events_of, resolve_id, view

    try:
        services = load_services()
        with services.db.session() as session:
            if submission_id:
                full = resolve_id(session, submission_id)
                console.print(submission_markdown(view(session, full), events_of(session, full)))
                return
            rows = session.scalars(select(Submission).order_by(Submission.state, Submission.created_at)).all()
            table = Table("state", "submission", "credential", "attempt", "applicant", "since", "age / target")
            now = utcnow()
            for sub in rows:
                target = services.catalog.get(sub.credential_id).decision_target_business_days
                age = business_days_between(sub.created_at, now)
                late = State(sub.state) in ACTIVE and age > target
                table.add_row(
                    sub.state,
                    sub.id,
                    sub.credential_id,
                    str(sub.attempt),
                    sub.applicant.email,
                    f"{sub.state_since:%Y-%m-%d %H:%M}",
                    f"{'[red]' if late else ''}{age}/{target} business days{' LATE[/]' if late else ''}",
                )
    except CredflowError as exc:
        fail(str(exc))
    console.print(table)


def demo_command(
    workdir: Annotated[Path | None, typer.Option(help="Where to generate sample evidence.")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print every step and Prefect's logs (default: progress, logs to a file).")
    ] = False,
) -> None:
    """Generate sample evidence, submit a demo cohort end to end and print the outcomes."""
    from cli.demo import run_demo

    try:
        services = load_services()
        run_demo(
            services,
            workdir=workdir or services.settings.data_dir / "demo-inputs",
            console=console,
            verbose=verbose,
        )
    except CredflowError as exc:
        fail(str(exc))
