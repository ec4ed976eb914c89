"""Validation's rules: check one file, and a whole submission, against its evidence requirements.

Pure: they decide from facts (:class:`FileFacts`, :class:`SentFile`) and never read a file, a
session or a service; :mod:`credflow.validation.stage` gathers the facts and records the outcome.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from credflow.catalog.models import Credential, EvidenceKind, EvidenceRequirement
from credflow.formatting import human_size
from credflow.lifecycle import State
from credflow.media.base import MediaProbe
from credflow.validation.formats import Sniffed, sniffed_as
from credflow.validation.inspect import Finding

WORD = re.compile(r"[^\W_][\w'’-]*")
_UNRECOGNISED = sniffed_as("unknown").description


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: which requirement, which file, what, and what to do."""

    code: str
    message: str
    fix: str
    requirement: str | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(**data)


@dataclass(frozen=True)
class FileFacts:
    """What inspection found in one stored file, input to :func:`check_file`."""

    original_name: str
    display_name: str
    size: int
    sha256: str
    sniffed: Sniffed
    findings: tuple[Finding, ...]  # from the name and from the content
    probe: MediaProbe | None = None
    probe_error: str | None = None


def count_words(text: str) -> int:
    """Words as a reader counts them (punctuation and stray symbols are not words)."""
    return len(WORD.findall(text))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _formats(requirement: EvidenceRequirement) -> str:
    return ", ".join(requirement.formats)


def check_file(requirement: EvidenceRequirement, facts: FileFacts) -> list[Problem]:
    """Check one file against the requirement it was sent for.

    The first failing check explains the file: a file that is not what it claims to
    be gets that message, not a cascade of consequences.
    """
    req, name = requirement.key, facts.display_name

    def problem(code: str, message: str, fix: str) -> list[Problem]:
        return [Problem(code=code, message=message, fix=fix, requirement=req, file=name)]

    name_findings = [f for f in facts.findings if f.code.startswith("unsafe_filename")]
    if name_findings:
        return [Problem(f.code, f.message, f.fix, req, name) for f in name_findings]
    if facts.size == 0 or facts.sniffed.format == "empty":
        return problem(
            "empty_file",
            f"'{name}' is empty (0 bytes).",
            "Upload the file again; it may not have finished saving or copying.",
        )
    limit = requirement.max_size_bytes
    if limit is not None and facts.size > limit:
        return problem(
            "too_large",
            f"'{name}' is {human_size(facts.size)}; the limit for '{requirement.title}' is {human_size(limit)}.",
            "Compress or shorten the file, or export it at a lower resolution, then upload it again.",
        )
    content = [f for f in facts.findings if not f.code.startswith("unsafe_filename")]
    if content:
        return [Problem(f.code, f.message, f.fix, req, name) for f in content]

    sniffed = facts.sniffed
    if sniffed.format not in requirement.formats:
        return _wrong_format(requirement, facts)
    if requirement.kind is EvidenceKind.VIDEO:
        return _check_video(requirement, facts)
    return []


def file_problems(requirement: EvidenceRequirement | None, facts: FileFacts) -> list[Problem]:
    """The problems of one file as sent: :func:`check_file`'s, or that a written answer was sent as a file.

    A file for a requirement the credential does not have (``None``) has none of its own:
    :func:`check_requirements` reports the unknown requirement.
    """
    if requirement is None:
        return []
    if requirement.kind is EvidenceKind.TEXT:
        return [
            Problem(
                "file_for_text_answer",
                f"'{facts.display_name}' was sent for '{requirement.title}', which is a written answer.",
                f"Put the answer in the answers file under '{requirement.key}' instead of sending a file.",
                requirement.key,
                facts.display_name,
            )
        ]
    return check_file(requirement, facts)


