"""Reports' pure rules: the program report's rows and summaries, and the operator's view of one submission.

Program reports say where every enrolled educator stands on each micro-credential, and how fast decisions come.
One row per educator (applicant) and micro-credential of a program, with the status of the
latest attempt, how long it has been in that state and what a program admin can do to help,
in the words of the program admin's guide. Lifecycle states map to report statuses so:

================================================  ===============
lifecycle state of the latest attempt             report status
================================================  ===============
(enrolled, nothing submitted)                     ``not_started``
``withdrawn``                                     ``not_started`` (nothing is in progress; start again)
``returned``                                      ``returned``
``received``, ``validating``, ``transcoding``,    ``submitted``
``awaiting_review``, ``failed``                   (``failed`` is the operator's to fix; the
                                                  educator's evidence is in)
``in_review``, ``adjudicating``                   ``in_review``
``not_yet``, ``closed``                           ``not_yet`` (``closed``: no attempts left, the
                                                  action says to ask an operator to reopen one)
``earned``                                        ``earned``
================================================  ===============

A ``resubmitted`` attempt always has a later attempt, which is the one reported.

The operator's view of one submission is a markdown summary (state, evidence, problems, timeline) for
the Prefect UI artifact, in which the applicant's own words render as literal text.
"""

from __future__ import annotations

import csv
import io
import statistics
import string
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from credflow.calendar import BusinessCalendar, Calendars
from credflow.catalog.models import Credential
from credflow.db.models import Applicant, Enrolment, Event, Submission
from credflow.issuance.hours import FORMULA_TRIGGERS
from credflow.lifecycle import State
from credflow.submissions import SubmissionView

#: The program of micro-credentials that are no longer in the catalog (their rows are kept, not dropped).
UNLISTED_PROGRAM = "(not in catalog)"
#: The decision target of a micro-credential no longer in the catalog (the catalog's default).
DEFAULT_TARGET_BUSINESS_DAYS = 5


class ReportStatus(StrEnum):
    """Where an educator stands on one micro-credential, as a program admin sees it."""

    NOT_STARTED = "not_started"
    RETURNED = "returned"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NOT_YET = "not_yet"
    EARNED = "earned"

    @property
    def label(self) -> str:
        """The status as shown on the page."""
        return STATUS_LABELS[self]


STATUS_LABELS: dict[ReportStatus, str] = {
    ReportStatus.NOT_STARTED: "Not started",
    ReportStatus.RETURNED: "Returned",
    ReportStatus.SUBMITTED: "Submitted",
    ReportStatus.IN_REVIEW: "In review",
    ReportStatus.NOT_YET: "Not yet",
    ReportStatus.EARNED: "Earned",
}

#: Lifecycle state of the latest attempt -> report status (see the module docstring).
STATUS_OF_STATE: dict[State, ReportStatus] = {
    State.RECEIVED: ReportStatus.SUBMITTED,
    State.VALIDATING: ReportStatus.SUBMITTED,
    State.TRANSCODING: ReportStatus.SUBMITTED,
    State.AWAITING_REVIEW: ReportStatus.SUBMITTED,
    State.FAILED: ReportStatus.SUBMITTED,
    State.RETURNED: ReportStatus.RETURNED,
    State.IN_REVIEW: ReportStatus.IN_REVIEW,
    State.ADJUDICATING: ReportStatus.IN_REVIEW,
    State.NOT_YET: ReportStatus.NOT_YET,
    State.CLOSED: ReportStatus.NOT_YET,
    State.EARNED: ReportStatus.EARNED,
    State.WITHDRAWN: ReportStatus.NOT_STARTED,
    State.RESUBMITTED: ReportStatus.SUBMITTED,  # never the latest attempt; listed so every state maps
}

#: The program admin guide's recommended action per status (``{days}``: the decision target).
ACTIONS: dict[ReportStatus, str] = {
    ReportStatus.NOT_STARTED: "Getting started: plan which evidence to collect and when",
    ReportStatus.RETURNED: "Help with creating and capturing evidence",
    ReportStatus.SUBMITTED: "Recognise the effort: the evidence is uploaded",
    ReportStatus.IN_REVIEW: "Nothing to do: reviewers decide within {days} business days",
    ReportStatus.NOT_YET: "Give feedback on the evidence before resubmitting",
    ReportStatus.EARNED: "Celebrate the accomplishment",
}
#: The action for a closed chain: the guide's "Lend an ear", and how attempts reopen.
CLOSED_ACTION = "Lend an ear: no attempts left; ask an operator to reopen one"

