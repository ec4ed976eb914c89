"""Bad input: each broken or hostile submission is returned with its own specific message, costing nothing."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cli import demo_evidence as ev
from credflow.intake.rules import EvidenceTooLarge, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.lifecycle import State
from credflow.media import samples
from credflow.submissions import get_submission
from credflow.validation.stage import run_validation
from tests.utils import badfiles
from tests.utils.builders import applicant

UDL = "udl-level-1"
ANCHORING = "openscied-anchoring-phenomenon"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Real media made once for the module: tiny, so the whole suite stays quick."""
    folder = tmp_path_factory.mktemp("clips")
    whole = samples.make_video(folder / "whole.mp4", seconds=70, width=160, height=90, fps=10)
    return {
        "good": whole,
        "truncated": samples.truncate(whole, folder / "truncated.mp4", keep_fraction=0.5),
        "short": samples.make_video(folder / "short.mp4", seconds=5, width=160, height=90, fps=10),
        "long": samples.make_video(folder / "long.mp4", seconds=905, width=32, height=32, fps=1, audio=False),
        "audio": samples.make_audio_only(folder / "audio.mp4", seconds=70),
        "cover": samples.make_mp3_with_cover(folder / "cover.mp3", seconds=70),
    }


@dataclass(frozen=True)
class Case:
    """One bad submission: what to change in a valid one, and the problem it must get."""

    code: str
    fragment: str
    credential: str = UDL
    files: Callable[[Path, dict[str, Path]], list[tuple[str, str, bytes]]] | None = None
    answers: dict[str, str] | None = None
    drop_plan: bool = False
    extra_codes: frozenset[str] = field(default_factory=frozenset)


def _file(key: str, name: str, path: Path) -> list[tuple[str, str, bytes]]:
    return [(key, name, path.read_bytes())]


def _plan(tmp: Path, title: str = "UDL lesson plan") -> bytes:
    return ev.docx(tmp / f"{len(title)}.docx", [title, ev.words(80)]).read_bytes()


CASES: dict[str, Case] = {
    "zero-byte file": Case(
        "empty_file",
        "is empty (0 bytes)",
        files=lambda t, c: _file("classroom_video", "lesson.mp4", badfiles.zero_byte(t)),
    ),
    "random bytes named .mp4": Case(
        "unrecognised_format",
        "not a file type credflow recognises",
        files=lambda t, c: _file("classroom_video", "lesson.mp4", badfiles.random_bytes(t)),
    ),
    "truncated faststart mp4": Case(
        "truncated_media", "incomplete", files=lambda t, c: _file("classroom_video", "lesson.mp4", c["truncated"])
    ),
    "audio-only file named .mp4": Case(
        "no_video_stream", "sound only", files=lambda t, c: _file("classroom_video", "lesson.mp4", c["audio"])
    ),
    "mp3 with cover art named .mp4": Case(
        "cover_art_only",
        "cover art",
        files=lambda t, c: _file("classroom_video", "lesson.mp4", c["cover"]),
    ),
    "HLS playlist named .mp4": Case(
        "hls_playlist",
        "only points to other files",
        files=lambda t, c: _file("classroom_video", "lesson.mp4", badfiles.hls_playlist(t)),
    ),
    "zip bomb as .docx": Case(
        "zip_bomb", "zip bomb", files=lambda t, c: _file("udl_lesson_plan", "plan.docx", badfiles.zip_bomb_docx(t))
    ),
    "zip-slip entry": Case(
        "zip_slip",
        "escapes its folder",
        files=lambda t, c: _file("udl_lesson_plan", "plan.docx", badfiles.zip_slip_docx(t)),
    ),
    "PDF with JavaScript": Case(
        "pdf_javascript",
        "JavaScript",
        files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.pdf_with_javascript(t)),
    ),
    "PDF with an auto-action": Case(
        "pdf_auto_action",
        "by itself",
        files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.pdf_with_open_action(t)),
    ),
    "PDF launching a program": Case(
        "pdf_launch",
        "start another program",
        files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.pdf_with_launch(t)),
    ),
    "JPEG with a zip appended": Case(
        "appended_data",
        "hidden zip archive",
        credential=ANCHORING,
        files=lambda t, c: _file("dqb_artifact", "board.jpg", badfiles.jpeg_with_zip_appended(t)),
    ),
    "SVG named .png": Case(
        "svg_not_allowed",
        "SVG is not accepted",
        credential=ANCHORING,
        files=lambda t, c: _file("dqb_artifact", "board.png", badfiles.svg_named_png(t)),
    ),
    "../../etc/passwd file name": Case(
        "unsafe_filename_path",
        "folder parts",
        files=lambda t, c: [("udl_lesson_plan", "../../etc/passwd", _plan(t, "second plan"))],
    ),
    "right-to-left override file name": Case(
        "unsafe_filename_bidi",
        "disguise the real file type",
        files=lambda t, c: [("udl_lesson_plan", "plan\u202excod.exe", _plan(t, "second plan"))],
    ),
    "picture declaring 60000 x 60000 pixels": Case(
        "image_too_many_pixels",
        "declares a size of 3,600 million pixels",
        credential=ANCHORING,
        files=lambda t, c: _file("dqb_artifact", "board.png", badfiles.png_declaring(t, 60000, 60000)),
    ),
    "too short video": Case(
        "video_too_short", "lasts 5 s", files=lambda t, c: _file("classroom_video", "clip.mp4", c["short"])
    ),
    "too long video": Case(
        "video_too_long", "lasts 15 min 5 s", files=lambda t, c: _file("classroom_video", "clip.mp4", c["long"])
    ),
    "missing required item": Case(
        "missing_evidence", "'UDL lesson plan' needs at least 1 file; none was sent", drop_plan=True
    ),
    "too many files": Case(
        "too_many_files",
        "takes at most 2 files; 3 were sent",
        files=lambda t, c: [
            ("udl_lesson_plan", f"plan-{i}.docx", ev.docx(t / f"p{i}.docx", [f"version {i}"]).read_bytes())
            for i in (1, 2)
        ],
    ),
    "answers over the word limit": Case(
        "too_many_words",
        "has 900 words; the limit is 600",
        answers={"learner_variability": ev.words(900), "reflection": ev.words(250)},
    ),
    "missing answer": Case(
        "missing_answer", "answer to 'Reflection' is missing", answers={"learner_variability": ev.words(200)}
    ),
    "program named .pdf": Case(
        "executable",
        "never accepted",
        files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.elf_named_pdf(t)),
    ),
    "plain zip named .docx": Case(
        "wrong_format",
        "is a zip archive",
        files=lambda t, c: _file("udl_lesson_plan", "plan.docx", badfiles.plain_zip_named_docx(t)),
    ),
    "password-protected PDF": Case(
        "encrypted_document",
        "password",
        files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.encrypted_pdf(t)),
    ),
    "damaged PDF": Case(
        "corrupt_pdf", "damaged", files=lambda t, c: _file("udl_lesson_plan", "plan.pdf", badfiles.corrupt_pdf(t))
    ),
    "Word document with macros": Case(
        "office_macros", "macros", files=lambda t, c: _file("udl_lesson_plan", "plan.docx", badfiles.macro_docx(t))
    ),
    "file for a requirement the credential lacks": Case(
        "unknown_requirement",
        "which 'UDL Level 1: Designing for Learner Variability' does not ask for",
        files=lambda t, c: _file("homework", "extra.pdf", badfiles.clean_pdf(t)),
    ),
    "the same file twice": Case(
        "duplicate_file",
        "the same file sent 2 times",
        files=lambda t, c: [("udl_lesson_plan", "plan-copy.docx", _plan(t))],
    ),
}


