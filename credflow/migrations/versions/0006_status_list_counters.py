"""Status-list counters: the next free revocation-list index per issuer, seeded past the badges already issued.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_list_counters",
        sa.Column("issuer_id", sa.String(length=80), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issuer_id"),
    )
    # Badges issued by max+1 keep their indexes: each issuer's counter starts past its highest one.
    op.execute(
        "INSERT INTO status_list_counters (issuer_id, next_index) "
        "SELECT issuer_id, MAX(status_index) + 1 FROM badges GROUP BY issuer_id"
    )


def downgrade() -> None:
    op.drop_table("status_list_counters")