#: Columns of :meth:`ProgramReport.to_rows` and the CSV, in order.
COLUMNS: tuple[str, ...] = (
    "program",
    "organisation",
    "educator",
    "email",
    "credential_id",
    "credential",
    "status",
    "state",
    "attempt",
    "days_in_state",
    "action",
)

Cell = str | int


@dataclass(frozen=True)
class EducatorStatus:
    """One educator's standing on one micro-credential of a program."""

    program: str
    organisation: str
    educator: str
    email: str
    credential_id: str
    credential_title: str
    status: ReportStatus
    state: str  # the latest attempt's lifecycle state, or "enrolled" when nothing was submitted
    attempt: int  # 0 when nothing was submitted
    days_in_state: int
    action: str

    def to_row(self) -> dict[str, Cell]:
        """The row as column name -> value (the CSV's and the artifact's columns)."""
        return {
            "program": self.program,
            "organisation": self.organisation,
            "educator": self.educator,
            "email": self.email,
            "credential_id": self.credential_id,
            "credential": self.credential_title,
            "status": self.status.value,
            "state": self.state,
            "attempt": self.attempt,
            "days_in_state": self.days_in_state,
            "action": self.action,
        }


@dataclass(frozen=True)
class DecisionTimes:
    """How fast a program's submissions were decided, in business days from receipt to decision."""

    decided: int
    median_business_days: float | None  # None when nothing was decided
    within_target: int
    target_business_days: str  # "5", or "3-5" when the program's credentials differ

    @property
    def share_within_target(self) -> float | None:
        """The share (0 to 1) decided within their credential's target; None when nothing was decided."""
        return None if self.decided == 0 else self.within_target / self.decided


@dataclass(frozen=True)
class ProgramSection:
    """One program: every educator's status on its micro-credentials and its decision times."""

    program: str
    credentials: tuple[str, ...]  # credential ids, sorted
    rows: tuple[EducatorStatus, ...]
    decision_times: DecisionTimes

    def counts(self) -> dict[ReportStatus, int]:
        """Rows per status, every status present (zero when none)."""
        found = dict.fromkeys(ReportStatus, 0)
        for row in self.rows:
            found[row.status] += 1
        return found


@dataclass(frozen=True)
class ProgramReport:
    """Every program's section, as of ``generated_at``."""

    generated_at: datetime
    programs: tuple[ProgramSection, ...]

    def counts(self) -> dict[str, int]:
        """Rows per status over every program (status value -> count), plus ``"educators"`` in all."""
        totals = {status.value: 0 for status in ReportStatus}
        for section in self.programs:
            for status, count in section.counts().items():
                totals[status.value] += count
        totals["educators"] = len({row.email for section in self.programs for row in section.rows})
        return totals

    def to_rows(self) -> list[dict[str, Cell]]:
        """Every row of every program, as column name -> value, in :data:`COLUMNS` order."""
        return [row.to_row() for section in self.programs for row in section.rows]

    def to_csv(self) -> str:
        """The rows as CSV (RFC 4180, CRLF line ends), header first.

        Cells a spreadsheet would read as a formula get a leading single quote, as the hours export does.

        Returns:
            The CSV text.
        """
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in self.to_rows():
            writer.writerow([_safe_cell(row[column]) for column in COLUMNS])
        return buffer.getvalue()


def _organisation_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class ReportScope:
    """The rows one person may see: those of their organisations and/or programs, or everything.

    A program admin scoped to organisations sees those organisations' educators in every
    program; scoped to programs, every educator of those programs; scoped to both, the
    organisations' educators in those programs. Organisation names match whatever their case
    and spacing. The empty scope sees nothing.
    """

    organisations: frozenset[str] = frozenset()
    programs: frozenset[str] = frozenset()
    all_rows: bool = False

    @classmethod
    def everything(cls) -> ReportScope:
        """The operator's scope: every program, every organisation."""
        return cls(all_rows=True)

    def shows_program(self, program: str) -> bool:
        """Whether the program gets a section at all."""
        if self.all_rows:
            return True
        if self.programs:
            return program in self.programs
        return bool(self.organisations)

    def allows(self, *, program: str, organisation: str) -> bool:
        """Whether an educator of ``organisation`` in ``program`` is in scope."""
        if self.all_rows:
            return True
        if not self.shows_program(program):
            return False
        if not self.organisations:
            return True
        return _organisation_key(organisation) in {_organisation_key(o) for o in self.organisations}


