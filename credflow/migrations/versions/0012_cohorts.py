"""Cohorts: educators' consent to be connected per micro-credential, and the milestones celebrated by email.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cohort_consents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("applicant_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=80), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applicant_id", "credential_id"),
    )
    op.create_table(
        "milestone_celebrations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("applicant_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=80), nullable=False),
        sa.Column("milestone", sa.String(length=16), nullable=False),
        sa.Column("reached_on", sa.Date(), nullable=False),
        sa.Column("celebrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("celebrated_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["applicants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("applicant_id", "credential_id", "milestone"),
    )


def downgrade() -> None:
    op.drop_table("milestone_celebrations")
    op.drop_table("cohort_consents")
