"""Findings 6 (intake), 7 and 8 as an attacker sends them: refused or made safe, nothing stored, nothing stalled."""

from __future__ import annotations

import io
import json
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import demo_evidence as ev
from cli.main import app as cli
from credflow.db.models import (
    Applicant,
    Assignment,
    Event,
    EvidenceItem,
    OutgoingMessage,
    Reviewer,
    Submission,
    Transcode,
    new_id,
)
from credflow.errors import IntakeRefused
from credflow.intake.rules import EvidenceTooLarge, IntakeRequest, Upload
from credflow.intake.stage import submit
from credflow.keyring import Purpose
from credflow.lifecycle import State
from credflow.mail.base import Message, SendReceipt
from credflow.mail.outbox import OutboxMailer
from credflow.notifications.rules import Delivery, Notice
from credflow.notifications.stage import send_notice
from credflow.review.links import issue_token
from credflow.services import Services
from credflow.storage.base import new_key
from credflow.submissions import get_submission
from credflow.validation.stage import run_validation
from tests.utils import badfiles
from tests.utils.builders import anchoring_answers, anchoring_request, applicant
from tests.utils.identity import bearer
from web.app import create_app

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 (not in the lock); its test client still works with httpx.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANCHORING = "openscied-anchoring-phenomenon"
UDL = "udl-level-1"
#: No refusal quotes more of what it was sent than this (a 5 MB file name came back in a 5 MB answer).
SHORT = 2_000


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services, now=lambda: NOW), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ev.pdf(tmp_path_factory.mktemp("plan") / "plan.pdf", "Facilitation plan").read_bytes()


def fresh_email() -> str:
    """A new address per send: a first submission needs no API token."""
    return f"t-{uuid.uuid4().hex[:12]}@example.org"


def form(address: str, **overrides: Any) -> dict[str, Any]:
    """The fields of a complete anchoring-phenomenon submission (files go separately)."""
    fields: dict[str, Any] = {
        "name": "Ana Alvarez",
        "email": address,
        "organisation": "Riverside Unified",
        "credential_id": ANCHORING,
        "answers": json.dumps(anchoring_answers()),
        "requirement_keys": ["facilitation_plan"],
    }
    fields.update(overrides)
    return fields


def post(client: TestClient, fields: dict[str, Any], files: list[tuple[str, bytes]], **headers: str) -> Any:
    return client.post(
        "/api/submissions",
        data=fields,
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers=headers,
    )


def submissions(services: Services) -> int:
    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


def stored_files(services: Services) -> list[Path]:
    root = services.settings.resolved_storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def still_answering(client: TestClient) -> bool:
    return client.get("/healthz").status_code == 200


def cli_env(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))


def cli_submit(tmp_path: Path, *, name: str = "Cy Doe", answers: Path | None = None) -> Any:
    plan_file = ev.pdf(tmp_path / "cli-plan.pdf", "CLI plan")
    if answers is None:
        answers = tmp_path / "answers.json"
        answers.write_text(json.dumps(anchoring_answers()))
    args = ["submit", "--name", name, "--email", fresh_email(), "--organisation", "Lakeside ISD"]
    args += ["--credential", ANCHORING, "--answers", str(answers), "--no-run"]
    args += ["--evidence", f"facilitation_plan={plan_file}"]
    return CliRunner().invoke(cli, args)


def validated(services: Services, uploads: list[Upload], *, credential: str = UDL) -> Any:
    """Submit through intake and validate: the outcome the applicant is sent."""
    answers = (
        {"learner_variability": ev.words(200), "reflection": ev.words(250, seed=1)}
        if credential == UDL
        else anchoring_answers()
    )
    who = applicant(f"Case {uuid.uuid4().hex[:10]}")
    result = submit(services, IntakeRequest(applicant=who, credential_id=credential, answers=answers, uploads=uploads))
    return run_validation(services, result.submission_id)


# --------------------------------------------------------------------------- finding 7: CR/LF in a name


