"""Queries of the global user sync (§8.3: the local users a connection has not been sent yet) and of the initial
member list of a share (§8.2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.users import users


def _due(cursor: int) -> ColumnElement[bool]:
    # Local people only: a synthetic user belongs to its own server (never sent back, nor on to a third), and a
    # bot cannot be reached from another workspace. A deactivated user goes only once the peer may know it
    # (after a first run), so the first run does not create dead accounts over there.
    cond = and_(users.c.remote_id.is_(None), users.c.is_bot.is_(False), users.c.update_at > cursor)
    return and_(cond, users.c.delete_at == 0) if cursor <= 0 else cond


async def select_due_users(conn: AsyncConnection, cursor: int, limit: int) -> list[dict[str, Any]]:
    """Users changed after ``cursor``, oldest change first (ties by id, so pages are stable)."""
    q = select(users).where(_due(cursor)).order_by(users.c.update_at, users.c.id).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_due_users_at(conn: AsyncConnection, cursor: int, at: int) -> list[dict[str, Any]]:
    """Every due user whose last change is exactly ``at`` (a tie wider than a batch must go as a whole)."""
    q = select(users).where(and_(_due(cursor), users.c.update_at == at)).order_by(users.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def count_due_users(conn: AsyncConnection, cursor: int) -> int:
    return int((await conn.execute(select(func.count()).select_from(users).where(_due(cursor)))).scalar_one())


async def select_member_owners(conn: AsyncConnection, channel_id: str) -> dict[str, str | None]:
    """Every member of the channel -> the connection that owns it (None: a user of this server)."""
    q = (select(channel_members.c.user_id, users.c.remote_id)
         .select_from(channel_members.join(users, users.c.id == channel_members.c.user_id))
         .where(channel_members.c.channel_id == channel_id).order_by(channel_members.c.user_id))
    return {r[0]: r[1] for r in (await conn.execute(q)).all()}
