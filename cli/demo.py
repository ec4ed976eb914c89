"""The demo cohort: realistic applicants across the catalog, submitted end to end with a table of outcomes."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from cli import demo_evidence as ev
from cli.demo_reviewers import ReviewerScript, Via, free_port, run_reviewers, running_server
from cli.launch import run_in_process
from cli.submissions import submit_files
from credflow.intake.rules import ApplicantInfo
from credflow.media import samples
from credflow.reviewers.rules import parse_pool
from credflow.reviewers.stage import import_pool
from credflow.services import Services
from credflow.settings import StorageBackend
from credflow.submissions import get_submission


@dataclass(frozen=True)
class DemoApplication:
    """One demo applicant's submission, with what it is meant to show."""

    label: str
    applicant: ApplicantInfo
    credential_id: str
    answers: dict[str, str]
    evidence: list[tuple[str, str]]  # requirement key, file name under the work dir
    key: str
    shows: str
    extra: dict[str, Any] = field(default_factory=dict)


def _inputs(workdir: Path, ffmpeg: str, *, making: Callable[[str], None] = lambda name: None) -> None:
    """Generate every sample file once (re-runs reuse them, so the demo stays idempotent); ``making`` is told each."""
    workdir.mkdir(parents=True, exist_ok=True)

    def need(name: str) -> Path | None:
        path = workdir / name
        if path.exists():
            return None
        making(name)
        return path

    if p := need("anchoring-plan.pdf"):
        ev.pdf(p, "Anchoring Phenomenon Routine - facilitation plan (annotated)")
    if p := need("dqb-photo.jpg"):
        ev.photo(p, ffmpeg=ffmpeg, pattern="testsrc2")
    if p := need("coherence-session-plan.docx"):
        ev.docx(p, ["Navigation Routine practice segment", ev.words(120, seed=1)])
    if p := need("participant-notes.pdf"):
        ev.pdf(p, "Participant notes - questions carried from lesson 3 to lesson 4")
    if p := need("participant-model.png"):
        ev.photo(p, ffmpeg=ffmpeg, pattern="smptebars", size="640x480")
    if p := need("discussion-plan.pdf"):
        ev.pdf(p, "Consensus discussion plan with talk moves")
    if p := need("whole-group-discussion-hevc.mp4"):
        # A 10.5-minute HEVC recording, as many phones now produce; small frame size keeps the demo quick.
        samples.make_video(p, seconds=630, width=426, height=240, fps=15, codec="libx265", ffmpeg=ffmpeg)
    if p := need("udl-plan.docx"):
        ev.docx(p, ["UDL lesson plan: options for engagement, representation, action and expression", ev.words(90)])
    if p := need("phone-clip-portrait.mp4"):
        # Coded landscape with a 90-degree display rotation: how phones store portrait video.
        samples.make_video(p, seconds=75, width=640, height=360, fps=30, rotation=90, ffmpeg=ffmpeg)
    if p := need("lesson-plan.pdf"):
        ev.pdf(p, "Choosing Learning Strategies - lesson plan")
    for index in range(1, 4):
        if p := need(f"student-work-{index}.pdf"):
            ev.pdf(p, f"Student work sample {index} (names removed)")
        if p := need(f"student-reflection-{index}.jpg"):
            ev.photo(p, ffmpeg=ffmpeg, pattern="rgbtestsrc" if index % 2 else "testsrc", size=f"{600 + index}x800")
    if p := need("classroom-clip-corrupt.mp4"):
        whole = workdir / "classroom-clip-whole.mp4"
        samples.make_video(whole, seconds=90, width=640, height=360, fps=25, ffmpeg=ffmpeg)
        # An upload cut off part-way: the header promises 90 s, the bytes stop early.
        samples.truncate(whole, p, keep_fraction=0.4)
        whole.unlink()


