"""secure connections (remote_clusters)

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_clusters",
        sa.Column("remote_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("remote_team_id", sa.String(length=26), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("site_url", sa.String(length=512), nullable=False),
        sa.Column("default_team_id", sa.String(length=26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("last_ping_at", sa.BigInteger(), nullable=False),
        sa.Column("last_global_user_sync_at", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("remote_token", sa.String(length=64), nullable=False),
        sa.Column("topics", sa.String(length=512), nullable=False),
        sa.Column("creator_id", sa.String(length=26), nullable=False),
        sa.Column("plugin_id", sa.String(length=190), nullable=False),
        sa.Column("options", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("remote_id", "name", name=op.f("pk_remote_clusters")),
    )
    with op.batch_alter_table("remote_clusters", schema=None) as batch_op:
        batch_op.create_index("ix_remote_clusters_site_url", ["site_url"], unique=False)
        batch_op.create_index("ix_remote_clusters_delete_at", ["delete_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remote_clusters", schema=None) as batch_op:
        batch_op.drop_index("ix_remote_clusters_delete_at")
        batch_op.drop_index("ix_remote_clusters_site_url")
    op.drop_table("remote_clusters")
