"""Intake's rules: what a submission may carry, the access window and the attempt count, decided from facts.

Pure: no session, no services. :mod:`credflow.intake.stage` stores and records what these rules accept.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO, Protocol

from credflow.catalog.models import Credential
from credflow.errors import IntakeRefused
from credflow.formatting import human_size, yaml_error
from credflow.lifecycle import State
from credflow.storage.base import StoredObject
from credflow.validation.inspect import printable

# No spaces, angle brackets, control or text-direction characters anywhere (the HTTP upload grant checks with it too).
_ADDRESS_PART = r"[^@\s<>\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
EMAIL = re.compile(rf"^{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}$")

#: Caps on what one submission may carry; beyond them intake refuses with a message naming the cap.
MAX_NAME_CHARS = 200  # a person's or an organisation's name
MAX_EMAIL_CHARS = 254  # RFC 5321's longest usable address
MAX_ANSWERS = 50  # written answers in one submission (credentials ask for a handful)
MAX_ANSWER_KEY_CHARS = 100
MAX_ANSWER_CHARS = 50_000  # about 8,000 words, ten times the longest answer any credential allows
MAX_ANSWERS_BYTES = 1 << 20  # the answers as sent (a JSON or YAML document)
MAX_FILES = 50
MAX_FILENAME_CHARS = 1_000  # as sent; the display name keeps at most 200
MAX_IDEMPOTENCY_KEY_CHARS = 255

# Text-direction controls: they can make a name display as something else (U+202E turns "ab" into "ba").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters (CR and LF among them), line and paragraph separators and lone surrogates.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_ANSWER_WHITESPACE = frozenset("\t\n\r")
# What a decoder puts where bytes were not valid text: a name holding it was mangled on the way.
_REPLACEMENT = "\ufffd"


class IntakeInvalid(IntakeRefused):
    """The request itself is malformed (forbidden characters, too deep, too long): fix it and send it again."""


class EvidenceTooLarge(IntakeInvalid):
    """A file is larger than its requirement (or the upload cap) allows; nothing of it was kept."""


class IdempotencyKeyReused(IntakeRefused):
    """An Idempotency-Key already named a submission with other content."""


class NothingChanged(IntakeRefused):
    """A resubmission holding exactly what an earlier attempt held: nothing was recorded or sent for review."""

    def __init__(self, *, attempt: int, submission_id: str) -> None:
        super().__init__(
            f"nothing changed: the answers and every file are the same as in attempt {attempt} "
            f"(submission {submission_id}), so nothing was resubmitted. Revise what the feedback letter "
            "asks for (an answer or a file), then resubmit."
        )


def same_content(
    answers: Mapping[str, str],
    files: Iterable[tuple[str, str]],
    *,
    before_answers: Mapping[str, str],
    before_files: Iterable[tuple[str, str]],
) -> bool:
    """Whether a resubmission holds exactly what an earlier attempt held.

    Args:
        answers: The new attempt's answers by question key.
        files: The new attempt's files as ``(requirement key, sha256)``, one per file.
        before_answers: The earlier attempt's answers.
        before_files: The earlier attempt's files, likewise.

    Returns:
        True when the answers are equal and the files are the same bytes under the same keys
        (names and order do not count: renaming a file changes nothing a reviewer reads).
    """
    return dict(answers) == dict(before_answers) and Counter(files) == Counter(before_files)


def refusal_status(refusal: IntakeRefused) -> int:
    """The HTTP status of a refusal: 413 for a file too large, 422 for a malformed request, else 409."""
    if isinstance(refusal, EvidenceTooLarge):
        return 413
    if isinstance(refusal, IntakeInvalid):
        return 422
    return 409


def _forbidden_characters(text: str, *, in_text: bool = False) -> list[str]:
    """The distinct forbidden characters of ``text`` as ``<U+XXXX>``.

    On one line (names, keys): control, line-breaking and text-direction characters, and U+FFFD
    (bytes that were not valid text). In a written
    answer (``in_text``): control characters other than tab and line breaks; right-to-left writing
    legitimately uses direction marks there.
    """
    if in_text:
        found = {ch for ch in text if ch not in _ANSWER_WHITESPACE and unicodedata.category(ch) in {"Cc", "Cs"}}
    else:
        found = {
            ch
            for ch in text
            if ch in _BIDI_CONTROLS or ch == _REPLACEMENT or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES
        }
    return [f"<U+{ord(ch):04X}>" for ch in sorted(found)]


def check_text_field(label: str, value: str, *, max_chars: int) -> str:
    """Refuse a name-like field with control, line-break or text-direction characters, or too long.

    Returns:
        The value without surrounding whitespace.

    Raises:
        IntakeInvalid: naming the field and the characters (never echoing more than a short excerpt).
    """
    bad = _forbidden_characters(value)
    if bad:
        raise IntakeInvalid(
            f"{label} '{printable(value, 60)}' contains characters that are not allowed in it "
            f"({', '.join(bad[:5])}): line breaks, control, text-direction or unreadable characters. Type it "
            "on one line without them."
        )
    if len(value) > max_chars:
        raise IntakeInvalid(f"{label} is {len(value):,} characters long; the limit is {max_chars:,}")
    return value.strip()


def parse_answers(text: str | bytes, *, source: str = "answers", yaml_too: bool = False) -> dict[str, Any]:
    """Parse a JSON (or, with ``yaml_too``, YAML) document of written answers within the caps.

    Args:
        text: The document as sent.
        source: How to name it in messages (``answers``, ``answers file plan.yaml``).
        yaml_too: Accept YAML as well (the CLI's answers files); the HTTP intake takes JSON.

    Returns:
        The mapping as parsed; :func:`submit` checks its keys and values.

    Raises:
        IntakeInvalid: too large, unreadable, nested too deeply, or not a mapping.
    """
    import yaml

    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_ANSWERS_BYTES:
        raise IntakeInvalid(f"{source} is {human_size(size)}; the limit is {human_size(MAX_ANSWERS_BYTES)}")
    try:
        # Both parsers recurse per nesting level: a deep document ends in RecursionError, caught below.
        data = yaml.safe_load(text) if yaml_too else json.loads(text)
    except RecursionError:
        raise IntakeInvalid(
            f"{source} is nested too deeply: send one object of question keys to answer texts"
        ) from None
    except yaml.YAMLError as exc:
        raise IntakeInvalid(printable(yaml_error(exc, source=source), 300)) from None
    except json.JSONDecodeError as exc:
        raise IntakeInvalid(f"{source} line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}") from None
    except ValueError as exc:
        raise IntakeInvalid(f"{source} is not JSON: {printable(str(exc), 200)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise IntakeInvalid(f"{source} must map question keys to answers")
    return data


@dataclass(frozen=True)
class ApplicantInfo:
    """Who is applying."""

    name: str
    email: str
    organisation: str


@dataclass(frozen=True)
class Upload:
    """One evidence file as sent: the requirement it answers, its name as sent, its bytes."""

    requirement_key: str
    filename: str
    stream: BinaryIO
    content_type: str | None = None


@dataclass(frozen=True)
class CarryOver:
    """An evidence file of the previous attempt kept as it was: named by its sha256, not sent again."""

    requirement_key: str
    sha256: str


@dataclass(frozen=True)
class IntakeRequest:
    """Everything one submission carries."""

    applicant: ApplicantInfo
    credential_id: str
    answers: Mapping[str, Any]
    uploads: Sequence[Upload] = field(default=())
    idempotency_key: str | None = None
    enrolled_on: date | None = None  # first enrolment date; later sends never move it
    carried: Sequence[CarryOver] = field(default=())  # resubmissions: unchanged files of the previous attempt
    previous_id: str | None = None  # resubmissions: the attempt this one follows (checked against the chain)
    # False when nobody proved the address (HTTP without a token): such a request may make a new
    # applicant but never touches an existing one's record (name, organisation, submissions).
    address_verified: bool = True


@dataclass(frozen=True)
class IntakeResult:
    """What intake did: the submission's id and state, and whether this call created it."""

    submission_id: str
    credential_id: str
    attempt: int
    state: str
    created: bool
    previous_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "credential_id": self.credential_id,
            "attempt": self.attempt,
            "state": self.state,
            "created": self.created,
            "previous_id": self.previous_id,
        }


