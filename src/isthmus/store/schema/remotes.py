"""Secure connections (Mattermost's RemoteClusters, ``mattermost-protocol.md`` §1.1). Both sides hold one row."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, SmallInteger, String, Table, false, true

from isthmus.store.schema.base import Id, Ms, metadata

remote_clusters = Table(
    "remote_clusters", metadata,
    # The connection id is the same on both servers (the acceptor copies it from the invite).
    Column("remote_id", Id, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("remote_team_id", String(26), nullable=False, default=""),
    Column("display_name", String(64), nullable=False, default=""),
    # "pending_<id>" until the invite is confirmed, then the peer's SiteURL.
    Column("site_url", String(512), nullable=False, default=""),
    Column("default_team_id", String(26), nullable=False, default=""),
    Column("create_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("last_ping_at", Ms, nullable=False, default=0),
    Column("last_global_user_sync_at", Ms, nullable=False, default=0),
    # token: what the peer must present to us; remote_token: what we present to the peer. Never leave via REST.
    Column("token", String(64), nullable=False, default=""),
    Column("remote_token", String(64), nullable=False, default=""),
    Column("topics", String(512), nullable=False, default=""),
    Column("creator_id", String(26), nullable=False, default=""),
    Column("plugin_id", String(190), nullable=False, default=""),
    Column("options", SmallInteger, nullable=False, default=0),
    # Which profile fields are sent to this peer (migration 0015). Email only when the admin opts in.
    Column("share_email", Boolean, nullable=False, default=False, server_default=false()),
    Column("share_full_name", Boolean, nullable=False, default=True, server_default=true()),
    Column("share_nickname", Boolean, nullable=False, default=True, server_default=true()),
    Column("share_position", Boolean, nullable=False, default=True, server_default=true()),
    # A pending connection's invitation was last (re)generated then; it expires INVITE_EXPIRES_MS later.
    Column("invite_issued_at", Ms, nullable=False, default=0, server_default="0"),
)

Index("ix_remote_clusters_site_url", remote_clusters.c.site_url)
Index("ix_remote_clusters_delete_at", remote_clusters.c.delete_at)
