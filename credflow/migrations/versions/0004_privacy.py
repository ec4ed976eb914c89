"""Privacy: evidence purged under retention or erasure, erased applicants; no emails left in the event log.

Earlier intake logged the applicant's email as the actor of a submission's first event
(``applicant:<email>``). The event log is append-only and an erased applicant's address must not
stay in it, so this migration, once, rewrites those actors to ``applicant:<applicant id>`` (the
meaning is unchanged; intake now logs the id). It is the only edit ever made to the log: the
append-only triggers are lifted for that one statement and restored in the same transaction.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_REWRITE_ACTORS = """
UPDATE events SET actor = COALESCE(
    (SELECT 'applicant:' || applicants.id FROM applicants WHERE 'applicant:' || applicants.email = events.actor),
    'applicant'
)
WHERE actor LIKE 'applicant:%@%'
"""
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
)


def _rewrite_applicant_actors() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        op.execute(_REWRITE_ACTORS)
        op.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")
        return
    op.execute("DROP TRIGGER IF EXISTS events_no_update")
    op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    op.execute(_REWRITE_ACTORS)
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_email_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    _rewrite_applicant_actors()


def downgrade() -> None:
    # The actors stay rewritten: the emails they held are not kept anywhere to put back.
    with op.batch_alter_table("evidence_items", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("erased_email_hash")
