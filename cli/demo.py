"""The demo cohort: realistic applicants across the catalog, submitted end to end with a table of outcomes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli import demo_evidence as ev
from cli.demo_reviewers import ReviewerScript, free_port, run_reviewers, running_server
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


def _inputs(workdir: Path, ffmpeg: str) -> None:
    """Generate every sample file once (re-runs reuse them, so the demo stays idempotent)."""
    workdir.mkdir(parents=True, exist_ok=True)

    def need(name: str) -> Path | None:
        path = workdir / name
        return None if path.exists() else path

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


def _with_public_url(services: Services, url: str) -> Services:
    return dataclasses.replace(services, settings=services.settings.model_copy(update={"public_url": url}))


def _decide_now(services: Services) -> Callable[[str], None]:
    """Run the decide flow before the reviewer's request returns, so the demo reads in order."""
    from flows.review import decide_submission

    def decide(submission_id: str) -> None:
        # A thread of its own: the web server's event loop must not host the flow engine.
        worker = threading.Thread(target=run_in_process, args=(services, lambda: decide_submission(submission_id)))
        worker.start()
        worker.join()

    return decide


def run_demo(services: Services, *, workdir: Path, console: Console) -> list[dict[str, Any]]:
    """Generate inputs, submit the cohort, let demo reviewers score over HTTP, and print the outcomes."""
    console.print(f"[bold]credflow demo[/]: generating sample evidence in {workdir} ...")
    _inputs(workdir, services.settings.ffmpeg_path)
    with services.db.session() as session:
        report = import_pool(
            session, parse_pool(DEMO_POOL.read_text(), catalog=services.catalog, source=str(DEMO_POOL))
        )
    console.print(f"reviewer pool {DEMO_POOL.name}: {report.summary()}")
    port = free_port()
    services = _with_public_url(services, f"http://127.0.0.1:{port}")
    rows: list[dict[str, Any]] = []
    for app in cohort():
        console.print(f"submitting [bold]{app.label}[/] for {app.credential_id} ({app.shows}) ...")
        result, state = submit_files(
            services,
            applicant=app.applicant,
            credential_id=app.credential_id,
            answers=app.answers,
            evidence=[(key, workdir / name) for key, name in app.evidence],
            idempotency_key=app.key,
        )
        from credflow.submissions import view

        with services.db.session() as session:
            snapshot = view(session, result.submission_id)
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
    from web.app import create_app

    with running_server(create_app(services, on_review_submitted=_decide_now(services)), port) as url:
        console.print(f"\n[bold]Reviewers[/] open the links from their emails on {url} and score:")
        reviewed = run_reviewers(services, SCRIPT, log=console.print)
    console.print(f"{reviewed} reviews, adjudications and back-reads submitted through the review page")
    with services.db.session() as session:
        for row in rows:
            row["decision"] = get_submission(session, row["submission"]).state
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
    console.print(table)
    settings = services.settings
    where = (
        f"S3 bucket {settings.s3_bucket}"
        if settings.storage_backend is StorageBackend.S3
        else str(settings.resolved_storage_dir.resolve())
    )
    console.print(
        "\n[bold]Where things are[/]\n"
        f"  database     {services.db.engine.url.render_as_string(hide_password=True)}\n"
        f"  evidence     {where} (review videos under transcodes/, posters under posters/)\n"
        f"  sent mail    {settings.resolved_outbox_dir.resolve()} (.eml files with .json metadata)\n"
        f"  badges       {where}/badges (baked PNG/SVG); check one: credflow badge verify <file>.png --offline\n"
        "  badge pages  credflow serve, then http://127.0.0.1:8000/badges/<id> (links in the result emails)\n"
        "  one timeline credflow status <submission id>\n"
        "\n[bold]Prefect UI[/]: run `make ui`, open http://127.0.0.1:4200/runs and look for the flow runs named\n"
        "  <credential>-<submission id>-a<attempt>; each submission's artifact is under Artifacts (submission-<id>)."
    )
    return rows
