"""Applicant notices: rendered safely, sent exactly once across retries, re-runs and concurrent runs."""

import email.message
import threading
import time

import pytest
from sqlalchemy import select

from credflow.db.models import Event, OutgoingMessage
from credflow.errors import TransientError
from credflow.intake.rules import ApplicantInfo
from credflow.intake.stage import submit
from credflow.mail.base import Message, SendReceipt, TransientMailError
from credflow.mail.outbox import OutboxMailer
from credflow.notifications.rules import Delivery, Notice
from credflow.notifications.stage import deliver, render_notice, send_notice
from credflow.services import build_services
from tests.utils.builders import anchoring_request, applicant
from tests.utils.fakes.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid


def _outbox(services) -> list[dict]:
    return OutboxMailer(services.settings.resolved_outbox_dir, sender="x@example.org").list_messages()


def _body(mail: email.message.EmailMessage, kind: str) -> str:
    part = mail.get_body((kind,))
    assert part is not None, f"no {kind} body"
    return str(part.get_content())


def test_received_notice_is_sent_once_however_often_asked(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    first = send_notice(services, sid, Notice.RECEIVED)
    assert first.delivery is Delivery.SENT
    for _ in range(3):
        assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.ALREADY_SENT
    [mail] = _outbox(services)
    assert mail["idempotency_key"] == f"received:{sid}" and mail["to"] == "ana.alvarez@example.org"
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage))
        assert row.state == "sent" and row.attempts == 1
        assert [e.kind for e in session.scalars(select(Event).where(Event.kind == "message_sent"))] == ["message_sent"]


def test_applicant_text_is_escaped_in_html_and_kept_in_text(services, tmp_path):
    who = ApplicantInfo(name="Eve <script>alert(1)</script>", email="eve@example.org", organisation="O&P")
    sid = submit(services, anchoring_request(tmp_path, who=who)).submission_id
    message = render_notice(services, sid, Notice.RECEIVED)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "Eve <script>alert(1)</script>" in message.text
    assert message.subject.startswith("We received your evidence")


