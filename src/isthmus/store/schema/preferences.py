"""Per-user client state: ``Preferences``, sidebar categories, thread follow/read state (``ThreadMemberships``)
and message drafts (``Drafts``). All of it is local to this server."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from isthmus.store.schema.base import Id, metadata

preferences = Table(
    "preferences", metadata,
    Column("user_id", Id, primary_key=True),
    Column("category", String(32), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False, default=""),
)

# Only categories a user created or changed are stored: the three defaults of a (user, team) are computed
# until the first change, so a user who never touches the sidebar costs no rows.
sidebar_categories = Table(
    "sidebar_categories", metadata,
    Column("id", String(128), primary_key=True),
    Column("user_id", Id, nullable=False),
    Column("team_id", Id, nullable=False),
    Column("type", String(32), nullable=False),
    Column("display_name", String(64), nullable=False),
    Column("sorting", String(16), nullable=False, default=""),
    Column("muted", Boolean, nullable=False, default=False),
    Column("collapsed", Boolean, nullable=False, default=False),
    Column("sort_order", Integer, nullable=False, default=0),
)
Index("ix_sidebar_categories_user_id_team_id", sidebar_categories.c.user_id, sidebar_categories.c.team_id)

# A channel placed in a category by the user (custom categories, manual order); unplaced channels fall into
# the default category of their kind.
sidebar_channels = Table(
    "sidebar_channels", metadata,
    Column("category_id", String(128), primary_key=True),
    Column("channel_id", Id, primary_key=True),
    Column("user_id", Id, nullable=False),
    Column("sort_order", Integer, nullable=False, default=0),
)
Index("ix_sidebar_channels_user_id", sidebar_channels.c.user_id)

# A user's own follow / read state of a thread, stored only once they changed it (follow, unfollow, read,
# mark unread); until then it follows from the posts (the root's author and repliers follow, and have seen
# the thread up to their own last post), so no write on the post path is needed. Local to this server.
thread_memberships = Table(
    "thread_memberships", metadata,
    Column("post_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("following", Boolean, nullable=False),
    Column("last_viewed", BigInteger, nullable=False, default=0),
    Column("last_updated", BigInteger, nullable=False, default=0),
)
Index("ix_thread_memberships_user_id", thread_memberships.c.user_id)

# Unsent messages, one per (user, channel, thread); kept on the server so every device of the user sees them.
drafts = Table(
    "drafts", metadata,
    Column("user_id", Id, primary_key=True),
    Column("channel_id", Id, primary_key=True),
    Column("root_id", String(26), primary_key=True),
    Column("create_at", BigInteger, nullable=False),
    Column("update_at", BigInteger, nullable=False),
    Column("delete_at", BigInteger, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("type", String(64), nullable=False, default=""),
    Column("props", JSON, nullable=False, default=dict),
    Column("file_ids", JSON, nullable=False, default=list),
    Column("priority", JSON, nullable=True),
)
