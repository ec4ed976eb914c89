"""Stored states beside the submission's: tables cover their enums, illegal and stale moves are refused."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from credflow.db.engine import Database
from credflow.db.migrate import upgrade
from credflow.db.models import Applicant, Assignment, IssuedBadge, OutgoingMessage, Reviewer, Submission, utcnow
from credflow.errors import IllegalTransition
from credflow.lifecycle import State
from credflow.states import (
    MACHINES,
    AssignmentState,
    BadgeState,
    DispatchState,
    MessageState,
    TranscodeState,
    check_move,
    move,
    predecessors,
)

#: The values each state column held before the enums existed: stored rows must stay readable.
STORED_VALUES = {
    AssignmentState: {"active", "submitted", "declined", "withdrawn"},
    TranscodeState: {"running", "done", "failed"},
    MessageState: {"pending", "sending", "sent", "failed"},
    BadgeState: {"active", "superseded", "revoked", "expired"},
    DispatchState: {"queued", "running", "done", "failed"},
}
COLUMNS = {
    State: ("submissions", "state"),
    AssignmentState: ("assignments", "state"),
    TranscodeState: ("transcodes", "state"),
    MessageState: ("messages", "state"),
    BadgeState: ("badges", "state"),
    DispatchState: ("dispatches", "state"),
}


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _assignment(db: Database) -> str:
    with db.session() as session:
        applicant = Applicant(email="a@example.org", name="A", organisation="Org")
        reviewer = Reviewer(email="r@example.org", name="R", organisation="Elsewhere")
        session.add_all([applicant, reviewer])
        session.flush()
        sub = Submission(
            applicant_id=applicant.id,
            credential_id="udl-level-1",
            attempt=1,
            state=State.IN_REVIEW,
            idempotency_key="k",
        )
        session.add(sub)
        session.flush()
        assignment = Assignment(
            submission_id=sub.id,
            reviewer_id=reviewer.id,
            role="review",
            state=AssignmentState.ACTIVE,
            due_at=utcnow() + timedelta(days=5),
        )
        session.add(assignment)
        session.flush()
        return assignment.id


@pytest.mark.parametrize("kind", list(MACHINES), ids=lambda kind: kind.__name__)
def test_every_state_has_its_transitions_declared(kind):
    table = MACHINES[kind]
    assert set(table) == set(kind)
    for targets in table.values():
        assert targets <= set(kind)


@pytest.mark.parametrize("kind", list(STORED_VALUES), ids=lambda kind: kind.__name__)
def test_the_enums_keep_the_values_already_stored(kind):
    assert {str(member) for member in kind} == STORED_VALUES[kind]
    assert all(member == member.value for member in kind)  # a member compares equal to its stored string


@pytest.mark.parametrize("kind", list(COLUMNS), ids=lambda kind: kind.__name__)
def test_every_value_fits_the_migrated_column(db, kind):
    table, column = COLUMNS[kind]
    length = next(c["type"].length for c in inspect(db.engine).get_columns(table) if c["name"] == column)
    assert max(len(member.value) for member in kind) <= length


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (AssignmentState.SUBMITTED, AssignmentState.ACTIVE),
        (AssignmentState.WITHDRAWN, AssignmentState.SUBMITTED),
        (TranscodeState.DONE, TranscodeState.RUNNING),
        (TranscodeState.FAILED, TranscodeState.DONE),
        (MessageState.SENT, MessageState.PENDING),
        (MessageState.FAILED, MessageState.SENDING),
        (BadgeState.REVOKED, BadgeState.ACTIVE),
        (BadgeState.REVOKED, BadgeState.EXPIRED),
        (BadgeState.SUPERSEDED, BadgeState.EXPIRED),
    ],
)
def test_illegal_moves_are_refused_naming_both_states(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_move(current, target)
    assert str(current) in str(info.value) and str(target) in str(info.value)


def test_a_move_between_two_machines_is_refused():
    with pytest.raises(IllegalTransition):
        check_move(BadgeState.ACTIVE, AssignmentState.WITHDRAWN)


def test_revoked_is_final_and_every_other_badge_can_be_revoked():
    assert not MACHINES[BadgeState][BadgeState.REVOKED]
    assert predecessors(BadgeState.REVOKED) == {BadgeState.ACTIVE, BadgeState.SUPERSEDED, BadgeState.EXPIRED}


def test_the_guard_moves_a_row_once_and_refuses_a_stale_move(db):
    assignment_id = _assignment(db)
    with db.session() as session:
        read = AssignmentState(session.get_one(Assignment, assignment_id).state)  # both workers read "active"
    with db.session() as session:
        assert move(
            session,
            Assignment.state,
            AssignmentState.SUBMITTED,
            where=Assignment.id == assignment_id,
            current=read,
            values={"token_nonce": None},
        )
    with db.session() as session:  # the sweep's move, on what it read before the submit
        assert not move(
            session, Assignment.state, AssignmentState.WITHDRAWN, where=Assignment.id == assignment_id, current=read
        )
    with db.session() as session:
        row = session.get_one(Assignment, assignment_id)
        assert (row.state, row.token_nonce) == (AssignmentState.SUBMITTED, None)


def test_the_guard_refuses_what_the_table_forbids_before_touching_the_row(db):
    assignment_id = _assignment(db)
    with db.session() as session, pytest.raises(IllegalTransition):
        move(
            session,
            Assignment.state,
            AssignmentState.ACTIVE,
            where=Assignment.id == assignment_id,
            current=AssignmentState.SUBMITTED,
        )
    with db.session() as session, pytest.raises(IllegalTransition, match="starting state"):
        move(session, Assignment.state, AssignmentState.ACTIVE, where=Assignment.id == assignment_id)


def test_without_a_read_state_the_guard_accepts_any_allowed_predecessor(db):
    with db.session() as session:
        applicant = Applicant(email="b@example.org", name="B", organisation="Org")
        session.add(applicant)
        session.flush()
        badges = {
            state: IssuedBadge(
                idempotency_key=f"badge:{state}",
                applicant_id=applicant.id,
                kind="pathway",
                badge_key="b",
                issuer_id="issuer",
                status_index=n,
                valid_from=utcnow(),
                state=state,
            )
            for n, state in enumerate(BadgeState)
        }
        session.add_all(badges.values())
        session.flush()
        ids = {state: badge.id for state, badge in badges.items()}
    with db.session() as session:
        moved = {
            state: move(session, IssuedBadge.state, BadgeState.EXPIRED, where=IssuedBadge.id == badge_id)
            for state, badge_id in ids.items()
        }
        # The row held in the session follows the move.
        assert session.get_one(IssuedBadge, ids[BadgeState.ACTIVE]).state == BadgeState.EXPIRED
    assert moved == {
        BadgeState.ACTIVE: True,
        BadgeState.SUPERSEDED: False,
        BadgeState.REVOKED: False,  # a revoked badge stays on the revocation list
        BadgeState.EXPIRED: False,
    }


def test_of_two_racing_claims_exactly_one_wins(db):
    with db.session() as session:
        session.add(OutgoingMessage(idempotency_key="k", kind="received", recipient="a@example.org", subject="s"))
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim() -> None:
        barrier.wait()
        with db.session() as session:
            results.append(
                move(
                    session,
                    OutgoingMessage.state,
                    MessageState.SENDING,
                    where=OutgoingMessage.idempotency_key == "k",
                    current=MessageState.PENDING,
                    values={"attempts": OutgoingMessage.attempts + 1},
                )
            )

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    with db.session() as session:
        row = session.scalars(select(OutgoingMessage).where(OutgoingMessage.idempotency_key == "k")).one()
        assert (row.state, row.attempts) == (MessageState.SENDING, 1)