def _safe_cell(value: Cell) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def action_for(status: ReportStatus, *, state: str, target_business_days: int) -> str:
    """The recommended action for a status, from the program admin guide.

    Args:
        status: The report status.
        state: The latest attempt's lifecycle state (a closed chain gets its own action).
        target_business_days: The credential's decision target, quoted for work in review.

    Returns:
        A short sentence for the program admin.
    """
    if state == State.CLOSED.value:
        return CLOSED_ACTION
    return ACTIONS[status].format(days=target_business_days)


def _days(since: datetime | date, now: datetime) -> int:
    if isinstance(since, datetime):
        return max(0, (now - since).days)
    return max(0, (now.date() - since).days)


def _target_text(targets: set[int]) -> str:
    if not targets:
        return str(DEFAULT_TARGET_BUSINESS_DAYS)
    low, high = min(targets), max(targets)
    return str(low) if low == high else f"{low}-{high}"


def build_report(
    *,
    catalog: Mapping[str, Credential],
    applicants: Mapping[str, Applicant],
    enrolments: Iterable[Enrolment],
    submissions: Iterable[Submission],
    decided: Iterable[tuple[datetime, datetime, str, str]],
    now: datetime,
    scope: ReportScope,
    calendars: Calendars,
) -> ProgramReport:
    """Build the program report from rows already read (see :func:`credflow.reports.stage.program_report`).

    Every program in the catalog gets a section (empty when nobody enrolled). Pairs of
    educator and micro-credential come from enrolments and submissions; the latest attempt
    (by receipt, then attempt number) gives the status.

    Args:
        catalog: The catalog's micro-credentials by id.
        applicants: Every applicant by id.
        enrolments: Every enrolment.
        submissions: Every submission, oldest first (by receipt, then attempt number).
        decided: ``(decided_at, received_at, credential_id, applicant_id)`` of every decision.
        now: The moment the report is made (aware UTC), for days in state.
        scope: Whose rows to keep; decision times count only the scope's submissions.
        calendars: The business calendars decision times are counted in (each credential's issuer's).

    Returns:
        The report, programs sorted by id, rows by organisation, educator and micro-credential.
    """
    latest: dict[tuple[str, str], Submission] = {}
    for item in submissions:  # ordered oldest first: the last one seen is the latest
        pair = (item.applicant_id, item.credential_id)
        if item.state != State.RESUBMITTED.value or pair not in latest:
            latest[pair] = item
    enrolled: dict[tuple[str, str], date] = {(e.applicant_id, e.credential_id): e.enrolled_on for e in enrolments}

    def program_of(credential_id: str) -> str:
        credential = catalog.get(credential_id)
        return UNLISTED_PROGRAM if credential is None else credential.program

    def target_of(credential_id: str) -> int:
        credential = catalog.get(credential_id)
        return DEFAULT_TARGET_BUSINESS_DAYS if credential is None else credential.decision_target_business_days

    def calendar_of(credential_id: str) -> BusinessCalendar:
        credential = catalog.get(credential_id)
        return calendars.region if credential is None else calendars.for_issuer(credential.issuer.id)

    rows: dict[str, list[EducatorStatus]] = defaultdict(list)
    for pair in sorted(set(enrolled) | set(latest)):
        applicant_id, credential_id = pair
        applicant = applicants[applicant_id]
        if not scope.allows(program=program_of(credential_id), organisation=applicant.organisation):
            continue
        credential: Credential | None = catalog.get(credential_id)
        submission = latest.get(pair)
        if submission is None:
            status, state, attempt = ReportStatus.NOT_STARTED, "enrolled", 0
            days = _days(enrolled[pair], now)
        else:
            state, attempt = submission.state, submission.attempt
            status = STATUS_OF_STATE[State(state)]
            days = _days(submission.state_since, now)
        rows[program_of(credential_id)].append(
            EducatorStatus(
                program=program_of(credential_id),
                organisation=applicant.organisation,
                educator=applicant.name,
                email=applicant.email,
                credential_id=credential_id,
                credential_title=credential_id if credential is None else credential.title,
                status=status,
                state=state,
                attempt=attempt,
                days_in_state=days,
                action=action_for(status, state=state, target_business_days=target_of(credential_id)),
            )
        )

    durations: dict[str, list[tuple[int, int]]] = defaultdict(list)  # program -> (business days, target)
    for decided_at, received_at, credential_id, applicant_id in decided:
        organisation = applicants[applicant_id].organisation if applicant_id in applicants else ""
        if not scope.allows(program=program_of(credential_id), organisation=organisation):
            continue
        durations[program_of(credential_id)].append(
            (calendar_of(credential_id).business_days_between(received_at, decided_at), target_of(credential_id))
        )

    credentials_of: dict[str, set[str]] = defaultdict(set)
    for credential_id, credential in catalog.items():
        credentials_of[credential.program].add(credential_id)
    for program, program_rows in rows.items():
        credentials_of[program].update(row.credential_id for row in program_rows)

    sections = []
    for program in sorted(credentials_of):
        if not scope.shows_program(program):
            continue
        times = durations.get(program, [])
        sections.append(
            ProgramSection(
                program=program,
                credentials=tuple(sorted(credentials_of[program])),
                rows=tuple(
                    sorted(
                        rows.get(program, []),
                        key=lambda r: (r.organisation.casefold(), r.educator.casefold(), r.credential_title, r.email),
                    )
                ),
                decision_times=DecisionTimes(
                    decided=len(times),
                    median_business_days=float(statistics.median(d for d, _ in times)) if times else None,
                    within_target=sum(1 for d, target in times if d <= target),
                    target_business_days=_target_text({target_of(c) for c in credentials_of[program]}),
                ),
            )
        )
    return ProgramReport(generated_at=now, programs=tuple(sections))