HOSTILE_NAMES = {
    "CR/LF header injection": "Ana\r\nBcc: everyone@example.org",
    "a bare line feed": "Ana\nAlvarez",
    "right-to-left override": "Ana \u202efdp.exe",
    "a right-to-left isolate": "Ana \u2067Alvarez",
    "a NUL byte": "Ana\x00Alvarez",
    "a terminal escape": "Ana \x1b[31mAlvarez",
    "a Unicode line separator": "Ana\u2028Alvarez",
}


@pytest.mark.parametrize("field", ["name", "organisation"])
@pytest.mark.parametrize("label", list(HOSTILE_NAMES))
def test_f7_names_and_organisations_with_line_breaks_control_or_bidi_characters_are_refused_over_http(
    services: Services, client: TestClient, plan: bytes, field: str, label: str
) -> None:
    response = post(client, form(fresh_email(), **{field: HOSTILE_NAMES[label]}), [("plan.pdf", plan)])
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"applicant {field}" in detail and "not allowed" in detail and "<U+" in detail
    assert submissions(services) == 0 and stored_files(services) == []
    assert still_answering(client)


def test_f7_the_cli_refuses_a_name_with_a_line_break_and_blames_the_name_not_enrolled_on(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(services, monkeypatch)
    result = cli_submit(tmp_path, name="Cy\r\nBcc: everyone@example.org")
    assert result.exit_code == 2, result.output
    assert "applicant name" in result.output and "<U+000D>" in result.output
    assert "--enrolled-on" not in result.output and "Traceback" not in result.output
    assert submissions(services) == 0 and stored_files(services) == []


def test_f7_a_name_stored_before_the_check_gets_a_clean_email_and_the_submission_moves_on(
    services: Services, tmp_path: Path
) -> None:
    sid = submit(services, anchoring_request(tmp_path), now=NOW).submission_id
    with services.db.session() as session:  # as a record made before intake refused such names
        get_submission(session, sid).applicant.name = "Ana\r\nBcc: everyone@example.org\u202e"
    assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.SENT
    [eml] = services.settings.resolved_outbox_dir.glob("*.eml")
    mail = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert mail["Bcc"] is None and "\n" not in str(mail["To"]) and "\u202e" not in str(mail["To"])
    assert "Ana Bcc: everyone@example.org" in str(mail["To"])
    assert run_validation(services, sid).state is State.AWAITING_REVIEW


class _BrokenMailer:
    """Raises what the email library raises for a header it cannot build, for every applicant notice."""

    def __init__(self, inner: OutboxMailer) -> None:
        self.inner = inner
        self.tries: list[str] = []

    def send(self, message: Message) -> SendReceipt:
        if message.kind != "operator_alert":
            self.tries.append(message.idempotency_key)
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return self.inner.send(message)


@pytest.fixture
def broken_mail(make_settings: Any) -> Iterator[tuple[Services, _BrokenMailer]]:
    from credflow.services import build_services

    base = build_services(make_settings(operator_email="ops@example.org"))
    mailer = _BrokenMailer(OutboxMailer(base.settings.resolved_outbox_dir, sender="credflow@example.org"))
    svc = base.__class__(**{**base.__dict__, "mailer": mailer})
    yield svc, mailer
    base.close()


def test_f7_an_email_that_cannot_be_built_is_given_up_the_operator_told_and_the_submission_moves_on(
    broken_mail: tuple[Services, _BrokenMailer], tmp_path: Path
) -> None:
    svc, mailer = broken_mail
    sid = submit(svc, anchoring_request(tmp_path), now=NOW).submission_id
    outcome = send_notice(svc, sid, Notice.RECEIVED)
    assert outcome.delivery is Delivery.FAILED and "linefeed" in (outcome.error or "")
    assert send_notice(svc, sid, Notice.RECEIVED).delivery is Delivery.FAILED  # given up: not tried again
    assert mailer.tries == [f"received:{sid}"]
    with svc.db.session() as session:
        row = session.scalar(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == f"received:{sid}"))
        assert row is not None and row.state == "failed"
        assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "message_failed")) == 1
    [alert] = mailer.inner.list_messages()
    assert alert["kind"] == "operator_alert" and alert["to"] == "ops@example.org"
    assert run_validation(svc, sid).state is State.AWAITING_REVIEW  # the submission is not stuck in received


