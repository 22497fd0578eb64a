"""Pending persistent notifications (one row per urgent post and local user still to be reminded), and the
lookups the reminder job needs to see whether a user has answered the post."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.posts import persistent_notifications as pn
from isthmus.store.schema.posts import post_acknowledgements, posts, reactions
from isthmus.store.schema.users import users

Key = tuple[str, str]  # (post_id, user_id)


def _keys(keys: Iterable[Key]) -> Any:
    # The job handles one small batch at a time, so a disjunction of primary keys is cheap on both databases.
    return or_(*(and_(pn.c.post_id == p, pn.c.user_id == u) for p, u in keys))


async def insert_pending(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(pn), rows)


async def select_due(conn: AsyncConnection, sent_before: int, limit: int) -> list[dict[str, Any]]:
    """Rows whose last reminder (or the post itself) is at least an interval old, oldest first."""
    q = (select(pn).where(pn.c.last_sent_at <= sent_before)
         .order_by(pn.c.last_sent_at, pn.c.post_id, pn.c.user_id).limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_for_post(conn: AsyncConnection, post_id: str) -> list[dict[str, Any]]:
    q = select(pn).where(pn.c.post_id == post_id).order_by(pn.c.user_id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def mark_sent(conn: AsyncConnection, keys: list[Key], now: int) -> None:
    if keys:
        await conn.execute(update(pn).where(_keys(keys)).values(last_sent_at=now, sent_count=pn.c.sent_count + 1))


async def delete_keys(conn: AsyncConnection, keys: list[Key]) -> None:
    if keys:
        await conn.execute(delete(pn).where(_keys(keys)))


async def select_local_ids(conn: AsyncConnection, user_ids: list[str]) -> list[str]:
    """The users of ``user_ids`` that belong to this server (remote users are reminded by their own)."""
    if not user_ids:
        return []
    q = select(users.c.id).where(users.c.id.in_(user_ids), users.c.remote_id.is_(None), users.c.delete_at == 0)
    return [r[0] for r in (await conn.execute(q)).all()]


async def select_members(conn: AsyncConnection, channel_ids: list[str], user_ids: list[str]) -> set[Key]:
    """(channel_id, user_id) of the given users that are members of the given channels."""
    if not channel_ids or not user_ids:
        return set()
    q = select(channel_members.c.channel_id, channel_members.c.user_id).where(
        channel_members.c.channel_id.in_(channel_ids), channel_members.c.user_id.in_(user_ids))
    return {(r[0], r[1]) for r in (await conn.execute(q)).all()}


async def select_answered(conn: AsyncConnection, post_ids: list[str]) -> set[Key]:
    """(post_id, user_id) of every user who acknowledged, reacted to or replied to one of the posts."""
    if not post_ids:
        return set()
    acked = select(post_acknowledgements.c.post_id, post_acknowledgements.c.user_id).where(
        post_acknowledgements.c.post_id.in_(post_ids), post_acknowledgements.c.acknowledged_at > 0)
    reacted = select(reactions.c.post_id, reactions.c.user_id).where(
        reactions.c.post_id.in_(post_ids), reactions.c.delete_at == 0)
    replied = select(posts.c.root_id, posts.c.user_id).where(posts.c.root_id.in_(post_ids), posts.c.delete_at == 0)
    out: set[Key] = set()
    for q in (acked, reacted, replied):
        out.update((r[0], r[1]) for r in (await conn.execute(q)).all())
    return out