def _wrong_format(requirement: EvidenceRequirement, facts: FileFacts) -> list[Problem]:
    req, name, sniffed = requirement.key, facts.display_name, facts.sniffed
    accepted = f"'{requirement.title}' accepts {_formats(requirement)}"
    if requirement.kind is EvidenceKind.VIDEO and facts.probe is not None and facts.probe.video is None:
        if facts.probe.has_cover_art:
            return [
                Problem(
                    "cover_art_only",
                    f"'{name}' is {sniffed.description} with a cover picture, not a video: "
                    "cover art is a still image and does not count as video.",
                    "Upload the video recording itself (the camera or screen-recording file).",
                    req,
                    name,
                )
            ]
        return [
            Problem(
                "no_video_stream",
                f"'{name}' is {sniffed.description} with sound only; {accepted} with moving pictures.",
                "Upload the video recording itself, not an audio export.",
                req,
                name,
            )
        ]
    codes = {
        "hls": (
            "hls_playlist",
            f"'{name}' is {sniffed.description}, not a video file: it only points to other files.",
            "Download or export the whole video as one MP4 or MOV file and upload that.",
        ),
        "svg": (
            "svg_not_allowed",
            f"'{name}' is {sniffed.description}; SVG is not accepted because it can carry scripts. {accepted}.",
            "Export the image as PNG or JPEG and upload that.",
        ),
        "executable": (
            "executable",
            f"'{name}' is {sniffed.description}, which is never accepted as evidence.",
            "Upload the document or media file you meant to send.",
        ),
    }
    if sniffed.format == "unknown" and sniffed.description == _UNRECOGNISED:
        code, message, fix = (
            "unrecognised_format",
            f"'{name}' is not a file type credflow recognises (its content matches no known format); {accepted}.",
            f"Export the file again as one of: {_formats(requirement)}.",
        )
        return [Problem(code, message, fix, req, name)]
    # Any other file is named for what it is (a RAR archive, a JSON data file, an AVIF picture).
    code, message, fix = codes.get(
        sniffed.format,
        (
            "wrong_format",
            f"'{name}' is {sniffed.description}; {accepted}.",
            f"Save or export it as one of: {_formats(requirement)}, and upload it again.",
        ),
    )
    return [Problem(code, message, fix, req, name)]


def _check_video(requirement: EvidenceRequirement, facts: FileFacts) -> list[Problem]:
    req, name, found = requirement.key, facts.display_name, facts.probe

    def problem(code: str, message: str, fix: str) -> list[Problem]:
        return [Problem(code=code, message=message, fix=fix, requirement=req, file=name)]

    if found is None:
        return problem(
            "unreadable_video",
            f"'{name}' could not be read as a video ({facts.probe_error or 'no details'}).",
            "Play the file on your computer to check it; export or copy it again and upload the new file.",
        )
    if found.video is None:
        if found.has_cover_art:
            return problem(
                "cover_art_only",
                f"'{name}' holds sound and a cover picture but no video: cover art does not count as video.",
                "Upload the video recording itself (the camera or screen-recording file).",
            )
        return problem(
            "no_video_stream",
            f"'{name}' holds sound only; '{requirement.title}' needs a video.",
            "Upload the video recording itself, not an audio export.",
        )
    low, high = requirement.min_duration_s, requirement.max_duration_s
    span = f"{_duration(low or 0)} to {_duration(high)}" if high else f"at least {_duration(low or 0)}"
    if found.duration <= 0:
        return problem(
            "unknown_duration",
            f"'{name}' does not say how long it is, so its length cannot be checked.",
            "Export the video again from your camera or editing software.",
        )
    if low is not None and found.duration < low:
        return problem(
            "video_too_short",
            f"'{name}' lasts {_duration(found.duration)}; '{requirement.title}' must last {span}.",
            "Upload a longer, continuous recording of the activity.",
        )
    if high is not None and found.duration > high:
        return problem(
            "video_too_long",
            f"'{name}' lasts {_duration(found.duration)}; '{requirement.title}' must last {span}.",
            "Trim the recording to the most relevant continuous segment within the limit.",
        )
    return []


