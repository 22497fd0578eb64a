"""Preference rows (one per user, category, name)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.preferences import preferences


async def select_preferences(conn: AsyncConnection, user_id: str, category: str | None = None,
                             name: str | None = None) -> list[dict[str, Any]]:
    q = select(preferences).where(preferences.c.user_id == user_id)
    if category is not None:
        q = q.where(preferences.c.category == category)
    if name is not None:
        q = q.where(preferences.c.name == name)
    rows = (await conn.execute(q.order_by(preferences.c.category, preferences.c.name))).mappings().all()
    return [dict(r) for r in rows]


async def upsert_preferences(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    ins = pg_insert(preferences) if conn.dialect.name == "postgresql" else sqlite_insert(preferences)
    for row in rows:
        await conn.execute(ins.values(**row).on_conflict_do_update(
            index_elements=[preferences.c.user_id, preferences.c.category, preferences.c.name],
            set_={"value": row["value"]}))


async def delete_preferences(conn: AsyncConnection, user_id: str, keys: list[tuple[str, str]]) -> int:
    if not keys:
        return 0
    match = or_(*(and_(preferences.c.category == c, preferences.c.name == n) for c, n in keys))
    result = await conn.execute(delete(preferences).where(and_(preferences.c.user_id == user_id, match)))
    return int(result.rowcount or 0)
