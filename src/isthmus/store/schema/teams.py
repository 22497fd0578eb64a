from __future__ import annotations

from sqlalchemy import Boolean, Column, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

teams = Table(
    "teams", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("display_name", String(64), nullable=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", String(255), nullable=False, default=""),
    Column("email", String(128), nullable=False, default=""),
    Column("type", String(1), nullable=False, default="O"),
    Column("company_name", String(64), nullable=False, default=""),
    Column("allowed_domains", String(1000), nullable=False, default=""),
    Column("invite_id", Id, nullable=False, default=""),
    Column("allow_open_invite", Boolean, nullable=False, default=False),
    Column("scheme_id", Id, nullable=True),
)

team_members = Table(
    "team_members", metadata,
    Column("team_id", Id, primary_key=True),
    Column("user_id", Id, primary_key=True, index=True),
    Column("roles", String(256), nullable=False, default=""),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("scheme_user", Boolean, nullable=False, default=True),
    Column("scheme_admin", Boolean, nullable=False, default=False),
    Column("scheme_guest", Boolean, nullable=False, default=False),
    Column("create_at", Ms, nullable=False, default=0),
)
