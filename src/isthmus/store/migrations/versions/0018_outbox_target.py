"""outbox rows for one remote: ``sync_outbox.target_remote_id``

A re-invite's replay is for the re-invited remote only; without a target every remote of the channel got it,
so a post came back to the server that wrote it (an echo the model-based test found). NULL: every remote
(all other rows).

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_outbox") as batch:
        batch.add_column(sa.Column("target_remote_id", sa.String(26), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_outbox") as batch:
        batch.drop_column("target_remote_id")
