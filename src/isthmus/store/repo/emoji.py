"""Custom emoji rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.emoji import emoji


async def select_emoji(conn: AsyncConnection, emoji_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(emoji).where(emoji.c.id == emoji_id))).mappings().first()
    return dict(row) if row else None


async def select_by_names(conn: AsyncConnection, names: list[str]) -> list[dict[str, Any]]:
    if not names:
        return []
    q = select(emoji).where(and_(emoji.c.name.in_(names), emoji.c.delete_at == 0)).order_by(emoji.c.name)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_page(conn: AsyncConnection, *, offset: int, limit: int, by_name: bool) -> list[dict[str, Any]]:
    order = (emoji.c.name,) if by_name else (emoji.c.create_at, emoji.c.id)
    q = select(emoji).where(emoji.c.delete_at == 0).order_by(*order).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def search(conn: AsyncConnection, term: str, *, prefix_only: bool, limit: int) -> list[dict[str, Any]]:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"{escaped}%" if prefix_only else f"%{escaped}%"
    q = (select(emoji).where(and_(emoji.c.delete_at == 0, emoji.c.name.like(pattern, escape="\\")))
         .order_by(emoji.c.name).limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def insert_emoji(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(emoji).values(**row))


async def mark_deleted(conn: AsyncConnection, emoji_id: str, now: int) -> None:
    await conn.execute(update(emoji).where(emoji.c.id == emoji_id).values(delete_at=now, update_at=now))
