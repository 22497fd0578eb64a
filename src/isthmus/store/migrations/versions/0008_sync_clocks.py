"""sync clocks: last writer wins for synced profiles, statuses and memberships

* ``users.remote_update_at``: the owning server's ``update_at`` of the last profile applied to a synthetic
  user (0 for local users); an older profile is ignored.
* ``statuses.status_at``: the status clock (a local user: when what the status says last changed; a synthetic
  user: the owner's clock of the last status applied).
* ``shared_member_clocks``: per (channel, user), the time of the last membership change applied or made in a
  shared channel (a removed member has no ``channel_members`` row to hold it).

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_update_at", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("statuses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_at", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "shared_member_clocks",
        sa.Column("channel_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("change_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "user_id", name=op.f("pk_shared_member_clocks")),
    )


def downgrade() -> None:
    op.drop_table("shared_member_clocks")
    with op.batch_alter_table("statuses", schema=None) as batch_op:
        batch_op.drop_column("status_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("remote_update_at")