def cohort() -> list[DemoApplication]:
    """The demo's applications, in submission order."""

    def who(name: str, org: str) -> ApplicantInfo:
        return ApplicantInfo(name=name, email=name.lower().replace(" ", ".") + "@example.org", organisation=org)

    return [
        DemoApplication(
            "Ana Alvarez",
            who("Ana Alvarez", "Riverside Unified"),
            "openscied-anchoring-phenomenon",
            {"routine_purpose": ev.words(220), "reflection": ev.words(320, seed=3)},
            [("facilitation_plan", "anchoring-plan.pdf"), ("dqb_artifact", "dqb-photo.jpg")],
            "demo-ana-1",
            "documents and a photo: straight to review",
        ),
        DemoApplication(
            "Ben Okafor",
            who("Ben Okafor", "Lakeside ISD"),
            "openscied-supporting-coherence",
            {"coherence_explained": ev.words(180, seed=2), "reflection": ev.words(260, seed=4)},
            [
                ("session_plan", "coherence-session-plan.docx"),
                ("participant_artifacts", "participant-notes.pdf"),
                ("participant_artifacts", "participant-model.png"),
            ],
            "demo-ben-1",
            "a Word document confirmed by its zip structure",
        ),
        DemoApplication(
            "Chloe Martin",
            who("Chloe Martin", "Northgate PD Collaborative"),
            "openscied-facilitating-discussions",
            {"discussion_context": ev.words(150, seed=5), "reflection": ev.words(400, seed=6)},
            [("discussion_video", "whole-group-discussion-hevc.mp4"), ("discussion_plan", "discussion-plan.pdf")],
            "demo-chloe-1",
            "a 10.5-minute HEVC video transcoded to H.264",
        ),
        DemoApplication(
            "Dev Patel",
            who("Dev Patel", "Hillcrest Elementary"),
            "udl-level-1",
            {"learner_variability": ev.words(200, seed=7), "reflection": ev.words(250, seed=1)},
            [("udl_lesson_plan", "udl-plan.docx"), ("classroom_video", "phone-clip-portrait.mp4")],
            "demo-dev-1",
            "a portrait phone clip: rotation applied",
        ),
        DemoApplication(
            "Erin Walsh",
            who("Erin Walsh", "Maple Grove Middle"),
            "dp-choosing-learning-strategies",
            {"overview": ev.words(60), "teacher_reflection": ev.words(300, seed=2)},
            [
                ("lesson_plan", "lesson-plan.pdf"),
                ("student_work", "student-work-1.pdf"),
                ("student_work", "student-work-2.pdf"),
            ],
            "demo-erin-1",
            "incomplete: returned with the exact list, no attempt used",
        ),
        DemoApplication(
            "Femi Adeyemi",
            who("Femi Adeyemi", "Eastside Academy"),
            "udl-level-1",
            {"learner_variability": ev.words(170, seed=3), "reflection": ev.words(230, seed=5)},
            [("udl_lesson_plan", "udl-plan.docx"), ("classroom_video", "classroom-clip-corrupt.mp4")],
            "demo-femi-1",
            "a truncated video: returned with the reason",
        ),
        DemoApplication(
            "Erin Walsh",
            who("Erin Walsh", "Maple Grove Middle"),
            "dp-choosing-learning-strategies",
            {"overview": ev.words(190), "teacher_reflection": ev.words(300, seed=2)},
            [
                ("lesson_plan", "lesson-plan.pdf"),
                *[("student_work", f"student-work-{i}.pdf") for i in (1, 2, 3)],
                *[("student_reflections", f"student-reflection-{i}.jpg") for i in (1, 2, 3)],
            ],
            "demo-erin-2",
            "the corrected resubmission: same attempt number",
        ),
        DemoApplication(
            "Ana Alvarez",
            who("Ana Alvarez", "Riverside Unified"),
            "openscied-anchoring-phenomenon",
            {"routine_purpose": ev.words(220), "reflection": ev.words(320, seed=3)},
            [("facilitation_plan", "anchoring-plan.pdf"), ("dqb_artifact", "dqb-photo.jpg")],
            "demo-ana-1",
            "the same submission sent twice: one submission",
        ),
    ]


DEMO_POOL = Path(__file__).with_name("demo_pool.yaml")


def recent_pool(text: str, today: date) -> str:
    """The demo pool with its calibration dates moved so the newest is 30 days before ``today``, the gaps kept.

    The file's dates are examples; a calibration lapses after a year, so fixed dates would leave the
    demo without reviewers a year on.
    """
    found = [date.fromisoformat(d) for d in re.findall(r"calibrated_on: (\d{4}-\d{2}-\d{2})", text)]
    if not found:
        return text
    shift = (today - timedelta(days=30)) - max(found)
    return re.sub(
        r"calibrated_on: (\d{4}-\d{2}-\d{2})",
        lambda m: f"calibrated_on: {date.fromisoformat(m.group(1)) + shift}",
        text,
    )


# How the demo's reviewers score, by applicant: each reviewer's Not Yet criteria, and the lead's
# verdicts on split criteria. Everything not listed is Met.
SCRIPT = ReviewerScript(
    plans={
        "chloe.martin@example.org": [
            {},
            {"talk_moves_visible": "Name the talk moves for participants as you use them."},
        ],
        "ben.okafor@example.org": [{}, {"artifacts_show_thread": "The artifacts do not show a question carried over."}],
        "dev.patel@example.org": [
            {"reflection_on_barriers": "Refer to what learners chose during the lesson."},
            {"reflection_on_barriers": "Name one barrier that remained and how you will remove it."},
        ],
    },
    adjudications={
        "chloe.martin@example.org": {"talk_moves_visible": "met"},
        "ben.okafor@example.org": {"artifacts_show_thread": "not_yet"},
    },
)


