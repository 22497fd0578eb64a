"""User presence (Mattermost's ``Status`` table): one row per user who has ever had a status."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

statuses = Table(
    "statuses", metadata,
    Column("user_id", Id, primary_key=True),
    Column("status", String(32), nullable=False, default="offline"),
    Column("manual", Boolean, nullable=False, default=False),
    Column("last_activity_at", Ms, nullable=False, default=0),
    # Seconds since the epoch (the one non-millisecond timestamp in Mattermost's API); 0 = no end.
    Column("dnd_end_time", BigInteger, nullable=False, default=0),
    # Status to restore when a timed DND ends.
    Column("prev_status", String(32), nullable=False, default=""),
    # The status clock (last writer wins across servers; migration 0008): when what the status says last
    # changed here, or for a synthetic user the owner's clock of the last status applied.
    Column("status_at", Ms, nullable=False, default=0, server_default="0"),
)

Index("ix_statuses_status", statuses.c.status)
