"""Plans: the applicant's target date per requirement of a micro-credential, and when it was last reminded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_targets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("applicant_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=80), nullable=False),
        sa.Column("requirement_key", sa.String(length=64), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applicant_id", "credential_id", "requirement_key"),
    )


def downgrade() -> None:
    op.drop_table("plan_targets")
