"""global user sync: an index to page through users by their last change

The sender of the global user sync (§8.3) reads the next batch of users changed after a connection's cursor
(``remote_clusters.last_global_user_sync_at``, a column since 0003), oldest change first. Without this index every
batch scanned and sorted the whole users table.

Revision ID: 0013
Revises: 0015
"""
from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_users_update_at", "users", ["update_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_update_at", table_name="users")