def test_f7_a_notice_that_cannot_be_rendered_is_given_up_too(
    broken_mail: tuple[Services, _BrokenMailer], tmp_path: Path
) -> None:
    svc, mailer = broken_mail
    sid = submit(svc, anchoring_request(tmp_path), now=NOW).submission_id
    with svc.db.session() as session:  # an address no header takes (a record older than intake's checks)
        get_submission(session, sid).applicant.email = "ana@example.org\r\nBcc: everyone@example.org"
    outcome = send_notice(svc, sid, Notice.RECEIVED)
    assert outcome.delivery is Delivery.FAILED and "could not be rendered" in (outcome.error or "")
    assert mailer.tries == []  # nothing reached the mailer
    assert [m["kind"] for m in mailer.inner.list_messages()] == ["operator_alert"]
    assert run_validation(svc, sid).state is State.AWAITING_REVIEW


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_f7_the_submission_flow_survives_an_unsendable_received_email(
    broken_mail: tuple[Services, _BrokenMailer], tmp_path: Path
) -> None:
    from flows.submission import run_submission
    from tasks.runtime import use_services

    svc, _ = broken_mail
    sid = submit(svc, anchoring_request(tmp_path)).submission_id
    with use_services(svc):
        assert run_submission(sid) == "awaiting_review"  # `credflow run` crashed here and left it received
    with svc.db.session() as session:
        assert get_submission(session, sid).state == State.AWAITING_REVIEW


# --------------------------------------------------------------------------- finding 8: nesting and sizes


DEEP = "[" * 200_000 + "]" * 200_000


def test_f8_deeply_nested_answers_are_422_over_http(services: Services, client: TestClient, plan: bytes) -> None:
    response = post(client, form(fresh_email(), answers=DEEP), [("plan.pdf", plan)])
    assert response.status_code == 422 and "nested too deeply" in response.text
    assert len(response.content) < SHORT
    assert submissions(services) == 0 and stored_files(services) == [] and still_answering(client)


