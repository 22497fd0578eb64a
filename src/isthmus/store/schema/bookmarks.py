"""Channel bookmarks (Mattermost's ``ChannelBookmarks``): links and files pinned to a channel's header.

Local to this server: a shared channel's bookmarks are each workspace's own.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from isthmus.store.schema.base import Id, Ms, metadata

channel_bookmarks = Table(
    "channel_bookmarks", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("channel_id", Id, nullable=False),
    Column("owner_id", Id, nullable=False),
    Column("file_id", String(26), nullable=False, default=""),
    Column("display_name", String(64), nullable=False),
    Column("sort_order", BigInteger, nullable=False, default=0),
    Column("link_url", Text, nullable=False, default=""),
    Column("image_url", Text, nullable=False, default=""),
    Column("emoji", String(64), nullable=False, default=""),
    Column("type", String(8), nullable=False),
)
Index("ix_channel_bookmarks_channel_id", channel_bookmarks.c.channel_id)
