"""state Mattermost's apps keep on the server: sidebar categories, thread memberships, drafts, channel bookmarks,
custom profile attributes, custom emoji

(preferences exist since 0001)

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sidebar_categories",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(26), nullable=False),
        sa.Column("team_id", sa.String(26), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("sorting", sa.String(16), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("collapsed", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sidebar_categories"),
    )
    op.create_index("ix_sidebar_categories_user_id_team_id", "sidebar_categories", ["user_id", "team_id"])
    op.create_table(
        "sidebar_channels",
        sa.Column("category_id", sa.String(128), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("user_id", sa.String(26), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category_id", "channel_id", name="pk_sidebar_channels"),
    )
    op.create_index("ix_sidebar_channels_user_id", "sidebar_channels", ["user_id"])


    op.create_table(
        "thread_memberships",
        sa.Column("post_id", sa.String(26), nullable=False),
        sa.Column("user_id", sa.String(26), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.Column("last_viewed", sa.BigInteger(), nullable=False),
        sa.Column("last_updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "user_id", name="pk_thread_memberships"),
    )
    op.create_index("ix_thread_memberships_user_id", "thread_memberships", ["user_id"])
    op.create_table(
        "drafts",
        sa.Column("user_id", sa.String(26), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("root_id", sa.String(26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("file_ids", sa.JSON(), nullable=False),
        sa.Column("priority", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "channel_id", "root_id", name="pk_drafts"),
    )
    op.create_table(
        "channel_bookmarks",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("owner_id", sa.String(26), nullable=False),
        sa.Column("file_id", sa.String(26), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("sort_order", sa.BigInteger(), nullable=False),
        sa.Column("link_url", sa.Text(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=False),
        sa.Column("emoji", sa.String(64), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_bookmarks"),
    )
    op.create_index("ix_channel_bookmarks_channel_id", "channel_bookmarks", ["channel_id"])
    op.create_table(
        "cpa_fields",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("attrs", sa.JSON(), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(26), nullable=False),
        sa.Column("updated_by", sa.String(26), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cpa_fields"),
    )
    op.create_table(
        "cpa_values",
        sa.Column("field_id", sa.String(26), nullable=False),
        sa.Column("user_id", sa.String(26), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("field_id", "user_id", name="pk_cpa_values"),
    )
    op.create_index("ix_cpa_values_user_id", "cpa_values", ["user_id"])
    op.create_table(
        "emoji",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("create_at", sa.BigInteger(), nullable=False),
        sa.Column("update_at", sa.BigInteger(), nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_emoji"),
    )
    op.create_index("uq_emoji_name_delete_at", "emoji", ["name", "delete_at"], unique=True)


def downgrade() -> None:
    op.drop_table("emoji")
    op.drop_table("cpa_values")
    op.drop_table("cpa_fields")
    op.drop_table("channel_bookmarks")
    op.drop_table("drafts")
    op.drop_table("thread_memberships")
    op.drop_table("sidebar_channels")
    op.drop_table("sidebar_categories")
