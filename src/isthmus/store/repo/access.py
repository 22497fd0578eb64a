"""Point lookups used by permission checks (domain/access.py) on every request; keep them cheap."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.teams import team_members, teams


async def select_team(conn: AsyncConnection, team_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(teams).where(teams.c.id == team_id))).mappings().first()
    return dict(row) if row else None


_CHANNEL = select(channels).where(channels.c.id == bindparam("b_cid"))  # the most frequent read: built once


async def select_channel(conn: AsyncConnection, channel_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(_CHANNEL, {"b_cid": channel_id})).mappings().first()
    return dict(row) if row else None


async def select_team_member(conn: AsyncConnection, team_id: str, user_id: str) -> dict[str, Any] | None:
    q = select(team_members).where(and_(team_members.c.team_id == team_id, team_members.c.user_id == user_id))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_channel_member(conn: AsyncConnection, channel_id: str, user_id: str) -> dict[str, Any] | None:
    q = select(channel_members).where(and_(channel_members.c.channel_id == channel_id,
                                           channel_members.c.user_id == user_id))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None
