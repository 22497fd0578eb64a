"""files and search: file_infos table, post full-text index (SQLite FTS5 / PostgreSQL GIN)

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from isthmus.store import search

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_infos",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("creator_id", sa.String(length=26), nullable=False),
        sa.Column("post_id", sa.String(length=26), nullable=False),
        sa.Column("channel_id", sa.String(length=26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("extension", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(length=256), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("has_preview_image", sa.Boolean(), nullable=False),
        sa.Column("mini_preview", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("thumbnail_path", sa.String(length=512), nullable=False),
        sa.Column("preview_path", sa.String(length=512), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("remote_id", sa.String(length=26), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_infos")),
    )
    with op.batch_alter_table("file_infos", schema=None) as batch_op:
        batch_op.create_index("ix_file_infos_post_id", ["post_id"], unique=False)
        batch_op.create_index("ix_file_infos_channel_id_create_at", ["channel_id", "create_at"], unique=False)
        batch_op.create_index("ix_file_infos_creator_id", ["creator_id"], unique=False)
    # Full-text index over posts.message: FTS5 table + triggers on SQLite, GIN expression index on
    # PostgreSQL (dialect-specific DDL, see store/search.py). Backfills existing posts.
    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
    with op.batch_alter_table("file_infos", schema=None) as batch_op:
        batch_op.drop_index("ix_file_infos_creator_id")
        batch_op.drop_index("ix_file_infos_channel_id_create_at")
        batch_op.drop_index("ix_file_infos_post_id")
    op.drop_table("file_infos")
