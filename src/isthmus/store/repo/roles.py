from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.roles import roles


async def select_all_roles(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(roles))).mappings().all()
    return [dict(r) for r in rows]


async def insert_role(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(roles).values(**row))


async def update_role(conn: AsyncConnection, role_id: str, values: dict[str, Any]) -> int:
    res = await conn.execute(update(roles).where(roles.c.id == role_id).values(**values))
    return res.rowcount
