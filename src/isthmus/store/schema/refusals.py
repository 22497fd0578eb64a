"""What a connected workspace did not accept, and the limits each workspace announces (our extension).

``sync_refusals``: one row per item a peer refused (a file it would not take, or an item it listed in a
sync answer's ``*_errors``), so an admin can see what never arrived and why. One row per
(remote, kind, item): a refusal seen again replaces the older row.
``remote_limits``: the limits a peer announced with ``isthmus_limits`` (max file size, attachments on/off,
max post size), so the sender skips files the peer would refuse and warns the person posting them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

sync_refusals = Table(
    "sync_refusals", metadata,
    Column("id", Id, primary_key=True),
    Column("remote_id", Id, nullable=False),
    Column("channel_id", String(26), nullable=False, default=""),
    Column("kind", String(16), nullable=False),  # file | post | reaction | user | status | member
    Column("item_id", String(64), nullable=False),
    Column("reason", String(32), nullable=False),  # too_large | attachments_off | refused
    Column("message", String(512), nullable=False, default=""),  # the reason in words, for admins
    Column("create_at", Ms, nullable=False),
)
Index("ix_sync_refusals_remote_id_create_at", sync_refusals.c.remote_id, sync_refusals.c.create_at)
Index("ix_sync_refusals_remote_id_kind_item_id", sync_refusals.c.remote_id, sync_refusals.c.kind,
      sync_refusals.c.item_id)

remote_limits = Table(
    "remote_limits", metadata,
    Column("remote_id", Id, primary_key=True),
    Column("max_file_size", BigInteger, nullable=False),
    Column("enable_file_attachments", Boolean, nullable=False),
    Column("max_post_size", Integer, nullable=False),
    Column("update_at", Ms, nullable=False),
)
