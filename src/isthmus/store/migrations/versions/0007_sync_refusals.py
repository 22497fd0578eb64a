"""refused items and announced limits per connection

* ``sync_refusals``: items a connected workspace did not accept (files over its limits, items listed in a
  sync answer's ``*_errors``): what, why, when.
* ``remote_limits``: the limits a connected workspace announced (``isthmus_limits``).

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_refusals",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("remote_id", sa.String(26), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("message", sa.String(512), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_refusals")),
    )
    op.create_index("ix_sync_refusals_remote_id_create_at", "sync_refusals", ["remote_id", "create_at"])
    op.create_index("ix_sync_refusals_remote_id_kind_item_id", "sync_refusals", ["remote_id", "kind", "item_id"])
    op.create_table(
        "remote_limits",
        sa.Column("remote_id", sa.String(26), nullable=False),
        sa.Column("max_file_size", sa.BigInteger(), nullable=False),
        sa.Column("enable_file_attachments", sa.Boolean(), nullable=False),
        sa.Column("max_post_size", sa.Integer(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("remote_id", name=op.f("pk_remote_limits")),
    )


def downgrade() -> None:
    op.drop_table("remote_limits")
    op.drop_index("ix_sync_refusals_remote_id_kind_item_id", table_name="sync_refusals")
    op.drop_index("ix_sync_refusals_remote_id_create_at", table_name="sync_refusals")
    op.drop_table("sync_refusals")
