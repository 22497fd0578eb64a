"""Sidebar categories a user changed, and the channels they placed in them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.preferences import sidebar_categories, sidebar_channels


async def select_categories(conn: AsyncConnection, user_id: str, team_id: str) -> list[dict[str, Any]]:
    q = (select(sidebar_categories)
         .where(and_(sidebar_categories.c.user_id == user_id, sidebar_categories.c.team_id == team_id))
         .order_by(sidebar_categories.c.sort_order, sidebar_categories.c.id))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_placements(conn: AsyncConnection, category_ids: list[str]) -> list[dict[str, Any]]:
    if not category_ids:
        return []
    q = (select(sidebar_channels).where(sidebar_channels.c.category_id.in_(category_ids))
         .order_by(sidebar_channels.c.category_id, sidebar_channels.c.sort_order))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def insert_categories(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(sidebar_categories), rows)


async def update_category(conn: AsyncConnection, category_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(sidebar_categories).where(sidebar_categories.c.id == category_id).values(**values))


async def delete_category(conn: AsyncConnection, category_id: str) -> None:
    await conn.execute(delete(sidebar_channels).where(sidebar_channels.c.category_id == category_id))
    await conn.execute(delete(sidebar_categories).where(sidebar_categories.c.id == category_id))


async def replace_placements(conn: AsyncConnection, user_id: str, category_ids: list[str],
                             channel_ids: list[str], category_id: str) -> None:
    """Put ``channel_ids`` (in this order) in ``category_id``, taking them out of the user's other categories."""
    if channel_ids:
        await conn.execute(delete(sidebar_channels).where(and_(
            sidebar_channels.c.category_id.in_(category_ids), sidebar_channels.c.channel_id.in_(channel_ids))))
    await conn.execute(delete(sidebar_channels).where(sidebar_channels.c.category_id == category_id))
    if channel_ids:
        await conn.execute(insert(sidebar_channels), [
            {"category_id": category_id, "channel_id": c, "user_id": user_id, "sort_order": i * 10}
            for i, c in enumerate(channel_ids)])