# Submission states after which the demo's story for a case is over.
_DECIDED = frozenset({"earned", "not_yet", "returned", "resubmitted", "closed", "failed", "withdrawn"})
_STEPS = 3  # intake, review, decision


@dataclass
class _Display:
    """What the operator sees while the demo runs: every line (``--verbose``), or one progress row per case."""

    console: Console
    verbose: bool
    progress: Progress | None = None
    rows: list[TaskID] = field(default_factory=list)
    inputs: TaskID | None = None

    @classmethod
    def start(cls, console: Console, *, verbose: bool, cases: list[DemoApplication]) -> _Display:
        if verbose:
            return cls(console, verbose)
        progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=12),
            TextColumn("{task.fields[status]}"),
            console=console,
        )
        display = cls(console, verbose, progress)
        display.inputs = progress.add_task("sample evidence", total=None, status="checking")
        for app in cases:
            display.rows.append(
                progress.add_task(f"{app.label} · {app.credential_id}", total=_STEPS, status="waiting", start=False)
            )
        progress.start()
        return display

    def say(self, text: str) -> None:
        """A line of the story: printed with ``--verbose``, else left to the progress rows."""
        if self.verbose:
            self.console.print(text)

    def making(self, name: str) -> None:
        if self.progress is not None and self.inputs is not None:
            self.progress.update(self.inputs, status=f"making {name}")

    def inputs_ready(self, workdir: Path) -> None:
        if self.progress is not None and self.inputs is not None:
            self.progress.update(self.inputs, total=1, completed=1, status=str(workdir))

    def case(self, index: int, status: str) -> None:
        """Case ``index`` is now at ``status`` (a submission state, or what the demo is doing with it)."""
        if self.progress is None:
            return
        row = self.rows[index]
        self.progress.start_task(row)
        if status in _DECIDED:
            done = _STEPS
        elif status in ("awaiting_review", "in_review", "adjudicating"):
            done = 1
        else:
            done = 0
        self.progress.update(row, completed=done, status=status)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


_SET_ASIDE: list[logging.Handler] = []


def _send_logs_to(path: Path) -> None:
    """From now until this process ends, write what would log to the terminal (Prefect's runs, servers, warnings)
    to ``path`` instead.

    For the rest of the process, not a ``with`` block: Prefect stops its temporary server at exit and says so.
    """
    import prefect.main  # noqa: F401  (importing it sets up Prefect's logging, once: the set-up swapped below)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    # Appending: should Prefect configure logging again (and close every handler), the file reopens on the next record.
    to_file = logging.FileHandler(path, mode="a", encoding="utf-8")
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    swapped: list[tuple[logging.Logger, logging.Handler]] = []
    for logger in loggers:
        for handler in list(logger.handlers):
            if type(handler) is not logging.FileHandler and isinstance(handler, logging.StreamHandler):
                logger.removeHandler(handler)
                swapped.append((logger, handler))
    # Kept alive: Prefect's later incremental set-up looks its handlers up by name (weakly held) and, missing one,
    # configures everything again from scratch.
    _SET_ASIDE.extend(handler for _, handler in swapped)
    # Prefect's own format, which names the flow run and task run of each record.
    to_file.setFormatter(next((h.formatter for _, h in swapped if h.formatter is not None), logging.Formatter()))
    for logger in dict.fromkeys(logger for logger, _ in swapped):
        logger.addHandler(to_file)
    if not logging.getLogger().handlers:
        logging.getLogger().addHandler(to_file)
    logging.captureWarnings(True)


def _decide_now(services: Services) -> Callable[[str], None]:
    """Run the decide flow before the reviewer's request returns, so the demo reads in order."""
    from flows.review import run_decision

    def decide(submission_id: str) -> None:
        # A thread of its own: the web server's event loop must not host the flow engine.
        worker = threading.Thread(target=run_in_process, args=(services, lambda: run_decision(submission_id)))
        worker.start()
        worker.join()

    return decide


def demo_log_path(services: Services) -> Path:
    """Where a quiet demo writes Prefect's (and every other) log."""
    return services.settings.data_dir / "logs" / "demo.log"


def run_demo(services: Services, *, workdir: Path, console: Console, verbose: bool = False) -> list[dict[str, Any]]:
    """Generate inputs, submit the cohort, let demo reviewers score over HTTP, and print the outcomes.

    Everything stored, signed and mailed names ``settings.public_url`` (``credflow serve``'s), so once the demo
    ends its badges verify and its letters' links work under ``credflow serve``. The reviewers score on a
    temporary server of their own, reached as if it were the public URL.

    Args:
        services: What the demo submits into.
        workdir: Where the sample evidence is generated (and reused on a re-run).
        console: Where the progress, the outcome table and the summary go.
        verbose: Print every step and Prefect's logs, instead of a progress row per case and a log file.
    """
    cases = cohort()
    log_path = None if verbose else demo_log_path(services)
    if log_path is not None:
        _send_logs_to(log_path)
    display = _Display.start(console, verbose=verbose, cases=cases)
    try:
        rows, reviewed = _run_cases(services, cases, workdir=workdir, display=display)
    finally:
        display.stop()
    console.print(f"{reviewed} reviews, adjudications and back-reads submitted through the review page")
    _where_things_are(services, console, log_path)
    console.print(_outcomes(rows))
    return rows