def check_request(request: IntakeRequest) -> dict[str, str]:
    applicant = request.applicant
    name = check_text_field("applicant name", applicant.name, max_chars=MAX_NAME_CHARS)
    if not name:
        raise IntakeRefused("applicant name is empty")
    email = applicant.email.strip()
    if len(email) > MAX_EMAIL_CHARS or _forbidden_characters(email) or not EMAIL.match(email):
        raise IntakeInvalid(f"applicant email '{printable(applicant.email, 60)}' is not an email address")
    organisation = check_text_field("applicant organisation", applicant.organisation, max_chars=MAX_NAME_CHARS)
    if not organisation:
        raise IntakeRefused("applicant organisation is empty (it is needed to avoid reviewer conflicts)")
    if request.idempotency_key is not None and (
        len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS or _forbidden_characters(request.idempotency_key)
    ):
        raise IntakeInvalid(
            f"the Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters, without control characters"
        )
    if len(request.answers) > MAX_ANSWERS:
        raise IntakeInvalid(f"{len(request.answers):,} answers were sent; the limit is {MAX_ANSWERS}")
    files = len(request.uploads) + len(request.carried)
    if files > MAX_FILES:
        raise IntakeInvalid(f"{files:,} files were sent; the limit is {MAX_FILES}")
    keys = {u.requirement_key for u in request.uploads} | {c.requirement_key for c in request.carried}
    for requirement_key in keys:
        if len(requirement_key) > MAX_ANSWER_KEY_CHARS or _forbidden_characters(requirement_key):
            raise IntakeInvalid(
                f"requirement key '{printable(requirement_key, 40)}' is not a requirement key (short text on one line)"
            )
    for upload in request.uploads:
        if len(upload.filename) > MAX_FILENAME_CHARS:
            raise IntakeInvalid(
                f"a file name for {printable(upload.requirement_key, 40)!r} is {len(upload.filename):,} characters "
                f"long ('{printable(upload.filename, 40)}'); the limit is {MAX_FILENAME_CHARS:,}"
            )
    answers: dict[str, str] = {}
    for key, value in request.answers.items():
        label = printable(str(key), 40)
        if not isinstance(key, str) or len(key) > MAX_ANSWER_KEY_CHARS or _forbidden_characters(key):
            raise IntakeInvalid(f"answer key '{label}' is not a question key (short text on one line)")
        if not isinstance(value, str):
            raise IntakeInvalid(f"the answer to '{label}' must be text, not {type(value).__name__}")
        if len(value) > MAX_ANSWER_CHARS:
            raise IntakeInvalid(
                f"the answer to '{label}' is {len(value):,} characters long; the limit is {MAX_ANSWER_CHARS:,}"
            )
        bad = _forbidden_characters(value, in_text=True)
        if bad:
            raise IntakeInvalid(
                f"the answer to '{label}' contains control characters ({', '.join(bad[:5])}); paste it as plain text"
            )
        answers[key] = value
    return answers


