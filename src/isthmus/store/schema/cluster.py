"""Several serving processes on one database: who is alive, and who holds which lease."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

# One row per serving process, refreshed by its heartbeat; a row whose last_seen_at is older than the node
# timeout belongs to a dead process (kill -9 leaves its row behind; it is deleted by the next live node).
cluster_nodes = Table(
    "cluster_nodes", metadata,
    Column("id", Id, primary_key=True),
    Column("cluster_name", String(128), nullable=False, default=""),
    Column("hostname", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("address", String(255), nullable=False, default=""),
    Column("version", String(64), nullable=False, default=""),
    Column("config_hash", String(64), nullable=False, default=""),
    Column("schema_version", String(32), nullable=False, default=""),
    Column("started_at", Ms, nullable=False, default=0),
    Column("last_seen_at", Ms, nullable=False, default=0),
)

# Work that must run in exactly one process of the workspace ("remote:<id>" for the sender to one
# connection, "job:<name>" for periodic jobs). Taken or renewed with one conditional write: the row is
# free when expires_at has passed, so a holder that died loses it after one lease period.
leases = Table(
    "leases", metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", Id, nullable=False),
    Column("expires_at", Ms, nullable=False),
    Column("acquired_at", Ms, nullable=False, default=0),
)