def _request(case: Case, tmp: Path, clips: dict[str, Path], label: str) -> IntakeRequest:
    uploads: list[Upload] = []
    if case.credential == UDL:
        answers = {"learner_variability": ev.words(200), "reflection": ev.words(250, seed=1)}
        if not case.drop_plan:
            uploads.append(Upload("udl_lesson_plan", "plan.docx", io.BytesIO(_plan(tmp))))
    else:
        answers = {"routine_purpose": ev.words(200), "reflection": ev.words(300, seed=2)}
        plan = ev.pdf(tmp / "anchoring.pdf", "Anchoring plan").read_bytes()
        uploads.append(Upload("facilitation_plan", "plan.pdf", io.BytesIO(plan)))
    if case.answers is not None:
        answers = case.answers
    for key, name, data in case.files(tmp, clips) if case.files else []:
        uploads.append(Upload(key, name, io.BytesIO(data)))
    email_name = "".join(ch for ch in label if ch.isalnum())[:40]
    who = applicant(f"Case {email_name}")
    return IntakeRequest(applicant=who, credential_id=case.credential, answers=answers, uploads=uploads)


@pytest.mark.parametrize("label", list(CASES), ids=list(CASES))
def test_bad_input_is_returned_with_its_own_message(label, services, tmp_path, clips):
    case = CASES[label]
    result = submit(services, _request(case, tmp_path, clips, label))
    outcome = run_validation(services, result.submission_id)
    assert outcome.state is State.RETURNED
    assert [p.code for p in outcome.problems] == [case.code], [p.message for p in outcome.problems]
    [problem] = outcome.problems
    assert case.fragment in problem.message
    assert problem.fix and problem.requirement
    with services.db.session() as session:
        sub = get_submission(session, result.submission_id)
        assert sub.state == "returned" and sub.attempt == 1
        assert sub.problems == [problem.to_json()]


def test_there_are_at_least_twenty_distinct_cases_with_distinct_codes():
    assert len(CASES) >= 20
    assert len({case.code for case in CASES.values()}) == len(CASES)


def test_a_valid_submission_with_a_video_passes(services, tmp_path, clips):
    ok = Case("", "", files=lambda t, c: _file("classroom_video", "clip.mp4", c["good"]))
    result = submit(services, _request(ok, tmp_path, clips, "valid"))
    outcome = run_validation(services, result.submission_id)
    assert outcome.problems == () and outcome.state is State.TRANSCODING and outcome.videos == 1


def test_a_file_over_its_requirements_limit_is_refused_as_it_arrives_and_nothing_is_kept(services, tmp_path, clips):
    class Counting(io.BytesIO):
        """Counts the bytes intake reads: it must stop soon after the limit, not read the whole file."""

        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.taken = 0

        def read(self, size: int | None = -1, /) -> bytes:
            chunk = super().read(size)
            self.taken += len(chunk)
            return chunk

    request = _request(CASES["missing answer"], tmp_path, clips, "oversize")
    big = Counting(bytes(60 << 20))
    oversize = IntakeRequest(
        applicant=request.applicant,
        credential_id=UDL,
        answers=request.answers,
        uploads=[*request.uploads, Upload("udl_lesson_plan", "plan.pdf", big)],
    )
    with pytest.raises(EvidenceTooLarge, match=r"'plan.pdf' is larger than 20.0 MB, the limit for 'UDL lesson plan'"):
        submit(services, oversize)
    assert big.taken <= (20 << 20) + (2 << 20)  # the limit and at most a chunk or two past it
    stored = services.settings.resolved_storage_dir
    assert not [p for p in stored.rglob("*") if p.is_file()] if stored.exists() else True
