"""The data layer on SQLite and PostgreSQL: migrations, the append-only log, compare-and-set transitions."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from credflow.db.engine import Database
from credflow.db.migrate import is_current, upgrade
from credflow.db.models import Applicant, Base, Event, Submission
from credflow.errors import IllegalTransition
from credflow.lifecycle import State
from credflow.submissions import ConcurrentTransition, events_of, transition


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _submission(db: Database) -> str:
    with db.session() as session:
        applicant = Applicant(email="a@example.org", name="A", organisation="Org")
        session.add(applicant)
        session.flush()
        sub = Submission(
            applicant_id=applicant.id, credential_id="udl-level-1", attempt=1, state="received", idempotency_key="k1"
        )
        session.add(sub)
        session.flush()
        return sub.id


def test_migrations_build_exactly_the_models(db):
    assert is_current(db)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    upgrade(db)  # idempotent


def test_event_log_refuses_updates_and_deletes(db):
    sid = _submission(db)
    with db.session() as session:
        transition(session, session.get_one(Submission, sid), State.VALIDATING, actor="test")
    for statement in ("UPDATE events SET actor = 'forged'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(text(statement))
    with db.session() as session:
        assert [e.actor for e in events_of(session, sid)] == ["test"]


def test_transitions_are_logged_and_illegal_ones_refused(db):
    sid = _submission(db)
    with db.session() as session:
        sub = session.get_one(Submission, sid)
        transition(session, sub, State.VALIDATING, actor="pre-assessor")
        transition(session, sub, State.RETURNED, actor="pre-assessor", detail={"problems": 2})
        assert sub.state == "returned"
    with pytest.raises(IllegalTransition), db.session() as session:
        transition(session, session.get_one(Submission, sid), State.EARNED, actor="x")
    with db.session() as session:
        log = events_of(session, sid)
        assert [(e.from_state, e.to_state) for e in log] == [("received", "validating"), ("validating", "returned")]
        assert log[1].detail == {"problems": 2}
        assert log[0].at.tzinfo is not None


def test_a_move_made_meanwhile_by_another_process_wins(db):
    sid = _submission(db)
    with db.session() as stale:
        sub = stale.get_one(Submission, sid)
        with db.session() as other:
            transition(other, other.get_one(Submission, sid), State.VALIDATING, actor="worker-1")
        with pytest.raises(ConcurrentTransition):
            transition(stale, sub, State.VALIDATING, actor="worker-2")
        stale.rollback()
    with db.session() as session:
        assert session.get_one(Submission, sid).state == "validating"
        assert [e.actor for e in session.query(Event).all()] == ["worker-1"]
