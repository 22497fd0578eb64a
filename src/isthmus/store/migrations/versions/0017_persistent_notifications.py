"""persistent notifications: the local users still to be reminded of an urgent post (issue 15 item 4)

``persistent_notifications`` holds one row per (post, local mentioned user) while reminders are due; the periodic
job reads the rows whose ``last_sent_at`` is an interval old (hence the index) and deletes a row once its user
acknowledged, replied or reacted, the post was deleted, or ``PersistentNotificationMaxCount`` reminders were sent.

Revision ID: 0017
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persistent_notifications",
        sa.Column("post_id", sa.String(26), primary_key=True),
        sa.Column("user_id", sa.String(26), primary_key=True),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("last_sent_at", sa.BigInteger(), nullable=False),
        sa.Column("sent_count", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_persistent_notifications_last_sent_at", "persistent_notifications", ["last_sent_at"])


def downgrade() -> None:
    op.drop_index("ix_persistent_notifications_last_sent_at", table_name="persistent_notifications")
    op.drop_table("persistent_notifications")