def test_f8_deeply_nested_answers_exit_2_on_the_cli(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(services, monkeypatch)
    for suffix, text in ((".json", DEEP), (".yaml", "- " * 50_000 + "x")):
        deep = tmp_path / f"deep{suffix}"
        deep.write_text(text)
        result = cli_submit(tmp_path, answers=deep)
        assert result.exit_code == 2, result.output
        assert "nested too deeply" in result.output and "RecursionError" not in result.output
        assert "Traceback" not in result.output
    assert submissions(services) == 0


def test_f6_the_cli_answers_file_is_capped_before_it_is_read(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(services, monkeypatch)
    huge = tmp_path / "answers.yaml"
    with huge.open("wb") as fh:  # 50 MB, sparse: nothing is written, so the test costs nothing
        fh.truncate(50 << 20)
    result = cli_submit(tmp_path, answers=huge)
    assert result.exit_code == 2 and "larger than 1024 KB" in result.output, result.output
    assert submissions(services) == 0 and stored_files(services) == []


def _too_many_answers() -> str:
    return json.dumps({f"q{i}": "x" for i in range(51)})


OVERSIZE_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "a 201-character name": ({"name": "A" * 201}, "the limit is 200"),
    "a 5,000-character organisation": ({"organisation": "O" * 5_000}, "the limit is 200"),
    "a 60,000-character answer": (
        {"answers": json.dumps({**anchoring_answers(), "reflection": "word " * 12_000})},
        "the limit is 50,000",
    ),
    "51 answers": ({"answers": _too_many_answers()}, "51 answers were sent; the limit is 50"),
    "answers over 1 MB": ({"answers": json.dumps({"reflection": "x" * (1 << 20)})}, "maximum size"),
    "a 300-character email": ({"email": "a" * 300 + "@example.org"}, "is not an email address"),
    "a 500 KB credential id": ({"credential_id": "c" * 500_000}, "no micro-credential"),
    "a 5 MB credential id": ({"credential_id": "c" * (5 << 20)}, "maximum size"),
    "a 5,000-character requirement key": ({"requirement_keys": ["k" * 5_000]}, "is not a requirement key"),
    "a control character in an answer": (
        {"answers": json.dumps({**anchoring_answers(), "reflection": "fine\x00hidden"})},
        "contains control characters",
    ),
}


@pytest.mark.parametrize("label", list(OVERSIZE_FIELDS))
def test_f8_fields_over_their_caps_get_4xx_and_an_excerpt_not_an_echo(
    services: Services, client: TestClient, plan: bytes, label: str
) -> None:
    overrides, fragment = OVERSIZE_FIELDS[label]
    response = post(client, form(fresh_email(), **overrides), [("plan.pdf", plan)])
    assert 400 <= response.status_code < 500 and response.status_code != 404, response.status_code
    assert fragment in response.text, response.text[:300]
    assert len(response.content) < SHORT
    assert submissions(services) == 0 and stored_files(services) == [] and still_answering(client)


def test_f8_a_5_mb_file_name_is_refused_without_being_echoed(
    services: Services, client: TestClient, plan: bytes
) -> None:
    response = post(client, form(fresh_email()), [("p" * (5 << 20) + ".pdf", plan)])
    assert 400 <= response.status_code < 500, response.status_code
    assert len(response.content) < SHORT
    # A name that arrives another way (an upload URL's grant) meets intake's own cap, quoted as an excerpt.
    request = IntakeRequest(
        applicant=applicant(),
        credential_id=ANCHORING,
        answers=anchoring_answers(),
        uploads=[Upload("facilitation_plan", "p" * (5 << 20) + ".pdf", io.BytesIO(plan))],
    )
    with pytest.raises(IntakeRefused, match="the limit is 1,000") as refused:
        submit(services, request)
    assert len(str(refused.value)) < 300
    assert submissions(services) == 0 and stored_files(services) == [] and still_answering(client)


def test_f8_more_files_than_the_cap_are_refused(services: Services, tmp_path: Path) -> None:
    uploads = [Upload("facilitation_plan", f"p{i}.pdf", io.BytesIO(b"%PDF-1.4")) for i in range(51)]
    request = IntakeRequest(
        applicant=applicant(), credential_id=ANCHORING, answers=anchoring_answers(), uploads=uploads
    )
    with pytest.raises(IntakeRefused, match="51 files were sent; the limit is 50"):
        submit(services, request)
    assert submissions(services) == 0 and stored_files(services) == []


# --------------------------------------------------------------------------- finding 6: sizes as the bytes arrive


def test_f6_a_file_over_its_requirements_limit_is_refused_as_it_arrives_and_nothing_stays(
    services: Services, client: TestClient
) -> None:
    oversize = b"%PDF-1.4\n" + bytes(26 << 20)  # facilitation_plan takes 25 MB
    response = post(client, form(fresh_email()), [("plan.pdf", oversize)])
    assert response.status_code == 413, response.text
    assert "'plan.pdf' is larger than 25.0 MB, the limit for 'Facilitation plan'" in response.json()["detail"]
    assert submissions(services) == 0 and stored_files(services) == [] and still_answering(client)


def test_f6_the_upload_cap_is_stated_in_human_units(make_settings: Any, tmp_path: Path) -> None:
    from credflow.services import build_services

    svc = build_services(make_settings(ingest_max_bytes=10 << 20))
    try:
        clip = Upload("classroom_video", "lesson.mp4", io.BytesIO(bytes(11 << 20)))  # the video takes 2 GB
        request = IntakeRequest(
            applicant=applicant(),
            credential_id=UDL,
            answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
            uploads=[clip],
        )
        with pytest.raises(EvidenceTooLarge, match=r"'lesson.mp4' is larger than the upload cap of 10.0 MB"):
            submit(svc, request)
        assert stored_files(svc) == []
    finally:
        svc.close()


# --------------------------------------------------------------------------- finding 8: evidence named for what it is


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda t: badfiles.png_declaring(t, 60_000, 60_000), "declares a size of 3,600 million pixels"),
        (lambda t: badfiles.jpeg_declaring(t, 60_000, 60_000), "declares a size of 3,600 million pixels"),
        (lambda t: badfiles.png_declaring(t, 20_000, 10_000), "declares a size of 200 million pixels"),
    ],
    ids=["png-60000x60000", "jpeg-60000x60000", "png-20000x10000"],
)
def test_f8_decompression_bomb_pictures_are_returned_for_their_declared_pixels(
    services: Services, tmp_path: Path, plan: bytes, make: Any, fragment: str
) -> None:
    bomb = make(tmp_path)
    outcome = validated(
        services,
        [
            Upload("facilitation_plan", "plan.pdf", io.BytesIO(plan)),
            Upload("dqb_artifact", bomb.name, io.BytesIO(bomb.read_bytes())),
        ],
        credential=ANCHORING,
    )
    assert outcome.state is State.RETURNED
    [problem] = outcome.problems
    assert problem.code == "image_too_many_pixels" and fragment in problem.message


