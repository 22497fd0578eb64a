"""``shared_channel_remotes.confirmed_by_sync``: an invite confirmed by the peer's sync, not by its answer

A sync from the peer confirms a pending invite (its answer may be lost), but that sync may come from the peer's
copy of an earlier invite, which an unshare notice in flight is tearing down. When the peer then answers "no
longer shared", the home sends the invite again instead of dropping the re-invite (the model-based test's run xp).

Revision ID: 0019
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shared_channel_remotes") as batch:
        batch.add_column(sa.Column("confirmed_by_sync", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("shared_channel_remotes") as batch:
        batch.drop_column("confirmed_by_sync")
