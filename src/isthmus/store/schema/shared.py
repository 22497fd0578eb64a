"""Shared channels (``mattermost-protocol.md`` §1.2–§1.5) plus our durable sync outbox.

Mattermost keeps only per (channel, remote) timestamp cursors over the posts table. We keep those
columns for wire/REST compatibility, but the sender's truth is ``sync_outbox``: one row per change to
a shared channel, appended in the same transaction as the change itself, and a per (channel, remote)
``outbox_cursor`` (the last ``seq`` the peer acknowledged).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, UniqueConstraint, false

from isthmus.store.schema.base import Id, Ms, metadata

# SQLite only autoincrements an INTEGER PRIMARY KEY (its rowid); PostgreSQL gets a BIGINT identity.
Seq = BigInteger().with_variant(Integer(), "sqlite")

shared_channels = Table(
    "shared_channels", metadata,
    Column("channel_id", Id, primary_key=True),  # the same channel id on every server
    Column("team_id", String(26), nullable=False, default=""),
    Column("home", Boolean, nullable=False, default=True),
    Column("readonly", Boolean, nullable=False, default=False),
    Column("share_name", String(64), nullable=False),
    Column("share_display_name", String(64), nullable=False, default=""),
    Column("share_purpose", String(250), nullable=False, default=""),
    Column("share_header", String(1024), nullable=False, default=""),
    Column("creator_id", String(26), nullable=False, default=""),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    # Only when home is false: the connection to the home server.
    Column("remote_id", String(26), nullable=False, default=""),
)

shared_channel_remotes = Table(
    "shared_channel_remotes", metadata,
    Column("id", Id, primary_key=True),
    Column("channel_id", Id, nullable=False),
    Column("creator_id", String(26), nullable=False, default=""),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("is_invite_accepted", Boolean, nullable=False, default=True),
    Column("is_invite_confirmed", Boolean, nullable=False, default=False),
    Column("remote_id", Id, nullable=False),
    # Mattermost's cursors, kept current for REST/UI compatibility (informational here).
    Column("last_post_update_at", Ms, nullable=False, default=0),
    Column("last_post_update_id", String(26), nullable=False, default=""),
    Column("last_post_create_at", Ms, nullable=False, default=0),
    Column("last_post_create_id", String(26), nullable=False, default=""),
    Column("last_members_sync_at", Ms, nullable=False, default=0),
    # Our durable cursor: every sync_outbox row of this channel with seq <= outbox_cursor was acknowledged
    # by (or deliberately not sent to) this remote.
    Column("outbox_cursor", BigInteger, nullable=False, default=0),
    # Set when the remote is uninvited/unshared: every change before it was acknowledged, so a re-invite
    # replays what changed since (the outbox rows in between may be gone or were never written).
    Column("unsent_since", Ms, nullable=False, default=0, server_default="0"),
    # A sharedchannel_unshare still to deliver (UNSHARE_NOTICE_* in domain.shares); the connection's sender
    # delivers it whenever the peer is reachable, so a peer that was down still learns of a deletion.
    Column("unshare_notice", Integer, nullable=False, default=0, server_default="0"),
    # Confirmed because the peer synced the channel, not because it answered this invite: the sync may come
    # from its copy of an earlier invite, torn down since (domain.sharing.confirm). Migration 0019.
    Column("confirmed_by_sync", Boolean, nullable=False, default=False, server_default=false()),
    # Our copy's link to the channel's home (not a remote we invited); kept when the copy stops being shared,
    # so the ownership rules still know we were not the home (domain.sharing.ownership). Migration 0020.
    Column("to_home", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("channel_id", "remote_id", name="uq_shared_channel_remotes_channel_id_remote_id"),
)
Index("ix_shared_channel_remotes_remote_id", shared_channel_remotes.c.remote_id)

shared_channel_users = Table(
    "shared_channel_users", metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("remote_id", Id, nullable=False),
    Column("create_at", Ms, nullable=False),
    Column("last_sync_at", Ms, nullable=False, default=0),
    UniqueConstraint("user_id", "channel_id", "remote_id",
                     name="uq_shared_channel_users_user_id_channel_id_remote_id"),
)
Index("ix_shared_channel_users_remote_id", shared_channel_users.c.remote_id)

shared_channel_attachments = Table(
    "shared_channel_attachments", metadata,
    Column("id", Id, primary_key=True),
    Column("file_id", Id, nullable=False),
    Column("remote_id", Id, nullable=False),
    Column("create_at", Ms, nullable=False),
    Column("last_sync_at", Ms, nullable=False, default=0),
    UniqueConstraint("file_id", "remote_id", name="uq_shared_channel_attachments_file_id_remote_id"),
)

# Upload sessions opened by a peer (topic sharedchannel_upload) awaiting their bytes on /upload/{id}.
remote_upload_sessions = Table(
    "remote_upload_sessions", metadata,
    Column("id", Id, primary_key=True),
    Column("type", String(32), nullable=False, default="attachment"),
    Column("create_at", Ms, nullable=False),
    Column("user_id", Id, nullable=False),
    Column("channel_id", Id, nullable=False),
    Column("filename", String(256), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_offset", BigInteger, nullable=False, default=0),
    Column("remote_id", Id, nullable=False),
    Column("req_file_id", Id, nullable=False),
)

# What changed in shared channels, in commit order per channel (appends are serialised per channel).
sync_outbox = Table(
    "sync_outbox", metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("channel_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),  # post | pin | reaction | user | member | file | channel
    # A post/user id, or for a reaction "post:user:emoji" (only changed reactions travel), an ack "post:user".
    Column("entity_id", String(160), nullable=False),
    # The remote the change came from (never sent back to it); NULL for local changes.
    Column("origin_remote_id", String(26), nullable=True),
    Column("create_at", Ms, nullable=False),
    # Only for this remote (a re-invite's replay, a verify --repair re-send); NULL for every remote. Migration 0018.
    Column("target_remote_id", String(26), nullable=True),
)
Index("ix_sync_outbox_channel_id_seq", sync_outbox.c.channel_id, sync_outbox.c.seq)

# Membership clock per (channel, user) of a shared channel: the time of the last change applied or made here,
# so a late older membership change is ignored (a removed member has no channel_members row; migration 0008).
shared_member_clocks = Table(
    "shared_member_clocks", metadata,
    Column("channel_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("change_at", Ms, nullable=False),
)