class _CountingMailer:
    """A mailer that counts sends and holds each send until the test opens its gate, so concurrent senders overlap."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = threading.Event()

    def send(self, message: Message) -> SendReceipt:
        self.sent.append(message.idempotency_key)
        self.gate.wait()  # no timeout: timed waits hang under libfaketime, and a sleep races the other threads
        return SendReceipt(provider_id=f"id-{len(self.sent)}", backend="counting")


def test_concurrent_runs_send_one_message(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    mailer = _CountingMailer()
    svc = services.__class__(**{**services.__dict__, "mailer": mailer})
    results: list[object] = []

    def run() -> None:
        try:
            results.append(send_notice(svc, sid, Notice.RECEIVED).delivery)
        except TransientError as exc:  # the loser sees the claim and would retry later
            results.append(type(exc))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    # The winner is held inside send() while the other three find its claim; a second sender would
    # also wait there, leaving fewer than three answers by the (generous) deadline.
    deadline = time.monotonic() + 60
    while len(results) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    mailer.gate.set()
    for thread in threads:
        thread.join()
    assert mailer.sent == [f"received:{sid}"]
    assert results.count(Delivery.SENT) == 1
    assert send_notice(svc, sid, Notice.RECEIVED).delivery is Delivery.ALREADY_SENT


class _FlakyMailer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent = 0

    def send(self, message: Message) -> SendReceipt:
        if self.failures:
            self.failures -= 1
            raise TransientMailError("503 from the mail service", retry_after=1)
        self.sent += 1
        return SendReceipt("ok", "flaky")


def test_a_transient_failure_leaves_the_message_to_retry(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    mailer = _FlakyMailer(failures=1)
    svc = services.__class__(**{**services.__dict__, "mailer": mailer})
    with pytest.raises(TransientMailError):
        send_notice(svc, sid, Notice.RECEIVED)
    with services.db.session() as session:
        row = session.scalar(select(OutgoingMessage))
        assert row.state == "pending" and "503" in row.last_error
    assert send_notice(svc, sid, Notice.RECEIVED).delivery is Delivery.SENT
    assert mailer.sent == 1


def test_sendgrid_refusal_is_permanent_and_reported_to_the_operator(make_settings, tmp_path):
    with FakeSendGrid(verified_senders={"ops@credflow.example"}) as fake:
        settings = make_settings(
            mail_backend="sendgrid",
            sendgrid_api_key=DEFAULT_API_KEY,
            sendgrid_host=fake.url,
            mail_sender="credflow <ops@credflow.example>",
            operator_email="operator@credflow.example",
        )
        services = build_services(settings)
        sid = submit(services, anchoring_request(tmp_path, who=applicant("Bad Address"))).submission_id
        # The applicant's address is fine; make SendGrid refuse this one message with a 400.
        fake.fail_next(status=400, times=1, message="The to email does not contain a valid address.")
        outcome = send_notice(services, sid, Notice.RECEIVED)
        assert outcome.delivery is Delivery.FAILED and "400" in (outcome.error or "")
        # The operator alert went out through the same mailer; the refused message was not retried.
        assert [m.payload["subject"].startswith("[credflow]") for m in fake.messages] == [True]
        assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.FAILED
        assert len(fake.messages) == 1
        with services.db.session() as session:
            kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
        assert "message_failed" in kinds


def test_sendgrid_throttling_is_retried_inside_the_mailer(make_settings, tmp_path):
    with FakeSendGrid(verified_senders={"ops@credflow.example"}) as fake:
        services = build_services(
            make_settings(
                mail_backend="sendgrid",
                sendgrid_api_key=DEFAULT_API_KEY,
                sendgrid_host=fake.url,
                mail_sender="ops@credflow.example",
            )
        )
        sid = submit(services, anchoring_request(tmp_path)).submission_id
        fake.fail_next(status=429, times=1, retry_after=0)
        assert send_notice(services, sid, Notice.RECEIVED).delivery is Delivery.SENT
        [accepted] = fake.messages
        assert accepted.payload["custom_args"]["idempotency_key"] == f"received:{sid}"


def test_deliver_refuses_nothing_twice_even_for_a_different_message_body(services, tmp_path):
    sid = submit(services, anchoring_request(tmp_path)).submission_id
    msg = render_notice(services, sid, Notice.RECEIVED)
    assert deliver(services, msg, submission_id=sid).delivery is Delivery.SENT
    changed = Message(**{**msg.__dict__, "subject": "changed"})
    assert deliver(services, changed, submission_id=sid).delivery is Delivery.ALREADY_SENT
    assert len(_outbox(services)) == 1


def test_a_pathway_badge_email_carries_the_baked_badge_and_labels_the_badge_not_a_submission(services, tmp_path):
    import email
    import json
    from email import policy

    from credflow.badges.baking import unbake
    from credflow.db.models import IssuedBadge
    from credflow.issuance.stage import issue_for_decision
    from credflow.notifications.rules import BadgeNotice
    from credflow.notifications.stage import send_badge_notice
    from tests.utils.review_cycle import NOW, decided_submission

    sid = decided_submission(services, tmp_path)
    [certified] = issue_for_decision(services, sid, today=NOW.date()).issued  # the Certified Facilitator badge
    with services.db.session() as session:
        credential = session.get_one(IssuedBadge, certified).ob3
    for notice in (BadgeNotice.ISSUED, BadgeNotice.EXPIRING):
        assert send_badge_notice(services, certified, notice).delivery is Delivery.SENT

    outbox = services.settings.resolved_outbox_dir
    [issued] = outbox.glob("badge_issued-*.eml")
    mail = email.message_from_bytes(issued.read_bytes(), policy=policy.default)
    [png] = [part for part in mail.iter_attachments() if part.get_content_type() == "image/png"]
    baked = unbake(png.get_content())
    assert baked is not None and json.loads(baked.content) == credential  # the signed credential rides along
    html = _body(mail, "html")
    text = _body(mail, "plain")
    for body in (html, text):
        assert f"Badge reference {certified[:8]}" in body and "Submission" not in body and "attempt" not in body
        assert "attached image is your badge" in body
    [expiring] = outbox.glob("badge_expiring-*.eml")
    reminder = email.message_from_bytes(expiring.read_bytes(), policy=policy.default)
    assert list(reminder.iter_attachments()) == []  # a reminder links the badge it already sent
    assert f"Badge reference {certified[:8]}" in _body(reminder, "html")
