"""Channel bookmark rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.bookmarks import channel_bookmarks as cb


async def select_bookmarks(conn: AsyncConnection, channel_id: str, since: int = 0) -> list[dict[str, Any]]:
    """Live bookmarks in order; with ``since``, everything changed after it, deleted ones included."""
    cond = cb.c.channel_id == channel_id
    cond = and_(cond, cb.c.update_at > since) if since else and_(cond, cb.c.delete_at == 0)
    q = select(cb).where(cond).order_by(cb.c.sort_order, cb.c.create_at, cb.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_bookmark(conn: AsyncConnection, bookmark_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(cb).where(cb.c.id == bookmark_id))).mappings().first()
    return dict(row) if row else None


async def count_live(conn: AsyncConnection, channel_id: str) -> int:
    q = select(func.count()).select_from(cb).where(and_(cb.c.channel_id == channel_id, cb.c.delete_at == 0))
    return int((await conn.execute(q)).scalar_one())


async def insert_bookmark(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(cb).values(**row))


async def update_bookmark(conn: AsyncConnection, bookmark_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(cb).where(cb.c.id == bookmark_id).values(**values))