def _run_cases(
    services: Services, cases: list[DemoApplication], *, workdir: Path, display: _Display
) -> tuple[list[dict[str, Any]], int]:
    from credflow.submissions import view
    from web.app import create_app

    display.say(f"[bold]credflow demo[/]: generating sample evidence in {workdir} ...")
    _inputs(workdir, services.settings.ffmpeg_path, making=display.making)
    display.inputs_ready(workdir)
    with services.db.session() as session:
        report = import_pool(
            session,
            parse_pool(
                recent_pool(DEMO_POOL.read_text(), datetime.now(UTC).date()),
                catalog=services.catalog,
                source=str(DEMO_POOL),
            ),
        )
    display.say(f"reviewer pool {DEMO_POOL.name}: {report.summary()}")
    rows: list[dict[str, Any]] = []
    for index, app in enumerate(cases):
        display.say(f"submitting [bold]{app.label}[/] for {app.credential_id} ({app.shows}) ...")
        display.case(index, "submitting")
        result, state = submit_files(
            services,
            applicant=app.applicant,
            credential_id=app.credential_id,
            answers=app.answers,
            evidence=[(key, workdir / name) for key, name in app.evidence],
            idempotency_key=app.key,
        )
        with services.db.session() as session:
            snapshot = view(session, result.submission_id)
        display.case(index, state)
        rows.append(
            {
                "applicant": app.label,
                "credential": app.credential_id,
                "submission": result.submission_id,
                "attempt": result.attempt,
                "new": result.created,
                "state": state,
                "problems": [p["message"] for p in snapshot.problems],
                "shows": app.shows,
            }
        )

    def refresh() -> None:
        with services.db.session() as session:
            for index, row in enumerate(rows):
                row["decision"] = get_submission(session, row["submission"]).state
                display.case(index, row["decision"])

    def reviewed_one(line: str) -> None:
        display.say(line)
        refresh()

    public = services.settings.public_url
    web_app = create_app(services, on_review_submitted=_decide_now(services))
    with running_server(web_app, free_port(), own_logging=display.verbose) as url:
        display.say(f"\n[bold]Reviewers[/] open the links from their emails (naming {public}) on {url} and score:")
        reviewed = run_reviewers(services, SCRIPT, log=reviewed_one, via=Via(public=public, local=url))
    refresh()
    return rows, reviewed


def _outcomes(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Demo outcomes", show_lines=True)
    for column in ("applicant", "micro-credential", "submission", "attempt", "new?", "after intake", "now"):
        table.add_column(column, no_wrap=True)
    table.add_column("why / shows", overflow="fold", ratio=1)
    for row in rows:
        why = "\n".join(f"• {p}" for p in row["problems"]) or row["shows"]
        table.add_row(
            row["applicant"],
            row["credential"],
            row["submission"][:8],
            str(row["attempt"]),
            "yes" if row["new"] else "no (same id)",
            row["state"],
            row["decision"],
            why,
        )
    return table


def _where_things_are(services: Services, console: Console, log_path: Path | None) -> None:
    settings = services.settings
    public = settings.public_url
    where = (
        f"S3 bucket {settings.s3_bucket}"
        if settings.storage_backend is StorageBackend.S3
        else str(settings.resolved_storage_dir.resolve())
    )
    logs = (
        f"  logs         {log_path.resolve()} (Prefect's run logs; `credflow demo --verbose` prints them instead)\n"
        if log_path is not None
        else ""
    )
    console.print(
        "\n[bold]Where things are[/]\n"
        f"  database     {services.db.engine.url.render_as_string(hide_password=True)}\n"
        f"  evidence     {where} (review videos under transcodes/, posters under posters/)\n"
        f"  sent mail    {settings.resolved_outbox_dir.resolve()} (.eml files with .json metadata)\n"
        f"  badges       {where}/badges (baked PNG/SVG); check one: credflow badge verify <file>.png --offline\n"
        f"  badge pages  credflow serve, then {public}/badges/<id> (every link in the mail names {public})\n"
        "  one timeline credflow status <submission id>\n"
        f"{logs}"
        "\n[bold]Prefect UI[/]: run `make ui`, open http://127.0.0.1:4200/runs and look for the flow runs named\n"
        "  <credential>-<submission id>-a<attempt>; each submission's artifact is under Artifacts (submission-<id>)."
    )
