"""Tests of SendGridMailer over real HTTP against the local FakeSendGrid server."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from credflow.mail.base import Attachment, Mailer, Message, PermanentMailError, TransientMailError
from credflow.mail.sendgrid import SendGridMailer, parse_retry_after
from tests.utils.fakes.sendgrid_server import BAD_ADDRESS, BAD_AUTH, UNVERIFIED_SENDER, FakeSendGrid

SENDER = "credflow <no-reply@credflow.example>"


class SleepRecorder:
    """Stands in for time.sleep and remembers every wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


def make_mailer(fake: FakeSendGrid, sleep: SleepRecorder, **options: object) -> SendGridMailer:
    settings: dict[str, object] = {"api_key": fake.api_key, "sender": SENDER, "host": fake.url, "sleep": sleep}
    settings.update(options)
    return SendGridMailer(**settings)  # type: ignore[arg-type]


def make_message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "idempotency_key": "submission/42:decision",
        "kind": "decision",
        "to_email": "ada@example.org",
        "to_name": "Ada Lovelace",
        "subject": "Your micro-credential decision",
        "text": "Congratulations.",
        "html": "<p>Congratulations.</p>",
    }
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def test_accepted_message_fields(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    pdf = Attachment("certificate.pdf", "application/pdf", b"%PDF-1.7 \x00\xff")
    receipt = make_mailer(fake, sleep).send(make_message(attachments=(pdf,)))

    assert receipt.backend == "sendgrid"
    [accepted] = fake.messages
    assert receipt.provider_id == accepted.message_id
    payload = accepted.payload
    assert payload["from"] == {"email": "no-reply@credflow.example", "name": "credflow"}
    assert payload["personalizations"][0]["to"] == [{"email": "ada@example.org", "name": "Ada Lovelace"}]
    assert payload["subject"] == "Your micro-credential decision"
    assert payload["content"] == [
        {"type": "text/plain", "value": "Congratulations."},
        {"type": "text/html", "value": "<p>Congratulations.</p>"},
    ]
    [attachment] = payload["attachments"]
    assert attachment["filename"] == "certificate.pdf"
    assert attachment["type"] == "application/pdf"
    assert base64.b64decode(attachment["content"]) == pdf.data
    assert payload["custom_args"] == {"idempotency_key": "submission/42:decision"}
    assert payload["headers"] == {"X-Credflow-Idempotency-Key": "submission/42:decision"}
    assert accepted.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert sleep.waits == []


def test_429_with_retry_after_then_success(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    fake.fail_next(status=429, times=2, retry_after=3)
    receipt = make_mailer(fake, sleep).send(make_message())
    assert sleep.waits == [3.0, 3.0]
    assert fake.request_count == 3
    assert receipt.provider_id == fake.messages[0].message_id


def test_retry_after_as_http_date(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake.fail_next(status=429, retry_after=format_datetime(when, usegmt=True))
    make_mailer(fake, sleep).send(make_message())
    [wait] = sleep.waits
    assert 25 <= wait <= 31


def test_503_exhausts_into_transient(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    fake.fail_next(status=503, times=10)
    mailer = make_mailer(fake, sleep, max_attempts=3)
    with pytest.raises(TransientMailError, match="503") as caught:
        mailer.send(make_message())
    assert fake.request_count == 3
    assert fake.messages == []
    # No Retry-After: exponential backoff with jitter, each wait within [ceiling/2, ceiling].
    assert len(sleep.waits) == 2
    assert 0.5 <= sleep.waits[0] <= 1.0
    assert 1.0 <= sleep.waits[1] <= 2.0
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0


def test_503_with_retry_after_reports_it(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    fake.fail_next(status=503, times=2, retry_after=7)
    with pytest.raises(TransientMailError) as caught:
        make_mailer(fake, sleep, max_attempts=2).send(make_message())
    assert sleep.waits == [7.0]
    assert caught.value.retry_after == 7.0


def test_retry_after_beyond_cap_is_handed_to_the_caller(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    fake.fail_next(status=429, retry_after=600)
    with pytest.raises(TransientMailError) as caught:
        make_mailer(fake, sleep, max_retry_after=60).send(make_message())
    assert sleep.waits == []
    assert caught.value.retry_after == 600.0
    assert fake.request_count == 1


def test_400_is_permanent_with_the_reason(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    with pytest.raises(PermanentMailError) as caught:
        make_mailer(fake, sleep).send(make_message(to_email="not-an-address"))
    assert str(caught.value) == f"SendGrid refused the message (400): {BAD_ADDRESS}"
    assert fake.request_count == 1
    assert sleep.waits == []


def test_unverified_sender_is_permanent(sleep: SleepRecorder) -> None:
    with (
        FakeSendGrid(verified_senders={"someone-else@credflow.example"}) as fake,
        pytest.raises(PermanentMailError, match="verified Sender Identity") as caught,
    ):
        make_mailer(fake, sleep).send(make_message())
    assert str(caught.value).startswith("SendGrid refused the message (403): ")
    assert UNVERIFIED_SENDER in str(caught.value)


def test_bad_api_key_is_permanent(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    with pytest.raises(PermanentMailError, match=r"\(401\)") as caught:
        make_mailer(fake, sleep, api_key="SG.wrong").send(make_message())
    assert BAD_AUTH in str(caught.value)
    assert "SG.wrong" not in str(caught.value)
    assert fake.request_count == 1


def test_connection_refused_is_transient(sleep: SleepRecorder) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mailer = SendGridMailer(
        api_key="SG.x", sender=SENDER, host=f"http://127.0.0.1:{port}", max_attempts=2, sleep=sleep, timeout=2
    )
    with pytest.raises(TransientMailError, match="unreachable"):
        mailer.send(make_message())
    assert len(sleep.waits) == 1


def test_timeout_is_transient(sleep: SleepRecorder) -> None:
    with socket.socket() as listener:
        # The kernel completes the handshake from the backlog, but nobody ever answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        mailer = SendGridMailer(
            api_key="SG.x", sender=SENDER, host=f"http://127.0.0.1:{port}", max_attempts=1, sleep=sleep, timeout=0.2
        )
        with pytest.raises(TransientMailError, match="unreachable") as caught:
            mailer.send(make_message())
    assert caught.value.retry_after is not None


def test_fake_rejects_bad_content_order(fake: FakeSendGrid) -> None:
    import json
    import urllib.error
    import urllib.request

    body = {
        "personalizations": [{"to": [{"email": "a@example.org"}]}],
        "from": {"email": "b@example.org"},
        "subject": "s",
        "content": [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}],
    }
    request = urllib.request.Request(
        f"{fake.url}/v3/mail/send",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["errors"][0]["field"] == "content"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("5", 5.0), ("1.5", 1.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:42 GMT", now=now) == 42.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0


def test_is_a_mailer(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    mailer = make_mailer(fake, sleep)
    as_protocol: Mailer = mailer  # mypy checks the structural match
    assert as_protocol is mailer


def test_the_reply_to_reaches_sendgrid_only_when_the_message_has_one(fake: FakeSendGrid, sleep: SleepRecorder) -> None:
    mailer = make_mailer(fake, sleep)
    mailer.send(make_message(reply_to="support@openscied.org"))
    mailer.send(make_message(idempotency_key="other"))
    answered, plain = fake.messages
    assert answered.payload["reply_to"] == {"email": "support@openscied.org"}
    assert answered.payload["from"] == {"email": "no-reply@credflow.example", "name": "credflow"}
    assert "reply_to" not in plain.payload