def _closest(key: str, keys: Sequence[str]) -> str:
    import difflib

    # A shortened key ("video" for "discussion_video") or a misspelt one ("reflecton").
    near = [known for known in keys if key and key.lower() in known] or difflib.get_close_matches(key, keys, n=1)
    return f" (did you mean '{near[0]}'?)" if near else ""


def check_keys(credential: Credential, *, answers: Iterable[str], files: Iterable[str]) -> None:
    """Refuse answers and files under keys the credential does not ask for, before anything is sent.

    Intake itself records such a submission and validation returns it; a sender that knows the
    catalog (the CLI) checks first, so a misspelt key costs no upload.

    Args:
        credential: The micro-credential applied for.
        answers: The keys of the written answers.
        files: The requirement key of each file.

    Raises:
        IntakeInvalid: naming every unknown key and the keys the credential allows.
    """
    questions = [req.key for req in credential.text_requirements]
    uploads = [req.key for req in credential.file_requirements]
    problems = []
    for key in dict.fromkeys(files):
        if key in questions:
            problems.append(f"'{key}' is a written answer, not a file: put it in the answers file")
        elif key not in uploads:
            problems.append(
                f"no file is asked for under '{printable(key, 40)}'{_closest(key, uploads)}; "
                f"the files are: {', '.join(uploads) or 'none'}"
            )
    for key in dict.fromkeys(answers):
        if key in uploads:
            problems.append(f"'{key}' takes a file, not a written answer: send it as a file")
        elif key not in questions:
            problems.append(
                f"no question '{printable(str(key), 40)}'{_closest(str(key), questions)}; "
                f"the questions are: {', '.join(questions) or 'none'}"
            )
    if problems:
        raise IntakeInvalid(f"{credential.id}: " + "; ".join(problems))


