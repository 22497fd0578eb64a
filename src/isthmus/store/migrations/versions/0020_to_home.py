"""``shared_channel_remotes.to_home``: the row is our copy's link to the channel's home

A copy that stopped being shared keeps its soft-deleted link row, and this marks it: a server that was only a
copy must not delete or pin another workspace's user's post there while the home may share it again (the
re-invite's replay does not send back what came from the home, so the change would stay this copy's alone: the
model-based test's run z1), while a former home may still moderate its channel.
Rows of copies shared today are marked here; copies unshared before this migration cannot be told apart.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shared_channel_remotes") as batch:
        batch.add_column(sa.Column("to_home", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE shared_channel_remotes SET to_home = true WHERE EXISTS (SELECT 1 FROM shared_channels s "
               "WHERE s.channel_id = shared_channel_remotes.channel_id AND s.home = false "
               "AND s.remote_id = shared_channel_remotes.remote_id)")


def downgrade() -> None:
    with op.batch_alter_table("shared_channel_remotes") as batch:
        batch.drop_column("to_home")
