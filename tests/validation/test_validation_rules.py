"""The pre-assessor's rules as pure functions: counts, words, formats, durations, in milliseconds."""

import pytest

from credflow.catalog import EvidenceRequirement, load_catalog
from credflow.media.base import MediaProbe, VideoStream
from credflow.validation.formats import sniffed_as
from credflow.validation.inspect import Finding
from credflow.validation.rules import FileFacts, SentFile, check_file, check_requirements, count_words
from tests.conftest import ROOT

CATALOG = load_catalog(ROOT / "rubrics")
DISCUSSIONS = CATALOG.get("openscied-facilitating-discussions")
STRATEGIES = CATALOG.get("dp-choosing-learning-strategies")


def _requirement(key: str) -> EvidenceRequirement:
    found = DISCUSSIONS.requirement(key)
    assert found is not None
    return found


VIDEO = _requirement("discussion_video")
PLAN = _requirement("discussion_plan")


def facts(fmt: str, *, size: int = 1000, probe: MediaProbe | None = None, findings=(), name="clip.mp4") -> FileFacts:
    return FileFacts(name, name, size, "0" * 64, sniffed_as(fmt), tuple(findings), probe)


def video_probe(duration: float, *, video: bool = True, cover: bool = False) -> MediaProbe:
    stream = VideoStream("h264", 1280, 720, 0, 30.0, "yuv420p", None) if video else None
    return MediaProbe("mov,mp4", duration, 1000, stream, cover, "aac")


def test_words_are_counted_as_a_reader_counts_them():
    assert count_words("It's a well-known fact — really!") == 5
    assert count_words("  \n ") == 0


def test_a_good_video_passes():
    assert check_file(VIDEO, facts("mp4", probe=video_probe(900))) == []


@pytest.mark.parametrize(
    ("duration", "code", "text"),
    [(120, "video_too_short", "lasts 2 min 0 s"), (3000, "video_too_long", "lasts 50 min 0 s")],
)
def test_video_duration_range(duration, code, text):
    [problem] = check_file(VIDEO, facts("mp4", probe=video_probe(duration)))
    assert problem.code == code and text in problem.message and "10 min 0 s to 45 min 0 s" in problem.message


def test_a_sound_only_file_and_cover_art_are_not_video():
    [sound] = check_file(VIDEO, facts("mp4", probe=video_probe(900, video=False)))
    [cover] = check_file(VIDEO, facts("mp3", probe=video_probe(900, video=False, cover=True)))
    assert sound.code == "no_video_stream" and cover.code == "cover_art_only"
    assert "cover art" in cover.message


def test_oversize_is_reported_with_both_sizes():
    [problem] = check_file(PLAN, facts("pdf", size=30 * 1024 * 1024, name="plan.pdf"))
    assert problem.code == "too_large" and "30.0 MB" in problem.message and "25.0 MB" in problem.message


def test_the_first_finding_explains_the_file():
    bomb = Finding("zip_bomb", "The Word document would unpack to 5 GB.", "Export it again.")
    [problem] = check_file(PLAN, facts("docx", name="plan.docx", findings=[bomb]))
    assert problem.code == "zip_bomb" and problem.file == "plan.docx" and problem.requirement == "discussion_plan"


def test_missing_too_many_duplicate_and_unknown_files():
    files = [
        SentFile("lesson_plan", "plan.pdf", "a" * 64),
        SentFile("student_work", "w1.pdf", "b" * 64),
        SentFile("student_work", "w1-copy.pdf", "b" * 64),
        SentFile("student_work", "w2.pdf", "c" * 64),
        SentFile("student_work", "w3.pdf", "d" * 64),
        SentFile("extras", "notes.pdf", "e" * 64),
    ]
    answers = {"overview": "word " * 200, "teacher_reflection": "word " * 300}
    problems = {(p.code, p.requirement) for p in check_requirements(STRATEGIES, answers=answers, files=files)}
    assert problems == {
        ("too_many_files", "student_work"),
        ("duplicate_file", "student_work"),
        ("missing_evidence", "student_reflections"),
        ("unknown_requirement", "extras"),
    }


def test_answers_are_checked_for_presence_and_word_limits():
    files = [SentFile("lesson_plan", "p.pdf", "a" * 64)]
    files += [SentFile("student_work", f"w{i}.pdf", str(i) * 64) for i in range(3)]
    files += [SentFile("student_reflections", f"r{i}.pdf", chr(97 + i) * 64) for i in range(3)]
    answers = {"overview": "word " * 900, "extra_question": "hello"}
    problems = check_requirements(STRATEGIES, answers=answers, files=files)
    by_code = {p.code: p for p in problems}
    assert set(by_code) == {"too_many_words", "missing_answer", "unknown_answer"}
    assert "900 words; the limit is 500" in by_code["too_many_words"].message
    assert by_code["missing_answer"].requirement == "teacher_reflection"
