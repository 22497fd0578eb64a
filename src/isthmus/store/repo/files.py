from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import posts
from isthmus.store.schema.system import systems


async def insert_file_infos(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(file_infos), rows)


async def select_file_info(conn: AsyncConnection, file_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(file_infos).where(file_infos.c.id == file_id))).mappings().first()
    return dict(row) if row else None


async def select_file_infos_by_ids(conn: AsyncConnection, ids: list[str], *,
                                   for_update: bool = False) -> list[dict[str, Any]]:
    if not ids:
        return []
    q = select(file_infos).where(file_infos.c.id.in_(ids))
    if for_update:
        q = q.with_for_update()
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_file_infos_for_posts(conn: AsyncConnection, post_ids: list[str], *,
                                      include_deleted: bool = False) -> list[dict[str, Any]]:
    if not post_ids:
        return []
    q = select(file_infos).where(file_infos.c.post_id.in_(post_ids))
    if not include_deleted:
        q = q.where(file_infos.c.delete_at == 0)
    q = q.order_by(file_infos.c.create_at, file_infos.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def attach_file_infos(conn: AsyncConnection, ids: list[str], post_id: str, now: int) -> int:
    """Set ``post_id`` on still-unattached files; the ``post_id == ''`` guard makes a race lose, not win."""
    res = await conn.execute(update(file_infos).where(and_(
        file_infos.c.id.in_(ids), file_infos.c.post_id == "", file_infos.c.delete_at == 0,
    )).values(post_id=post_id, update_at=now))
    return res.rowcount


async def delete_file_infos_for_post(conn: AsyncConnection, post_id: str, now: int) -> int:
    res = await conn.execute(update(file_infos).where(and_(
        file_infos.c.post_id == post_id, file_infos.c.delete_at == 0)).values(delete_at=now, update_at=now))
    return res.rowcount


async def delete_file_infos(conn: AsyncConnection, post_ids: list[str], now: int,
                            file_ids: list[str] | None = None) -> int:
    """Soft-delete the live files of ``post_ids`` (only those among ``file_ids`` when given)."""
    if not post_ids or file_ids == []:
        return 0
    cond = and_(file_infos.c.post_id.in_(post_ids), file_infos.c.delete_at == 0)
    if file_ids is not None:
        cond = and_(cond, file_infos.c.id.in_(file_ids))
    res = await conn.execute(update(file_infos).where(cond).values(delete_at=now, update_at=now))
    return res.rowcount


async def select_post_brief(conn: AsyncConnection, post_id: str) -> dict[str, Any] | None:
    """The few post columns file reads need to check access (channel and deletion)."""
    q = select(posts.c.id, posts.c.channel_id, posts.c.delete_at).where(posts.c.id == post_id)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_system_value(conn: AsyncConnection, name: str) -> str | None:
    row = (await conn.execute(select(systems.c.value).where(systems.c.name == name))).first()
    return str(row[0]) if row else None


async def insert_system_value(conn: AsyncConnection, name: str, value: str) -> None:
    await conn.execute(insert(systems).values(name=name, value=value))
