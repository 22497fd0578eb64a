from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, String, Table, Text

from isthmus.store.schema.base import Id, Ms, metadata

posts = Table(
    "posts", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("edit_at", Ms, nullable=False, default=0),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("is_pinned", Boolean, nullable=False, default=False),
    Column("user_id", Id, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("root_id", String(26), nullable=False, default=""),
    Column("original_id", String(26), nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Column("type", String(64), nullable=False, default=""),
    Column("props", JSON, nullable=False, default=dict),
    Column("hashtags", String(1000), nullable=False, default=""),
    Column("file_ids", JSON, nullable=False, default=list),
    Column("pending_post_id", String(64), nullable=False, default=""),
    Column("has_reactions", Boolean, nullable=False, default=False),
    # Thread summary kept on the root so thread lists need no aggregate query.
    Column("reply_count", BigInteger, nullable=False, default=0),
    Column("last_reply_at", Ms, nullable=False, default=0),
    Column("participants", JSON, nullable=False, default=list),
    Column("remote_id", Id, nullable=True),
    # When is_pinned was last set, here or on the server it came from: concurrent pins/unpins on two servers
    # converge on the latest (0: never, as of the post's creation).
    Column("pin_at", Ms, nullable=False, default=0, server_default="0"),
    # Mattermost's metadata.priority {priority, requested_ack, persistent_notifications}; NULL: none.
    Column("priority", JSON, nullable=True),
)

Index("ix_posts_channel_id_create_at", posts.c.channel_id, posts.c.create_at)
Index("ix_posts_channel_id_update_at", posts.c.channel_id, posts.c.update_at)
Index("ix_posts_root_id_create_at", posts.c.root_id, posts.c.create_at)

reactions = Table(
    "reactions", metadata,
    Column("user_id", Id, primary_key=True),
    Column("post_id", Id, primary_key=True),
    Column("emoji_name", String(64), primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("remote_id", Id, nullable=True),
    Column("channel_id", Id, nullable=False, default=""),
)

Index("ix_reactions_post_id", reactions.c.post_id)

# Mattermost's PostAcknowledgements: acknowledged_at 0 means removed (kept, so the removal can be synced).
post_acknowledgements = Table(
    "post_acknowledgements", metadata,
    Column("post_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("acknowledged_at", Ms, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("remote_id", Id, nullable=True),  # the connection it came from; NULL for local users
)

# Persistent notifications of urgent posts: one row per local user still to be reminded (Mattermost keeps one row
# per post and stops everyone's reminders when any one mentioned user answers; here each user answers for himself).
# Reminded when last_sent_at is an interval old; the row goes once the user answers or the reminders run out.
persistent_notifications = Table(
    "persistent_notifications", metadata,
    Column("post_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("channel_id", Id, nullable=False),
    Column("create_at", Ms, nullable=False),
    Column("last_sent_at", Ms, nullable=False),
    Column("sent_count", BigInteger, nullable=False, default=0),
)

Index("ix_persistent_notifications_last_sent_at", persistent_notifications.c.last_sent_at)
