"""per-connection profile-field policy (which of email, full name, nickname, position are sent to it; email
off) and the time a pending connection's invitation was last (re)generated (it expires 48 hours later)

Revision ID: 0015
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = (("share_email", False), ("share_full_name", True), ("share_nickname", True), ("share_position", True))


def upgrade() -> None:
    with op.batch_alter_table("remote_clusters") as batch:
        for name, default in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true() if default
                                       else sa.false()))
        batch.add_column(sa.Column("invite_issued_at", sa.BigInteger(), nullable=False, server_default="0"))
    # Invitations made before this column existed keep their old deadline (48 hours after creation).
    op.execute("UPDATE remote_clusters SET invite_issued_at = create_at")


def downgrade() -> None:
    with op.batch_alter_table("remote_clusters") as batch:
        batch.drop_column("invite_issued_at")
        for name, _default in reversed(_COLUMNS):
            batch.drop_column(name)
