from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, String, Table, UniqueConstraint

from isthmus.store.schema.base import Id, Ms, metadata

channels = Table(
    "channels", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("team_id", String(26), nullable=False, default="", index=True),
    Column("type", String(1), nullable=False),
    Column("display_name", String(64), nullable=False, default=""),
    Column("name", String(64), nullable=False),
    Column("header", String(1024), nullable=False, default=""),
    Column("purpose", String(250), nullable=False, default=""),
    Column("last_post_at", Ms, nullable=False, default=0),
    Column("last_root_post_at", Ms, nullable=False, default=0),
    Column("total_msg_count", BigInteger, nullable=False, default=0),
    Column("total_msg_count_root", BigInteger, nullable=False, default=0),
    Column("creator_id", String(26), nullable=False, default=""),
    Column("scheme_id", Id, nullable=True),
    Column("group_constrained", Boolean, nullable=False, default=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("props", JSON, nullable=False, default=dict),
    UniqueConstraint("team_id", "name", name="uq_channels_team_id_name"),
)

channel_members = Table(
    "channel_members", metadata,
    Column("channel_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True, index=True),
    Column("roles", String(256), nullable=False, default=""),
    Column("last_viewed_at", Ms, nullable=False, default=0),
    Column("msg_count", BigInteger, nullable=False, default=0),
    Column("msg_count_root", BigInteger, nullable=False, default=0),
    Column("mention_count", BigInteger, nullable=False, default=0),
    Column("mention_count_root", BigInteger, nullable=False, default=0),
    Column("urgent_mention_count", BigInteger, nullable=False, default=0),
    Column("notify_props", JSON, nullable=False, default=dict),
    Column("last_update_at", Ms, nullable=False, default=0),
    Column("scheme_user", Boolean, nullable=False, default=True),
    Column("scheme_admin", Boolean, nullable=False, default=False),
    Column("scheme_guest", Boolean, nullable=False, default=False),
)
