"""sync engine fixes: the pin clock of a post, and per shared-channel remote the replay point and pending notice

* ``posts.pin_at``: when ``is_pinned`` was last set (last writer wins across servers).
* ``shared_channel_remotes.unsent_since``: when a remote stopped receiving (uninvite / unshare); a re-invite
  replays what changed since.
* ``shared_channel_remotes.unshare_notice``: a ``sharedchannel_unshare`` still to deliver (0 none, 1 unshared,
  2 channel deleted).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pin_at", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("shared_channel_remotes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsent_since", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("unshare_notice", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("shared_channel_remotes", schema=None) as batch_op:
        batch_op.drop_column("unshare_notice")
        batch_op.drop_column("unsent_since")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("pin_at")
