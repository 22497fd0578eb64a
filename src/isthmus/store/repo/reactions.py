"""Reactions. Removal is a soft delete (``delete_at``) so sync can see it; a re-add revives the row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.posts import posts, reactions


def _key(user_id: str, post_id: str, emoji_name: str) -> Any:
    r = reactions.c
    return and_(r.user_id == user_id, r.post_id == post_id, r.emoji_name == emoji_name)


async def select_reaction(conn: AsyncConnection, user_id: str, post_id: str, emoji_name: str
                          ) -> dict[str, Any] | None:
    row = (await conn.execute(select(reactions).where(_key(user_id, post_id, emoji_name)))).mappings().first()
    return dict(row) if row else None


async def insert_reaction(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(reactions).values(**row))


async def update_reaction(conn: AsyncConnection, user_id: str, post_id: str, emoji_name: str,
                          values: dict[str, Any]) -> int:
    q = update(reactions).where(_key(user_id, post_id, emoji_name)).values(**values)
    return (await conn.execute(q)).rowcount


async def select_live_reactions(conn: AsyncConnection, post_ids: list[str]) -> list[dict[str, Any]]:
    """Live reactions of many posts in one query, oldest first (the order clients display)."""
    if not post_ids:
        return []
    q = (select(reactions).where(and_(reactions.c.post_id.in_(post_ids), reactions.c.delete_at == 0))
         .order_by(reactions.c.create_at, reactions.c.user_id, reactions.c.emoji_name))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_live_emoji_names(conn: AsyncConnection, post_id: str) -> set[str]:
    q = (select(reactions.c.emoji_name).where(and_(reactions.c.post_id == post_id, reactions.c.delete_at == 0))
         .distinct())
    return {r[0] for r in (await conn.execute(q)).all()}


async def refresh_post_has_reactions(conn: AsyncConnection, post_id: str, now: int) -> None:
    """Recompute ``has_reactions`` and bump ``update_at`` so "posts since" clients see the change."""
    live = exists().where(and_(reactions.c.post_id == post_id, reactions.c.delete_at == 0))
    await conn.execute(update(posts).where(posts.c.id == post_id).values(has_reactions=live, update_at=now))
