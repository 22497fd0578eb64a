"""Custom emoji (Mattermost's ``Emoji``): a name and an image uploaded by a user, usable in messages and reactions."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

emoji = Table(
    "emoji", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("creator_id", Id, nullable=False),
    Column("name", String(64), nullable=False),
)
# One live emoji per name (deleted ones keep theirs, with their delete_at), as Mattermost's unique key.
Index("uq_emoji_name_delete_at", emoji.c.name, emoji.c.delete_at, unique=True)