NAMED = {
    "Linux program named .pdf": (badfiles.elf_named_pdf, "is a Linux or Unix program (ELF)"),
    "Windows program named .pdf": (badfiles.pe_named_pdf, "is a Windows program (.exe or .dll)"),
    "macOS program named .docx": (badfiles.macho_named_docx, "is a macOS program (Mach-O)"),
    "shell script named .pdf": (badfiles.script_named_pdf, "is a script (a program written as text)"),
    "Java program named .docx": (badfiles.jar_named_docx, "is a Java program (JAR)"),
    "Android app named .docx": (badfiles.apk_named_docx, "is an Android app (APK)"),
    "encrypted zip named .docx": (
        lambda t: badfiles.encrypted_zip(t, "plan.docx"),
        "is a password-protected zip archive",
    ),
    "RAR archive named .pdf": (badfiles.rar_named_pdf, "is a RAR archive"),
}


@pytest.mark.parametrize("label", list(NAMED))
def test_f8_programs_encrypted_archives_and_other_known_kinds_are_named_for_what_they_are(
    services: Services, tmp_path: Path, label: str
) -> None:
    make, fragment = NAMED[label]
    path = make(tmp_path)
    outcome = validated(services, [Upload("udl_lesson_plan", path.name, io.BytesIO(path.read_bytes()))])
    assert outcome.state is State.RETURNED
    [problem] = outcome.problems
    assert fragment in problem.message, problem.message
    assert "not a file type credflow recognises" not in problem.message


def test_f8_windows_device_names_are_made_safe_as_display_names(
    services: Services, client: TestClient, plan: bytes
) -> None:
    names = ["CON.pdf", "nul.pdf"]
    response = post(
        client,
        form(fresh_email(), requirement_keys=["facilitation_plan"] * 2),
        [(name, plan + name.encode()) for name in names],
    )
    assert response.status_code == 201, response.text
    with services.db.session() as session:
        items = session.scalars(
            select(EvidenceItem).where(EvidenceItem.submission_id == response.json()["submission_id"])
        )
        assert sorted(i.display_name for i in items) == ["CON_.pdf", "nul_.pdf"]


# --------------------------------------------------------------------------- finding 8: Idempotency-Key