# CommonMark lets a backslash escape exactly the ASCII punctuation, and every one of them can start markup
# somewhere (links, images, emphasis, code, HTML, entities, tables, autolinks like https: or www.).
_ESCAPED = {ord(char): "\\" + char for char in string.punctuation}
# Direction overrides and isolates can make a cell read as something else; control characters have no business.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _cell(text: object) -> str:
    """Applicant-controlled text as literal markdown on one line: nothing in it renders as markup or a link."""
    clean = "".join(c for c in " ".join(str(text).split()) if c not in _BIDI and unicodedata.category(c) != "Cc")
    # One pass over the characters: each is escaped once, so a backslash in the text cannot undo an escape.
    return clean.translate(_ESCAPED)


@dataclass(frozen=True)
class SubmissionSummary:
    """What the operator artifact of one submission shows: its key, markdown, one-line description and state."""

    key: str
    markdown: str
    description: str
    state: str


def artifact_key(submission_id: str) -> str:
    """The artifact key of one submission (Prefect keys: lowercase letters, digits, dashes)."""
    return f"submission-{submission_id.lower()}"


def submission_markdown(view: SubmissionView, events: Sequence[Event]) -> str:
    """Render a submission's state, evidence, problems and timeline as markdown."""
    lines = [
        f"# {view.credential_id} · {view.short_id} · attempt {view.attempt}",
        "",
        f"**State:** `{view.state}` since {view.state_since:%Y-%m-%d %H:%M:%S} UTC  ",
        f"**Applicant:** {_cell(view.applicant_name)} ({_cell(view.organisation)})  ",
        f"**Submission id:** `{view.id}`" + (f" (follows `{view.previous_id}`)" if view.previous_id else ""),
        "",
        "## Evidence",
        "",
        "| requirement | file | format | size | duration | check |",
        "|---|---|---|---|---|---|",
    ]
    for item in view.evidence:
        duration = f"{item.duration:.1f} s" if item.duration else ""
        check = "; ".join(_cell(p) for p in item.problems) if item.problems else "ok"
        lines.append(
            f"| {item.requirement_key} | {_cell(item.display_name)} | {item.sniffed_format or '?'} | "
            f"{item.size:,} B | {duration} | {check} |"
        )
    if not view.evidence:
        lines.append("| (answers only) | | | | | |")
    if view.problems:
        lines += ["", "## Returned to the applicant", ""]
        lines += [f"- **{_cell(p.get('requirement', ''))}** {_cell(p['message'])}" for p in view.problems]
    lines += ["", "## Timeline", "", "| time (UTC) | actor | event | detail |", "|---|---|---|---|"]
    for event in events:
        what = f"{event.from_state or '·'} → {event.to_state}" if event.to_state else event.kind
        detail = ", ".join(f"{_cell(k)}={_cell(v)}" for k, v in sorted(event.detail.items()))
        lines.append(f"| {event.at:%Y-%m-%d %H:%M:%S} | {_cell(event.actor)} | {what} | {detail} |")
    return "\n".join(lines) + "\n"
