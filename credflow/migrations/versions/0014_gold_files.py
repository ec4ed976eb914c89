"""Gold files: the evidence files of a gold standard (documents, classroom videos), stored by content.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gold_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("gold_id", sa.String(length=32), nullable=False),
        sa.Column("requirement_key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sniffed_mime", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["gold_id"], ["gold_standards.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gold_id", "requirement_key", "position"),
    )


def downgrade() -> None:
    op.drop_table("gold_files")