def access_ends(enrolled_on: date, years: int) -> date:
    """The last day of access: the enrolment date plus ``years`` (29 February falls back to the 28th)."""
    try:
        return enrolled_on.replace(year=enrolled_on.year + years)
    except ValueError:
        return enrolled_on.replace(year=enrolled_on.year + years, day=28)


def check_access_window(*, credential: Credential, enrolled_on: date, today: date) -> None:
    """Refuse a submission outside the applicant's access window.

    Raises:
        IntakeRefused: with the enrolment date, the window and what to do.
    """
    if today < enrolled_on:
        raise IntakeRefused(f"enrolment for {credential.id} starts on {enrolled_on}; it cannot be used before then")
    ends = access_ends(enrolled_on, credential.access_years)
    if today > ends:
        raise IntakeRefused(
            f"access to {credential.title!r} ended on {ends}: enrolled on {enrolled_on} with "
            f"{credential.access_years} years of access. Ask your program administrator to renew the enrolment."
        )


class Attempt(Protocol):
    """What :func:`next_attempt` reads of a chain's latest submission (a ``Submission`` row is one)."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def attempt(self) -> int: ...

    @property
    def state_since(self) -> datetime: ...


def next_attempt(latest: Attempt | None, credential: Credential, *, now: datetime, unlocks: int = 0) -> int:
    """The attempt number a new submission gets after ``latest`` in the same chain.

    A returned (incomplete) or withdrawn attempt costs nothing: the correction keeps its
    number. After "not yet" the next attempt counts, up to the catalog's limit.

    Raises:
        IntakeRefused: the chain does not accept a new submission now, saying why.
    """
    if latest is None:
        return 1
    state = State(latest.state)
    if state in (State.RETURNED, State.WITHDRAWN):
        return latest.attempt
    if state is State.NOT_YET:
        if latest.attempt >= credential.max_attempts + unlocks:
            raise IntakeRefused(
                f"all {credential.max_attempts} attempts at {credential.id} are used; "
                "an operator must unlock the chain after a coaching meeting"
            )
        deadline = latest.state_since + timedelta(days=credential.resubmission_window_days)
        if now > deadline:
            raise IntakeRefused(f"the resubmission window for submission {latest.id} closed on {deadline.date()}")
        return latest.attempt + 1
    if state is State.EARNED:
        raise IntakeRefused(f"{credential.id} is already earned (submission {latest.id})")
    if state is State.CLOSED:
        raise IntakeRefused(f"the attempts at {credential.id} are closed (submission {latest.id}); ask an operator")
    if state is State.FAILED:
        raise IntakeRefused(f"submission {latest.id} hit a system failure; operators are on it, no new send needed")
    raise IntakeRefused(f"submission {latest.id} for {credential.id} is still {state}; wait for its result")


def derived_key(
    email: str, credential_id: str, answers: dict[str, str], stored: list[tuple[Upload, StoredObject]]
) -> str:
    content = {
        "email": email,
        "credential": credential_id,
        "answers": answers,
        "files": sorted([upload.requirement_key, obj.sha256] for upload, obj in stored),
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"content:{digest}"


def client_key(email: str, key: str) -> str:
    # Namespaced by applicant: two applicants who pick the same key never see each other's work.
    return "client:" + hashlib.sha256(f"{email}\n{key}".encode()).hexdigest()
