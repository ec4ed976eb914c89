"""The lease helper: a row is added once, claimed by one holder at a time, taken over when the lease lapses."""

from __future__ import annotations

from datetime import timedelta

from credflow.db.models import OutgoingMessage, Transcode, utcnow
from credflow.notifications.stage import MESSAGE_LEASE as MESSAGES
from credflow.states import MessageState
from credflow.transcoding.stage import TRANSCODE_LEASE as TRANSCODES


def _message(key: str) -> OutgoingMessage:
    return OutgoingMessage(idempotency_key=key, kind="received", recipient="a@example.org", subject="s")


def test_one_claim_at_a_time_until_the_lease_lapses_then_settled_for_good(services):
    now = utcnow()
    with services.db.session() as session:
        first = MESSAGES.claim(session, "k", now=now, new=lambda: _message("k"))
    with services.db.session() as session:
        second = MESSAGES.claim(session, "k", now=now + timedelta(minutes=4), new=lambda: _message("k"))
    with services.db.session() as session:
        after_lapse = MESSAGES.claim(session, "k", now=now + timedelta(minutes=6), new=lambda: _message("k"))
        MESSAGES.settle(session, "k", MessageState.SENT, claimed_until=None)
    with services.db.session() as session:
        settled = MESSAGES.claim(session, "k", now=now + timedelta(minutes=7), new=lambda: _message("k"))
        row = MESSAGES.get(session, "k")
        assert row is not None and row.attempts == 2 and row.state == "sent"
    assert (first.taken, first.settled) == (True, False)
    assert (second.taken, second.settled) == (False, False)
    assert (after_lapse.taken, after_lapse.settled) == (True, False)
    assert (settled.taken, settled.settled) == (False, True)


def test_a_holder_may_take_its_own_claim_again_another_waits(services):
    now = utcnow()

    def new() -> Transcode:
        return Transcode(input_sha256="abc", state="running")

    with services.db.session() as session:
        assert TRANSCODES.claim(session, "abc", now=now, new=new, owner="w1").taken
    with services.db.session() as session:
        assert not TRANSCODES.claim(session, "abc", now=now, new=new, owner="w2").taken
    with services.db.session() as session:
        assert TRANSCODES.claim(session, "abc", now=now, new=new, owner="w1").taken
        row = TRANSCODES.get(session, "abc")
        assert row is not None and (row.owner, row.attempts) == ("w1", 2)
    with services.db.session() as session:
        TRANSCODES.settle(session, "abc", owner=None, lease_until=None)  # given back after a failure
    with services.db.session() as session:
        assert TRANSCODES.claim(session, "abc", now=now, new=new, owner="w2").taken


def test_only_the_held_state_settles_a_row_settled_elsewhere_stays(services):
    now = utcnow()
    with services.db.session() as session:
        assert MESSAGES.claim(session, "k", now=now, new=lambda: _message("k")).taken
        assert MESSAGES.settle(session, "k", MessageState.SENT, claimed_until=None)
    with services.db.session() as session:
        # A late holder whose lease lapsed tries to settle the row another sender already sent.
        assert not MESSAGES.settle(session, "k", MessageState.PENDING, last_error="timeout")
        row = MESSAGES.get(session, "k")
        assert row is not None and row.state == "sent" and row.last_error is None
