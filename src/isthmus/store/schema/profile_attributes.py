"""Custom profile attributes (Mattermost's ``PropertyFields`` / ``PropertyValues`` of the CPA group):
fields an admin defines for every user's profile, and each user's values."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

cpa_fields = Table(
    "cpa_fields", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("attrs", JSON, nullable=False, default=dict),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("created_by", String(26), nullable=False, default=""),
    Column("updated_by", String(26), nullable=False, default=""),
)

cpa_values = Table(
    "cpa_values", metadata,
    Column("field_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True),
    Column("value", JSON, nullable=True),
    Column("update_at", Ms, nullable=False),
)
Index("ix_cpa_values_user_id", cpa_values.c.user_id)