@dataclass(frozen=True)
class SentFile:
    """A file as recorded at intake, with the problems check_file found in it."""

    requirement_key: str
    display_name: str
    sha256: str
    problems: tuple[Problem, ...] = ()


def check_requirements(
    credential: Credential, *, answers: Mapping[str, str], files: Sequence[SentFile]
) -> list[Problem]:
    """Check completeness: every requirement's count, every answer's words, nothing unknown."""
    problems: list[Problem] = []
    known = {req.key: req for req in credential.evidence}
    for key in sorted({f.requirement_key for f in files} - set(known)):
        names = ", ".join(f"'{f.display_name}'" for f in files if f.requirement_key == key)
        problems.append(
            Problem(
                "unknown_requirement",
                f"{names} was sent for '{key}', which {credential.title!r} does not ask for.",
                f"Send each file for one of: {', '.join(r.key for r in credential.file_requirements)}.",
                key,
            )
        )
    for req in credential.file_requirements:
        sent = [f for f in files if f.requirement_key == req.key]
        if len(sent) < req.min_count:
            got = "none was sent" if not sent else f"{len(sent)} {'was' if len(sent) == 1 else 'were'} sent"
            problems.append(
                Problem(
                    "missing_evidence",
                    f"'{req.title}' needs at least {req.min_count} file{'s' if req.min_count > 1 else ''}; {got}.",
                    f"Add: {req.prompt.strip()}",
                    req.key,
                )
            )
        elif len(sent) > req.max_count:
            problems.append(
                Problem(
                    "too_many_files",
                    f"'{req.title}' takes at most {req.max_count} file{'s' if req.max_count > 1 else ''}; "
                    f"{len(sent)} were sent.",
                    f"Choose the {req.max_count} that best show the criteria and send only those.",
                    req.key,
                )
            )
        for sha, count in Counter(f.sha256 for f in sent).items():
            if count > 1:
                dupes = ", ".join(f"'{f.display_name}'" for f in sent if f.sha256 == sha)
                problems.append(
                    Problem(
                        "duplicate_file",
                        f"{dupes} are the same file sent {count} times for '{req.title}'.",
                        "Replace the copies with the different pieces of evidence the requirement asks for.",
                        req.key,
                    )
                )
    for key in sorted(set(answers) - {req.key for req in credential.text_requirements}):
        problems.append(
            Problem(
                "unknown_answer",
                f"The answers file has an answer for '{key}', which {credential.title!r} does not ask.",
                f"Use the question keys: {', '.join(r.key for r in credential.text_requirements)}.",
                key,
            )
        )
    for req in credential.text_requirements:
        text = answers.get(req.key, "")
        words = count_words(text)
        if not text.strip():
            if req.required:
                problems.append(
                    Problem(
                        "missing_answer",
                        f"The answer to '{req.title}' is missing.",
                        f"Answer under the key '{req.key}': {req.prompt.strip()}",
                        req.key,
                    )
                )
            continue
        if req.min_words is not None and words < req.min_words:
            problems.append(
                Problem(
                    "too_few_words",
                    f"The answer to '{req.title}' has {words} words; it needs at least {req.min_words}.",
                    "Expand the answer with specific examples from your practice.",
                    req.key,
                )
            )
        if req.max_words is not None and words > req.max_words:
            problems.append(
                Problem(
                    "too_many_words",
                    f"The answer to '{req.title}' has {words} words; the limit is {req.max_words}.",
                    f"Shorten it by at least {words - req.max_words} words.",
                    req.key,
                )
            )
    for f in files:
        problems.extend(f.problems)
    return problems


@dataclass(frozen=True)
class ValidationOutcome:
    """Where validation left the submission, and why."""

    state: State
    problems: tuple[Problem, ...]
    videos: int
