"""Statuses (presence) rows, plus the membership lookups the websocket fan-out needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.statuses import statuses
from isthmus.store.schema.teams import team_members
from isthmus.store.schema.users import users

# Synthetic users (shared channels) get their status from their own server: local presence rules skip them.
_LOCAL = statuses.c.user_id.in_(select(users.c.id).where(users.c.remote_id.is_(None)))


async def select_status(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(statuses).where(statuses.c.user_id == user_id))).mappings().first()
    return dict(row) if row else None


async def select_statuses(conn: AsyncConnection, user_ids: list[str]) -> list[dict[str, Any]]:
    if not user_ids:
        return []
    rows = (await conn.execute(select(statuses).where(statuses.c.user_id.in_(user_ids)))).mappings().all()
    return [dict(r) for r in rows]


async def select_statuses_not_offline(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(statuses).where(statuses.c.status != "offline"))).mappings().all()
    return [dict(r) for r in rows]


async def select_idle_online(conn: AsyncConnection, before_ms: int) -> list[dict[str, Any]]:
    """Automatic (non-manual) online statuses whose stored activity is older than ``before_ms``."""
    q = select(statuses).where(and_(statuses.c.status == "online", statuses.c.manual.is_(False),
                                    statuses.c.last_activity_at < before_ms, _LOCAL))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_expired_dnd(conn: AsyncConnection, now_s: int) -> list[dict[str, Any]]:
    q = select(statuses).where(and_(statuses.c.status == "dnd", statuses.c.dnd_end_time != 0,
                                    statuses.c.dnd_end_time <= now_s, _LOCAL))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def upsert_status(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO UPDATE, spelled per dialect (both SQLite and PostgreSQL support it)."""
    ins = pg_insert(statuses) if conn.dialect.name == "postgresql" else sqlite_insert(statuses)
    values = {k: v for k, v in row.items() if k != "user_id"}
    await conn.execute(ins.values(**row).on_conflict_do_update(index_elements=[statuses.c.user_id], set_=values))


async def update_automatic_to_offline(conn: AsyncConnection, now: int) -> list[str]:
    """At startup no socket exists, so every automatic (non-manual) status of a local user is really offline.
    Returns the users whose status changed."""
    where = and_(statuses.c.manual.is_(False), statuses.c.status != "offline", _LOCAL)
    ids = [str(r[0]) for r in (await conn.execute(select(statuses.c.user_id).where(where))).all()]
    if ids:
        await conn.execute(update(statuses).where(where).values(status="offline", status_at=now))
    return ids


async def select_channel_member_ids(conn: AsyncConnection, channel_id: str) -> list[str]:
    q = select(channel_members.c.user_id).where(channel_members.c.channel_id == channel_id)
    return [str(r[0]) for r in (await conn.execute(q)).all()]


async def select_team_member_ids(conn: AsyncConnection, team_id: str) -> list[str]:
    q = select(team_members.c.user_id).where(and_(team_members.c.team_id == team_id,
                                                  team_members.c.delete_at == 0))
    return [str(r[0]) for r in (await conn.execute(q)).all()]
