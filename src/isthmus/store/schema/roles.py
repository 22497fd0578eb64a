from __future__ import annotations

from sqlalchemy import Boolean, Column, String, Table, Text

from isthmus.store.schema.base import Id, Ms, metadata

roles = Table(
    "roles", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False, default=""),
    Column("description", String(1024), nullable=False, default=""),
    Column("permissions", Text, nullable=False, default=""),
    Column("scheme_managed", Boolean, nullable=False, default=False),
    Column("built_in", Boolean, nullable=False, default=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
)
