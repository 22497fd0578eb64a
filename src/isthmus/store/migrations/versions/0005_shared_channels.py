"""shared channels: shared_channels, shared_channel_remotes/users/attachments, remote upload sessions, sync_outbox

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.String(length=26)


def upgrade() -> None:
    op.create_table(
        "shared_channels",
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("team_id", sa.String(length=26), nullable=False),
        sa.Column("home", sa.Boolean(), nullable=False),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("share_name", sa.String(length=64), nullable=False),
        sa.Column("share_display_name", sa.String(length=64), nullable=False),
        sa.Column("share_purpose", sa.String(length=250), nullable=False),
        sa.Column("share_header", sa.String(length=1024), nullable=False),
        sa.Column("creator_id", sa.String(length=26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("remote_id", sa.String(length=26), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_shared_channels")),
    )
    op.create_table(
        "shared_channel_remotes",
        sa.Column("id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("creator_id", sa.String(length=26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("is_invite_accepted", sa.Boolean(), nullable=False),
        sa.Column("is_invite_confirmed", sa.Boolean(), nullable=False),
        sa.Column("remote_id", Id, nullable=False),
        sa.Column("last_post_update_at", sa.BigInteger(), nullable=False),
        sa.Column("last_post_update_id", sa.String(length=26), nullable=False),
        sa.Column("last_post_create_at", sa.BigInteger(), nullable=False),
        sa.Column("last_post_create_id", sa.String(length=26), nullable=False),
        sa.Column("last_members_sync_at", sa.BigInteger(), nullable=False),
        sa.Column("outbox_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_channel_remotes")),
        sa.UniqueConstraint("channel_id", "remote_id", name="uq_shared_channel_remotes_channel_id_remote_id"),
    )
    op.create_index("ix_shared_channel_remotes_remote_id", "shared_channel_remotes", ["remote_id"])
    op.create_table(
        "shared_channel_users",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("remote_id", Id, nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("last_sync_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_channel_users")),
        sa.UniqueConstraint("user_id", "channel_id", "remote_id",
                            name="uq_shared_channel_users_user_id_channel_id_remote_id"),
    )
    op.create_index("ix_shared_channel_users_remote_id", "shared_channel_users", ["remote_id"])
    op.create_table(
        "shared_channel_attachments",
        sa.Column("id", Id, nullable=False),
        sa.Column("file_id", Id, nullable=False),
        sa.Column("remote_id", Id, nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("last_sync_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_channel_attachments")),
        sa.UniqueConstraint("file_id", "remote_id", name="uq_shared_channel_attachments_file_id_remote_id"),
    )
    op.create_table(
        "remote_upload_sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_offset", sa.BigInteger(), nullable=False),
        sa.Column("remote_id", Id, nullable=False),
        sa.Column("req_file_id", Id, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_upload_sessions")),
    )
    op.create_table(
        "sync_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("origin_remote_id", sa.String(length=26), nullable=True),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_outbox")),
    )
    op.create_index("ix_sync_outbox_channel_id_seq", "sync_outbox", ["channel_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_sync_outbox_channel_id_seq", table_name="sync_outbox")
    op.drop_table("sync_outbox")
    op.drop_table("remote_upload_sessions")
    op.drop_table("shared_channel_attachments")
    op.drop_index("ix_shared_channel_users_remote_id", table_name="shared_channel_users")
    op.drop_table("shared_channel_users")
    op.drop_index("ix_shared_channel_remotes_remote_id", table_name="shared_channel_remotes")
    op.drop_table("shared_channel_remotes")
    op.drop_table("shared_channels")
