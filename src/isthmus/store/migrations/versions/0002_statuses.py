"""statuses (issue 4): user presence rows.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statuses",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("last_activity_at", sa.BigInteger(), nullable=False),
        sa.Column("dnd_end_time", sa.BigInteger(), nullable=False),
        sa.Column("prev_status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_statuses")),
    )
    with op.batch_alter_table("statuses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statuses_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statuses_status"))
    op.drop_table("statuses")
