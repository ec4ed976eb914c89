"""Tests of OutboxMailer: real .eml messages, metadata files and idempotent delivery."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from credflow.mail.base import Attachment, Mailer, Message
from credflow.mail.outbox import OutboxMailer, outbox_name

SENDER = "credflow <no-reply@credflow.local>"


def make_message(key: str = "submission/42:decision", **changes: object) -> Message:
    fields: dict[str, object] = {
        "idempotency_key": key,
        "kind": "decision",
        "to_email": "ada@example.org",
        "to_name": "Ada Lovelace",
        "subject": "Your micro-credential decision",
        "text": "Congratulations, you earned it.",
        "html": "<p>Congratulations, you <b>earned</b> it.</p>",
    }
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


@pytest.fixture
def mailer(tmp_path: Path) -> OutboxMailer:
    return OutboxMailer(tmp_path / "outbox", sender=SENDER)


def read_eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_send_writes_a_real_message(mailer: OutboxMailer) -> None:
    receipt = mailer.send(make_message())
    assert receipt.backend == "outbox"
    eml = mailer.folder / f"{receipt.provider_id}.eml"
    parsed = read_eml(eml)
    assert parsed["From"] == SENDER
    assert parsed["To"] == "Ada Lovelace <ada@example.org>"
    assert parsed["Subject"] == "Your micro-credential decision"
    assert parsed["X-Credflow-Idempotency-Key"] == "submission/42:decision"
    assert parsed["Date"] is not None
    assert parsed["Message-ID"].endswith("@credflow.local>")
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().strip() == "Congratulations, you earned it."  # type: ignore[union-attr]
    assert "<b>earned</b>" in parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert b"\r\n" in eml.read_bytes()


def test_metadata_file(mailer: OutboxMailer) -> None:
    receipt = mailer.send(make_message())
    meta = json.loads((mailer.folder / f"{receipt.provider_id}.json").read_text())
    assert meta["idempotency_key"] == "submission/42:decision"
    assert meta["kind"] == "decision"
    assert meta["to"] == "ada@example.org"
    assert meta["subject"] == "Your micro-credential decision"
    assert meta["attachments"] == []
    assert meta["sent_at"]


def test_attachments(mailer: OutboxMailer) -> None:
    pdf = Attachment("certificate.pdf", "application/pdf", b"%PDF-1.7\n" + bytes(range(256)))
    csv = Attachment("scores.csv", "text/csv", b"criterion,score\nA,3\n")
    receipt = mailer.send(make_message(attachments=(pdf, csv)))
    parsed = read_eml(mailer.folder / f"{receipt.provider_id}.eml")
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("plain",)) is not None
    found = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert found["certificate.pdf"] == pdf.data
    assert found["scores.csv"].replace("\r\n", "\n") == csv.data.decode()
    meta = mailer.list_messages()[0]
    assert meta["attachments"] == [
        {"filename": "certificate.pdf", "content_type": "application/pdf", "size": len(pdf.data)},
        {"filename": "scores.csv", "content_type": "text/csv", "size": len(csv.data)},
    ]


def test_same_key_twice_writes_one_pair(mailer: OutboxMailer) -> None:
    first = mailer.send(make_message())
    second = mailer.send(make_message())
    assert first == second
    assert sorted(p.name for p in mailer.folder.iterdir()) == [f"{first.provider_id}.eml", f"{first.provider_id}.json"]
    assert len(mailer.list_messages()) == 1


def test_different_keys_write_different_pairs(mailer: OutboxMailer) -> None:
    a = mailer.send(make_message("a/b"))
    b = mailer.send(make_message("a:b"))
    assert a.provider_id != b.provider_id
    assert [m["idempotency_key"] for m in mailer.list_messages()] == ["a/b", "a:b"]
    assert len(list(mailer.folder.glob("*.eml"))) == 2


def test_message_id_is_deterministic(tmp_path: Path) -> None:
    one = OutboxMailer(tmp_path / "one", sender=SENDER)
    two = OutboxMailer(tmp_path / "two", sender=SENDER)
    r1 = one.send(make_message("k-1"))
    r2 = two.send(make_message("k-1"))
    id1 = read_eml(one.folder / f"{r1.provider_id}.eml")["Message-ID"]
    id2 = read_eml(two.folder / f"{r2.provider_id}.eml")["Message-ID"]
    assert id1 == id2
    r3 = one.send(make_message("k-2"))
    assert read_eml(one.folder / f"{r3.provider_id}.eml")["Message-ID"] != id1


@pytest.mark.parametrize("key", ["submission/42:decision", "../../etc/passwd", "ünïcode key", "x" * 500, "///", ""])
def test_names_are_safe_and_stable(key: str) -> None:
    name = outbox_name(key)
    assert name == outbox_name(key)
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert not name.startswith(".")
    assert len(name) <= 80


def test_non_ascii_recipient_and_subject(mailer: OutboxMailer) -> None:
    receipt = mailer.send(make_message(to_name="Zoë Ångström", subject="Félicitations ✓"))
    parsed = read_eml(mailer.folder / f"{receipt.provider_id}.eml")
    assert parsed["Subject"] == "Félicitations ✓"
    assert parsed["To"].addresses[0].display_name == "Zoë Ångström"
    assert parsed["To"].addresses[0].addr_spec == "ada@example.org"


def test_list_messages_sorted_by_sent_time(mailer: OutboxMailer) -> None:
    assert mailer.list_messages() == []
    for key in ("k3", "k1", "k2"):
        mailer.send(make_message(key))
    listed = mailer.list_messages()
    times = [m["sent_at"] for m in listed]
    assert times == sorted(times)
    if len(set(times)) == 3:  # equal stamps fall back to name order
        assert [m["idempotency_key"] for m in listed] == ["k3", "k1", "k2"]


def test_no_temp_files_left(mailer: OutboxMailer) -> None:
    mailer.send(make_message())
    assert [p for p in mailer.folder.iterdir() if p.name.startswith(".")] == []


def test_sender_needs_an_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        OutboxMailer(tmp_path, sender="nobody")


def test_is_a_mailer(mailer: OutboxMailer) -> None:
    as_protocol: Mailer = mailer  # mypy checks the structural match
    assert as_protocol is mailer


def test_the_reply_to_header_is_set_only_when_the_message_has_one(mailer: OutboxMailer) -> None:
    mailer.send(make_message("with", reply_to="support@openscied.org"))
    mailer.send(make_message("without"))
    answered = read_eml(mailer.folder / f"{outbox_name('with')}.eml")
    assert answered["Reply-To"] == "support@openscied.org" and answered["From"] == SENDER
    assert read_eml(mailer.folder / f"{outbox_name('without')}.eml")["Reply-To"] is None
    metadata = {m["idempotency_key"]: m["reply_to"] for m in mailer.list_messages()}
    assert metadata == {"with": "support@openscied.org", "without": None}
