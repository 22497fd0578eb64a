from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text

from isthmus.store.schema.base import Id, Ms, metadata

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("username", String(64), nullable=False, unique=True),
    Column("email", String(128), nullable=False, unique=True),
    Column("password", String(128), nullable=False, default=""),
    Column("auth_service", String(32), nullable=False, default=""),
    Column("nickname", String(64), nullable=False, default=""),
    Column("first_name", String(64), nullable=False, default=""),
    Column("last_name", String(64), nullable=False, default=""),
    Column("position", String(128), nullable=False, default=""),
    Column("roles", String(256), nullable=False, default="system_user"),
    Column("locale", String(5), nullable=False, default="en"),
    Column("props", JSON, nullable=False, default=dict),
    Column("notify_props", JSON, nullable=False, default=dict),
    Column("timezone", JSON, nullable=False, default=dict),
    Column("last_password_update", Ms, nullable=False, default=0),
    Column("last_picture_update", Ms, nullable=False, default=0),
    Column("is_bot", Boolean, nullable=False, default=False),
    Column("bot_description", Text, nullable=False, default=""),
    Column("failed_attempts", Integer, nullable=False, default=0),
    # Set for synthetic users that mirror a user homed on a connected workspace.
    Column("remote_id", Id, nullable=True),
    # Synthetic users: the owner's update_at of the last profile applied (last writer wins; migration 0008).
    Column("remote_update_at", Ms, nullable=False, default=0, server_default="0"),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Id, primary_key=True),
    Column("token", String(26), nullable=False, unique=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("create_at", Ms, nullable=False),
    Column("expires_at", Ms, nullable=False),
    Column("last_activity_at", Ms, nullable=False),
    Column("device_id", String(512), nullable=False, default=""),
    Column("roles", String(256), nullable=False, default=""),
    Column("is_oauth", Boolean, nullable=False, default=False),
    Column("props", JSON, nullable=False, default=dict),
)

user_access_tokens = Table(
    "user_access_tokens", metadata,
    Column("id", Id, primary_key=True),
    Column("token", String(26), nullable=False, unique=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("description", String(512), nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
)

Index("ix_users_remote_id", users.c.remote_id)
# Global user sync pages through users by their last change (migration 0013).
Index("ix_users_update_at", users.c.update_at, users.c.id)

# Failed password attempts per account ("user:<id>") or per unknown login name ("login:<name>"), so a
# lockout looks the same whether or not the account exists; it lapses ``AccountLockoutMinutes`` after the
# last failure (a lock is never for good).
login_failures = Table(
    "login_failures", metadata,
    Column("login_key", String(300), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_at", Ms, nullable=False, default=0),
)
