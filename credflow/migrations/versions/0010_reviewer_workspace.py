"""The reviewer workspace: gold standards carry what a reviewer reads when calibrating in the browser.

Written answers, the evidence files described in words and the gold comment per criterion; all
optional, so gold files written before stay valid. A calibration record says whether it was
practice (a retake of a gold standard whose verdicts the reviewer had seen).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("gold_standards", sa.Column("answers", _json(), nullable=True))
    op.add_column("gold_standards", sa.Column("evidence_notes", sa.Text(), nullable=True))
    op.add_column("gold_standards", sa.Column("comments", _json(), nullable=True))
    op.add_column("calibration_records", sa.Column("practice", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("calibration_records") as batch:
        batch.drop_column("practice")
    with op.batch_alter_table("gold_standards") as batch:
        batch.drop_column("comments")
        batch.drop_column("evidence_notes")
        batch.drop_column("answers")
