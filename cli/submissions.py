"""``credflow submit``, ``run``, ``status`` and ``demo``: submissions from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import console, fail, load_services
from credflow.errors import CredflowError
from credflow.formatting import human_size
from credflow.intake.rules import (
    MAX_ANSWERS_BYTES,
    ApplicantInfo,
    IntakeInvalid,
    IntakeRequest,
    IntakeResult,
    Upload,
    check_keys,
    parse_answers,
)
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.services import Services

if TYPE_CHECKING:
    from credflow.db.models import Assignment

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


def check_catalog_keys(
    services: Services, credential_id: str, *, answers: Iterable[str], evidence: list[tuple[str, Path]]
) -> None:
    """Refuse keys the credential does not ask for before a byte is sent, naming the keys it does."""
    credential = services.catalog.get(credential_id)
    try:
        check_keys(credential, answers=answers, files=[key for key, _ in evidence])
    except IntakeInvalid as exc:
        raise IntakeInvalid(f"{exc}. Nothing was sent; see `credflow catalog show {credential.id}`") from None


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
    check_catalog_keys(services, credential_id, answers=answers, evidence=evidence)
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
        # Text, not markup: messages quote the applicant's file names.
        console.print(Text.assemble(f"  - {problem['message']}\n    ", ("what to do:", "dim"), f" {problem['fix']}"))


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


#: How the timeline names an assignment's role (reviews are numbered in the order they were assigned).
ROLE_LABELS = {"adjudication": "lead adjudicator", "backread": "lead back-reader"}


def reviewer_labels(assignments: Sequence[Assignment]) -> tuple[dict[str, str], dict[str, str]]:
    """Each assignment and each reviewer of one submission as "reviewer 1 (Rosa Diaz)", "lead adjudicator (Ola Berg)".

    The CLI is the operator's tool, so reviewers are named; oldest assignment first.

    Returns:
        Labels by assignment id and by reviewer id (a reviewer's first assignment names them).
    """
    by_assignment: dict[str, str] = {}
    by_reviewer: dict[str, str] = {}
    reviews = 0
    for assignment in sorted(assignments, key=lambda a: (a.assigned_at, a.id)):
        if assignment.role == "review":
            reviews += 1
            role = f"reviewer {reviews}"
        else:
            role = ROLE_LABELS.get(assignment.role, assignment.role)
        label = f"{role} ({assignment.reviewer.name})"
        by_assignment[assignment.id] = label
        by_reviewer.setdefault(assignment.reviewer_id, label)
    return by_assignment, by_reviewer


def _detail(detail: dict[str, Any], *, who: str, by_assignment: dict[str, str], by_reviewer: dict[str, str]) -> str:
    """An event's detail in words: assignments and reviewers by role and name, lists joined, dates short."""
    parts = []
    for key, value in sorted(detail.items()):
        if key == "assignment" and isinstance(value, str):
            label = by_assignment.get(value, value[:8])
            if label != who:  # a reviewer's own event names them already
                parts.append(label)
            continue
        if key == "reviewer" and isinstance(value, str):
            if "assignment" not in detail:
                parts.append(by_reviewer.get(value, value))
            continue
        if key in ("decision", "next", "previous") and isinstance(value, str):
            shown = value[:8]
        elif key == "due" and isinstance(value, str):
            try:
                shown = f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"
            except ValueError:
                shown = value
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(item) for item in value) or "none"
        else:
            shown = "none" if value is None else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return ", ".join(parts)


def print_status(services: Services, submission_id: str) -> None:
    """One submission for a terminal: state, applicant, evidence, problems, and its timeline with reviewers by role."""
    from sqlalchemy import select

    from credflow.db.models import Assignment
    from credflow.submissions import events_of, view

    with services.db.session() as session:
        sub = view(session, submission_id)
        events = events_of(session, submission_id)
        by_assignment, by_reviewer = reviewer_labels(
            session.scalars(select(Assignment).where(Assignment.submission_id == submission_id)).all()
        )
    # Text, never markup or Markdown: names, file names and messages are printed exactly as written.
    title = services.catalog.credentials.get(sub.credential_id)
    console.print(Text(f"{title.title if title else sub.credential_id} · attempt {sub.attempt}", style="bold"))
    console.print(
        Text.assemble(
            "state ",
            (sub.state.value, "bold"),
            f" since {sub.state_since:%Y-%m-%d %H:%M} UTC\n",
            f"applicant {sub.applicant_name} ({sub.organisation}), {sub.applicant_email}\n",
            f"submission {sub.id}" + (f", follows {sub.previous_id}" if sub.previous_id else ""),
        )
    )
    evidence = Table("requirement", "file", "format", "size", "duration", "check", title=Text("Evidence"))
    for item in sub.evidence:
        cells = (
            item.requirement_key,
            item.display_name,
            item.sniffed_format or "?",
            human_size(item.size),
            f"{item.duration:.1f} s" if item.duration else "",
            "; ".join(item.problems) if item.problems else "ok",
        )
        evidence.add_row(*(Text(cell) for cell in cells))
    if not sub.evidence:
        evidence.add_row(Text("(answers only)"), *(Text("") for _ in range(5)))
    console.print(evidence)
    if sub.problems:
        console.print(Text("Returned to the applicant:", style="bold"))
        for problem in sub.problems:
            console.print(Text(f"  - {problem.get('requirement', '')}: {problem['message']}"))
    timeline = Table("time (UTC)", "who", "event", "detail", title=Text("Timeline"))
    for event in events:
        who = event.actor
        kind, _, actor_id = event.actor.partition(":")
        if kind == "reviewer":
            who = by_reviewer.get(actor_id, "reviewer")
        elif kind == "applicant":
            who = "applicant"
        what = f"{event.from_state or '·'} → {event.to_state}" if event.to_state else event.kind.replace("_", " ")
        detail = _detail(event.detail, who=who, by_assignment=by_assignment, by_reviewer=by_reviewer)
        timeline.add_row(Text(f"{event.at:%Y-%m-%d %H:%M:%S}"), Text(who), Text(what), Text(detail))
    console.print(timeline)


def status_command(submission_id: Annotated[str | None, typer.Argument()] = None) -> None:
    """List submissions by state, or print one submission's timeline."""
    from sqlalchemy import select

    from credflow.db.models import Submission, utcnow
    from credflow.lifecycle import ACTIVE
    from credflow.submissions import resolve_id

    try:
        services = load_services()
        if submission_id:
            with services.db.session() as session:
                full = resolve_id(session, submission_id)
            print_status(services, full)
            return
        with services.db.session() as session:
            rows = session.scalars(select(Submission).order_by(Submission.state, Submission.created_at)).all()
            table = Table("state", "submission", "credential", "attempt", "applicant", "since", "age / target")
            now = utcnow()
            for sub in rows:
                target = services.catalog.get(sub.credential_id).decision_target_business_days
                age = services.calendar_for(sub.credential_id).business_days_between(sub.created_at, now)
                late = State(sub.state) in ACTIVE and age > target
                cells = (sub.state, sub.id, sub.credential_id, str(sub.attempt), sub.applicant.email)
                table.add_row(
                    *(Text(cell) for cell in cells),
                    Text(f"{sub.state_since:%Y-%m-%d %H:%M}"),
                    Text(f"{age}/{target} business days{' LATE' if late else ''}", style="red" if late else ""),
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
