"""message priority, post acknowledgements, reaction-sized outbox entities (issue 14 points 3 and 4)

* ``posts.priority``: Mattermost's ``metadata.priority`` (``{priority, requested_ack, persistent_notifications}``),
  NULL when the post has none. Mattermost keeps it in a table of its own (PostsPriority); a nullable column
  costs post reads nothing.
* ``post_acknowledgements``: Mattermost's PostAcknowledgements (``acknowledged_at`` 0 = removed, kept so the
  removal can be synced; ``remote_id`` = the connection it came from, NULL for local users).
* ``sync_outbox.entity_id`` 64 -> 160 characters: reaction rows name the reaction (post, user, emoji up to 64),
  so only reactions that changed travel (a Mattermost peer toggles a reaction that is sent again).

Revision ID: 0010
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.JSON(), nullable=True))
    op.create_table(
        "post_acknowledgements",
        sa.Column("post_id", sa.String(26), primary_key=True),
        sa.Column("user_id", sa.String(26), primary_key=True),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.String(26), nullable=False),
        sa.Column("remote_id", sa.String(26), nullable=True),
    )
    with op.batch_alter_table("sync_outbox", schema=None) as batch_op:
        batch_op.alter_column("entity_id", existing_type=sa.String(64), type_=sa.String(160),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_outbox", schema=None) as batch_op:
        batch_op.alter_column("entity_id", existing_type=sa.String(160), type_=sa.String(64),
                              existing_nullable=False)
    op.drop_table("post_acknowledgements")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("priority")
