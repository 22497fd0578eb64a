"""Reads and writes behind collapsed reply threads: followed roots, unread replies, explicit memberships."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.posts import posts
from isthmus.store.schema.preferences import thread_memberships as tm

MAX_THREADS = 1000  # a user's thread list is read whole for its totals; beyond this the oldest drop off


def _followed_roots(user_id: str, team_id: str, include_deleted: bool) -> Any:
    mine = select(channel_members.c.channel_id).where(channel_members.c.user_id == user_id)
    in_team = select(channels.c.id).where(and_(channels.c.id.in_(mine),
                                               or_(channels.c.team_id == team_id, channels.c.team_id == "")))
    replied = select(posts.c.root_id).where(and_(posts.c.user_id == user_id, posts.c.root_id != ""))
    explicit = select(tm.c.post_id).where(and_(tm.c.user_id == user_id, tm.c.following.is_(True)))
    dropped = select(tm.c.post_id).where(and_(tm.c.user_id == user_id, tm.c.following.is_(False)))
    cond = and_(posts.c.root_id == "", posts.c.reply_count > 0, posts.c.channel_id.in_(in_team),
                or_(posts.c.user_id == user_id, posts.c.id.in_(replied), posts.c.id.in_(explicit)),
                posts.c.id.not_in(dropped))
    return cond if include_deleted else and_(cond, posts.c.delete_at == 0)


async def select_followed_roots(conn: AsyncConnection, user_id: str, team_id: str, *,
                                include_deleted: bool) -> list[dict[str, Any]]:
    q = (select(posts).where(_followed_roots(user_id, team_id, include_deleted))
         .order_by(posts.c.last_reply_at.desc(), posts.c.id.desc()).limit(MAX_THREADS))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_memberships(conn: AsyncConnection, user_id: str, post_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not post_ids:
        return {}
    q = select(tm).where(and_(tm.c.user_id == user_id, tm.c.post_id.in_(post_ids)))
    return {r["post_id"]: dict(r) for r in (await conn.execute(q)).mappings().all()}


async def select_my_last_replies(conn: AsyncConnection, user_id: str, root_ids: list[str]) -> dict[str, int]:
    if not root_ids:
        return {}
    q = (select(posts.c.root_id, func.max(posts.c.create_at))
         .where(and_(posts.c.user_id == user_id, posts.c.root_id.in_(root_ids))).group_by(posts.c.root_id))
    return {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}


async def select_replies_after(conn: AsyncConnection, root_ids: list[str], since: dict[str, int],
                               user_id: str) -> list[tuple[str, int, str]]:
    """(root_id, create_at, message) of others' live replies newer than the oldest ``since``; callers filter."""
    if not root_ids:
        return []
    floor = min(since.get(r, 0) for r in root_ids)
    q = (select(posts.c.root_id, posts.c.create_at, posts.c.message)
         .where(and_(posts.c.root_id.in_(root_ids), posts.c.create_at > floor, posts.c.delete_at == 0,
                     posts.c.user_id != user_id)))
    return [(r[0], int(r[1]), r[2]) for r in (await conn.execute(q)).all()]


async def upsert_membership(conn: AsyncConnection, row: dict[str, Any]) -> None:
    ins = pg_insert(tm) if conn.dialect.name == "postgresql" else sqlite_insert(tm)
    values = {k: v for k, v in row.items() if k not in ("post_id", "user_id")}
    await conn.execute(ins.values(**row).on_conflict_do_update(index_elements=[tm.c.post_id, tm.c.user_id],
                                                                set_=values))