def test_f8_an_idempotency_key_reused_with_other_content_is_refused_409(
    services: Services, client: TestClient, plan: bytes
) -> None:
    email = fresh_email()
    first = post(client, form(email), [("plan.pdf", plan)], **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    sid = first.json()["submission_id"]
    auth = bearer(services, email, now=NOW)  # a returning address sends its API token
    other_answers = json.dumps({**anchoring_answers(), "reflection": ev.words(300, seed=9)})
    for fields, files in (
        (form(email, answers=other_answers), [("plan.pdf", plan)]),  # other answers
        (form(email), [("plan.pdf", plan + b"% changed")]),  # the same name, other bytes
        (form(email), [("plan.pdf", plan), ("extra.pdf", plan + b"% extra")]),  # another file
    ):
        if len(files) == 2:
            fields["requirement_keys"] = ["facilitation_plan"] * 2
        reused = post(client, fields, files, **{"Idempotency-Key": "k-1"}, **auth)
        assert reused.status_code == 409, reused.text
        assert "already used for a submission with other content" in reused.json()["detail"]
        assert sid not in reused.text
    again = post(client, form(email), [("plan.pdf", plan)], **{"Idempotency-Key": "k-1"}, **auth)
    assert again.status_code == 201 and again.json()["submission_id"] == sid and again.json()["created"] is False
    assert submissions(services) == 1 and len(stored_files(services)) == 1
    with services.db.session() as session:
        assert get_submission(session, sid).answers == anchoring_answers()  # the first content, untouched


# --------------------------------------------------------------------------- finding 8: 500s that become 4xx


@dataclass(frozen=True)
class VideoLink:
    path: str
    size: int


@pytest.fixture
def video_link(services: Services, tmp_path: Path) -> VideoLink:
    """A review link to a submission whose video has a (fake) review copy in the store."""
    clip = b"\x00\x00\x00\x18ftypmp42" + bytes(4_000)
    request = IntakeRequest(
        applicant=applicant(f"Vi {uuid.uuid4().hex[:8]}"),
        credential_id=UDL,
        answers={"learner_variability": ev.words(200), "reflection": ev.words(250)},
        uploads=[
            Upload("udl_lesson_plan", "plan.pdf", io.BytesIO(ev.pdf(tmp_path / "p.pdf", "UDL").read_bytes())),
            Upload("classroom_video", "lesson.mp4", io.BytesIO(clip)),
        ],
    )
    sid = submit(services, request, now=NOW).submission_id
    copy = services.store.put_stream(new_key("review"), io.BytesIO(clip))
    nonce, due = new_id(), NOW + timedelta(days=5)
    with services.db.session() as session:
        video = next(i for i in get_submission(session, sid).evidence if i.requirement_key == "classroom_video")
        session.add(Transcode(input_sha256=video.sha256, state="done", output_key=copy.key))
        reviewer = Reviewer(email=f"r-{nonce[:8]}@example.org", name="Sam Example", organisation="Hillside")
        session.add(reviewer)
        session.flush()
        assignment = Assignment(
            submission_id=sid, reviewer_id=reviewer.id, role="review", state="active", token_nonce=nonce,
            criteria=[], scores={}, due_at=due,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        token = issue_token(services.settings.keyring, assignment_id=assignment.id, nonce=nonce, due_at=due)
        return VideoLink(f"/review/{token}/video/{video.id}", len(clip))


def test_f8_a_range_header_with_5000_digits_is_416_or_the_whole_object_never_500(
    client: TestClient, video_link: VideoLink
) -> None:
    digits = "9" * 5_000
    past_the_end = client.get(video_link.path, headers={"Range": f"bytes={digits}-"})
    assert past_the_end.status_code == 416 and past_the_end.headers["content-range"] == f"bytes */{video_link.size}"
    for header in (f"bytes=0-{digits}", f"bytes=-{digits}"):  # an end or suffix past the object: all of it
        whole = client.get(video_link.path, headers={"Range": header})
        assert whole.status_code == 206, header
        assert whole.headers["content-range"] == f"bytes 0-{video_link.size - 1}/{video_link.size}"
    assert still_answering(client)


@pytest.mark.parametrize("expiry", [10**30, 10**15, -(10**15)], ids=["1e30", "1e15", "-1e15"])
def test_f8_a_review_token_with_an_expiry_no_calendar_holds_is_403_never_500(
    services: Services, client: TestClient, expiry: int
) -> None:
    # Signed with the real key: only someone holding it could make one, but it must still not crash the page.
    token = services.settings.keyring.serializer(Purpose.REVIEW_LINK).dumps({"a": "x", "n": "y", "e": expiry})
    response = client.get(f"/review/{token}")
    assert response.status_code == 403 and "not valid" in response.text
    assert still_answering(client)


def test_f7_a_refused_name_leaves_no_applicant_record_behind(services: Services, client: TestClient) -> None:
    fields = form(fresh_email(), name="Ana\r\nX")
    del fields["requirement_keys"]  # no files either: the name alone is what is refused
    response = post(client, fields, [])
    assert response.status_code == 422 and "applicant name" in response.text
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Applicant)) == 0
