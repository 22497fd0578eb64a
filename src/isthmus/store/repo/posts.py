"""Posts and the channel/member counters a post moves. SQL only: no permissions, no events.

Lists order by ``(create_at, id)`` everywhere so cursors (before/after, next/prev ids) are exact
even when two posts share a millisecond.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, case, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.posts import posts
from isthmus.store.schema.teams import team_members
from isthmus.store.schema.users import users

SINCE_LIMIT = 1000  # Mattermost caps "posts changed since" at 1000 rows too


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in result.mappings().all()]


# The four statements of POST /posts are built once: SQLAlchemy then only binds values, instead
# of constructing and cache-keying a new statement on every call (measurably cheaper per post).
_cm, _tm = channel_members, team_members
_CONTEXT = (select(channels, _cm.c.roles.label("ctx_member_roles"), _cm.c.user_id.label("ctx_member_id"),
                   _tm.c.roles.label("ctx_team_roles"), _tm.c.delete_at.label("ctx_team_delete_at"),
                   users.c.username.label("ctx_username"), users.c.is_bot.label("ctx_is_bot"))
            .select_from(channels
                         .outerjoin(_cm, and_(_cm.c.channel_id == channels.c.id, _cm.c.user_id == bindparam("b_uid")))
                         .outerjoin(_tm, and_(_tm.c.team_id == channels.c.team_id, _tm.c.user_id == bindparam("b_uid")))
                         .outerjoin(users, users.c.id == bindparam("b_uid")))
            .where(channels.c.id == bindparam("b_cid")))
_INSERT_POST = insert(posts)


def _greatest(col: Any) -> Any:
    # CASE instead of GREATEST/MAX so one statement works on SQLite and PostgreSQL alike.
    return case((col < bindparam("b_at"), bindparam("b_at")), else_=col)


_BUMP = {"last_post_at": _greatest(channels.c.last_post_at), "total_msg_count": channels.c.total_msg_count + 1}
_BUMP_REPLY = update(channels).where(channels.c.id == bindparam("b_cid")).values(**_BUMP)
_BUMP_ROOT = update(channels).where(channels.c.id == bindparam("b_cid")).values(
    **_BUMP, last_root_post_at=_greatest(channels.c.last_root_post_at),
    total_msg_count_root=channels.c.total_msg_count_root + 1)


def _total(col: Any) -> Any:
    return select(col).where(channels.c.id == bindparam("b_cid")).scalar_subquery()


_VIEWED = (update(channel_members)
           .where(and_(_cm.c.channel_id == bindparam("b_cid"), _cm.c.user_id == bindparam("b_uid")))
           .values(last_viewed_at=bindparam("b_at"), last_update_at=bindparam("b_at"), mention_count=0,
                   mention_count_root=0, urgent_mention_count=0, msg_count=_total(channels.c.total_msg_count),
                   msg_count_root=_total(channels.c.total_msg_count_root)))


# A synced message's new posts are applied in bulk (domain.synced_bulk): its statements are prebuilt too.
_POSTS_LOCKED = (select(posts).where(posts.c.id.in_(bindparam("b_ids", expanding=True)))
                 .order_by(posts.c.id).with_for_update())  # one lock order for every receiver: no deadlock
_BUMP_MANY = update(channels).where(channels.c.id == bindparam("b_cid")).values(
    last_post_at=_greatest(channels.c.last_post_at), total_msg_count=channels.c.total_msg_count + bindparam("b_n"),
    last_root_post_at=case((channels.c.last_root_post_at < bindparam("b_root_at"), bindparam("b_root_at")),
                           else_=channels.c.last_root_post_at),
    total_msg_count_root=channels.c.total_msg_count_root + bindparam("b_n_root"))
_SUMMARY = update(posts).where(posts.c.id == bindparam("b_id")).values(
    reply_count=bindparam("b_reply_count"), last_reply_at=bindparam("b_last_reply_at"),
    participants=bindparam("b_participants", type_=posts.c.participants.type), update_at=bindparam("b_update_at"))
_MENTIONS = (update(channel_members)
             .where(and_(_cm.c.channel_id == bindparam("b_cid"), _cm.c.user_id == bindparam("b_uid")))
             .values(mention_count=_cm.c.mention_count + bindparam("b_n"),
                     mention_count_root=_cm.c.mention_count_root + bindparam("b_n_root"),
                     last_update_at=bindparam("b_at")))


async def select_post_context(conn: AsyncConnection, channel_id: str, user_id: str) -> dict[str, Any] | None:
    """Channel row plus the caller's channel roles, team membership and username in ONE query.

    This is the hot path of ``POST /posts``: everything the permission check and the ``posted``
    event need, without the six point lookups of ``access_channel``.
    """
    row = (await conn.execute(_CONTEXT, {"b_cid": channel_id, "b_uid": user_id})).mappings().first()
    return dict(row) if row else None


async def insert_post(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(_INSERT_POST, row)


async def update_channel_for_post(conn: AsyncConnection, channel_id: str, create_at: int, is_root: bool) -> None:
    await conn.execute(_BUMP_ROOT if is_root else _BUMP_REPLY, {"b_cid": channel_id, "b_at": create_at})


async def update_member_viewed(conn: AsyncConnection, channel_id: str, user_id: str, now: int) -> int:
    """The poster has read everything up to their own post (Mattermost's MarkChannelsAsViewed)."""
    return (await conn.execute(_VIEWED, {"b_cid": channel_id, "b_uid": user_id, "b_at": now})).rowcount


async def insert_posts(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Many posts with one executemany (every row has every column)."""
    if rows:
        await conn.execute(_INSERT_POST, rows)


async def update_channel_for_posts(conn: AsyncConnection, channel_id: str, *, count: int, last_at: int,
                                   roots: int, last_root_at: int) -> None:
    """``update_channel_for_post`` for ``count`` posts at once, ``roots`` of them thread roots."""
    await conn.execute(_BUMP_MANY, {"b_cid": channel_id, "b_n": count, "b_at": last_at, "b_n_root": roots,
                                    "b_root_at": last_root_at})


async def select_posts_locked(conn: AsyncConnection, ids: list[str]) -> list[dict[str, Any]]:
    """The stored ones of ``ids``, deleted too, row-locked (PostgreSQL) in id order."""
    return _rows(await conn.execute(_POSTS_LOCKED, {"b_ids": ids})) if ids else []


async def update_thread_summaries(conn: AsyncConnection, roots: list[dict[str, Any]]) -> None:
    """Write ``reply_count``, ``last_reply_at``, ``participants`` and ``update_at`` of many post rows."""
    if roots:
        await conn.execute(_SUMMARY, [{"b_id": r["id"], "b_reply_count": r["reply_count"],
                                       "b_last_reply_at": r["last_reply_at"], "b_participants": r["participants"],
                                       "b_update_at": r["update_at"]} for r in roots])


async def add_mentions(conn: AsyncConnection, channel_id: str, counts: list[tuple[str, int, int, int]]) -> None:
    """Per (user_id, mentions, root mentions, last_update_at): ``increment_mentions`` for many posts at once."""
    if counts:
        await conn.execute(_MENTIONS, [{"b_cid": channel_id, "b_uid": uid, "b_n": n, "b_n_root": n_root, "b_at": at}
                                       for uid, n, n_root, at in counts])


async def select_post(conn: AsyncConnection, post_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    q = select(posts).where(posts.c.id == post_id)
    if for_update:
        q = q.with_for_update()  # Postgres row lock; SQLite's single writer already serialises
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_posts_by_ids(conn: AsyncConnection, ids: list[str], *, include_deleted: bool = False
                              ) -> list[dict[str, Any]]:
    if not ids:
        return []
    q = select(posts).where(posts.c.id.in_(ids))
    if not include_deleted:
        q = q.where(posts.c.delete_at == 0)
    return _rows(await conn.execute(q.order_by(posts.c.create_at.desc(), posts.c.id.desc())))


async def update_post(conn: AsyncConnection, post_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(posts).where(posts.c.id == post_id).values(**values))).rowcount


async def select_member_ids_by_usernames(conn: AsyncConnection, channel_id: str, usernames: list[str]
                                         ) -> list[tuple[str, str]]:
    """(user_id, username) of channel members whose username is in ``usernames``."""
    if not usernames:
        return []
    q = (select(users.c.id, users.c.username)
         .select_from(users.join(channel_members, and_(channel_members.c.user_id == users.c.id,
                                                       channel_members.c.channel_id == channel_id)))
         .where(users.c.username.in_(usernames)))
    return [(r[0], r[1]) for r in (await conn.execute(q)).all()]


async def increment_mentions(conn: AsyncConnection, channel_id: str, user_ids: list[str], is_root: bool,
                             now: int) -> None:
    if not user_ids:
        return
    m = channel_members.c
    values: dict[str, Any] = {"mention_count": m.mention_count + 1, "last_update_at": now}
    if is_root:
        values["mention_count_root"] = m.mention_count_root + 1
    await conn.execute(update(channel_members)
                       .where(and_(m.channel_id == channel_id, m.user_id.in_(user_ids))).values(**values))


async def select_live_replies(conn: AsyncConnection, root_id: str) -> list[tuple[str, int]]:
    """(user_id, create_at) of every live reply, oldest first: the input of a thread summary."""
    q = (select(posts.c.user_id, posts.c.create_at)
         .where(and_(posts.c.root_id == root_id, posts.c.delete_at == 0))
         .order_by(posts.c.create_at, posts.c.id))
    return [(r[0], int(r[1])) for r in (await conn.execute(q)).all()]


async def soft_delete_replies(conn: AsyncConnection, root_id: str, now: int) -> list[str]:
    q = select(posts.c.id).where(and_(posts.c.root_id == root_id, posts.c.delete_at == 0))
    ids = [r[0] for r in (await conn.execute(q)).all()]
    if ids:
        await conn.execute(update(posts).where(posts.c.id.in_(ids)).values(delete_at=now, update_at=now))
    return ids


def _live_in_channel(channel_id: str, include_deleted: bool, roots_only: bool = False) -> Any:
    cond = posts.c.channel_id == channel_id
    if roots_only:  # collapsed reply threads: replies live in their thread, not in the channel
        cond = and_(cond, posts.c.root_id == "")
    return cond if include_deleted else and_(cond, posts.c.delete_at == 0)


async def select_channel_page(conn: AsyncConnection, channel_id: str, *, offset: int, limit: int,
                              include_deleted: bool = False, roots_only: bool = False) -> list[dict[str, Any]]:
    """Newest first."""
    q = (select(posts).where(_live_in_channel(channel_id, include_deleted, roots_only))
         .order_by(posts.c.create_at.desc(), posts.c.id.desc()).offset(offset).limit(limit))
    return _rows(await conn.execute(q))


async def select_channel_since(conn: AsyncConnection, channel_id: str, since: int,
                               roots_only: bool = False) -> list[dict[str, Any]]:
    """Every post created, edited or deleted after ``since`` (ms), newest first."""
    cond = and_(posts.c.channel_id == channel_id, posts.c.update_at > since)
    q = (select(posts).where(and_(cond, posts.c.root_id == "") if roots_only else cond)
         .order_by(posts.c.create_at.desc(), posts.c.id.desc()).limit(SINCE_LIMIT))
    return _rows(await conn.execute(q))


def _before(create_at: int, post_id: str) -> Any:
    return or_(posts.c.create_at < create_at, and_(posts.c.create_at == create_at, posts.c.id < post_id))


def _after(create_at: int, post_id: str) -> Any:
    return or_(posts.c.create_at > create_at, and_(posts.c.create_at == create_at, posts.c.id > post_id))


async def select_channel_before(conn: AsyncConnection, channel_id: str, create_at: int, post_id: str, *,
                                offset: int, limit: int, include_deleted: bool = False,
                                roots_only: bool = False) -> list[dict[str, Any]]:
    """Posts older than the anchor, newest first."""
    live = _live_in_channel(channel_id, include_deleted, roots_only)
    q = (select(posts).where(and_(live, _before(create_at, post_id)))
         .order_by(posts.c.create_at.desc(), posts.c.id.desc()).offset(offset).limit(limit))
    return _rows(await conn.execute(q))


async def select_channel_after(conn: AsyncConnection, channel_id: str, create_at: int, post_id: str, *,
                               offset: int, limit: int, include_deleted: bool = False,
                               roots_only: bool = False) -> list[dict[str, Any]]:
    """Posts newer than the anchor, OLDEST first (the caller reverses them)."""
    live = _live_in_channel(channel_id, include_deleted, roots_only)
    q = (select(posts).where(and_(live, _after(create_at, post_id)))
         .order_by(posts.c.create_at, posts.c.id).offset(offset).limit(limit))
    return _rows(await conn.execute(q))


async def select_id_after(conn: AsyncConnection, channel_id: str, create_at: int, post_id: str,
                          roots_only: bool = False) -> str:
    """The first live post after the given one ("" at the end of the channel)."""
    q = (select(posts.c.id).where(and_(_live_in_channel(channel_id, False, roots_only), _after(create_at, post_id)))
         .order_by(posts.c.create_at, posts.c.id).limit(1))
    return str((await conn.execute(q)).scalar() or "")


async def select_id_before(conn: AsyncConnection, channel_id: str, create_at: int, post_id: str,
                           roots_only: bool = False) -> str:
    q = (select(posts.c.id).where(and_(_live_in_channel(channel_id, False, roots_only), _before(create_at, post_id)))
         .order_by(posts.c.create_at.desc(), posts.c.id.desc()).limit(1))
    return str((await conn.execute(q)).scalar() or "")


async def select_first_after_time(conn: AsyncConnection, channel_id: str, time_ms: int) -> dict[str, Any] | None:
    q = (select(posts).where(and_(_live_in_channel(channel_id, False), posts.c.create_at > time_ms))
         .order_by(posts.c.create_at, posts.c.id).limit(1))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_thread_replies(conn: AsyncConnection, root_id: str, *, ascending: bool, limit: int | None,
                                from_create_at: int = 0, from_id: str = "") -> list[dict[str, Any]]:
    """Live replies of ``root_id`` in the given direction, optionally after a (create_at, id) cursor."""
    q = select(posts).where(and_(posts.c.root_id == root_id, posts.c.delete_at == 0))
    if from_create_at:
        if ascending:
            q = q.where(_after(from_create_at, from_id) if from_id else posts.c.create_at > from_create_at)
        else:
            q = q.where(_before(from_create_at, from_id) if from_id else posts.c.create_at < from_create_at)
    if ascending:
        q = q.order_by(posts.c.create_at, posts.c.id)
    else:
        q = q.order_by(posts.c.create_at.desc(), posts.c.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return _rows(await conn.execute(q))


async def select_pinned(conn: AsyncConnection, channel_id: str) -> list[dict[str, Any]]:
    q = (select(posts).where(and_(_live_in_channel(channel_id, False), posts.c.is_pinned.is_(True)))
         .order_by(posts.c.create_at.desc(), posts.c.id.desc()))
    return _rows(await conn.execute(q))


async def has_post_relayed_by(conn: AsyncConnection, channel_id: str, user_id: str, remote_id: str) -> bool:
    """``remote_id`` has sent us a post of ``user_id`` in this channel before (a rare ownership check: it walks
    the channel's posts, there is no index on the author)."""
    q = (select(posts.c.id).where(posts.c.channel_id == channel_id, posts.c.user_id == user_id,
                                  posts.c.remote_id == remote_id).limit(1))
    return (await conn.execute(q)).first() is not None
