"""Post acknowledgements (Mattermost's PostAcknowledgements). A removal keeps the row with
``acknowledged_at = 0`` so sync can send it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.posts import post_acknowledgements as acks


def _key(post_id: str, user_id: str) -> Any:
    return and_(acks.c.post_id == post_id, acks.c.user_id == user_id)


async def select_ack(conn: AsyncConnection, post_id: str, user_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(acks).where(_key(post_id, user_id)))).mappings().first()
    return dict(row) if row else None


async def insert_ack(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(acks).values(**row))


async def update_ack(conn: AsyncConnection, post_id: str, user_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(acks).where(_key(post_id, user_id)).values(**values))).rowcount


async def select_acks(conn: AsyncConnection, post_ids: list[str], *, live_only: bool = True) -> list[dict[str, Any]]:
    """Acknowledgements of many posts in one query, oldest first (removed ones too unless ``live_only``)."""
    if not post_ids:
        return []
    cond: Any = acks.c.post_id.in_(post_ids)
    if live_only:
        cond = and_(cond, acks.c.acknowledged_at > 0)
    q = select(acks).where(cond).order_by(acks.c.acknowledged_at, acks.c.user_id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]
