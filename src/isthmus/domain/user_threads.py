"""Collapsed reply threads (Mattermost's ``ThreadMembership`` / ``ThreadResponse``): which threads a user
follows, what they have read, and how many replies and mentions wait for them.

Until a user acts on a thread (follow, unfollow, read, mark unread) their state follows from the posts, as
Mattermost's auto-follow does: the root's author and everyone who replied follow it and have seen it up
to their own last post. So the post paths, local and synced alike, write nothing for threads, and a reply
from a connected workspace counts as unread like a local one. Follow and read state stay on this server:
a remote user's state lives on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Post, User
from isthmus.domain.posts import attach_metadata
from isthmus.domain.shapes import post_json, user_json
from isthmus.domain.sidebar import check_user_team
from isthmus.store.repo import posts as posts_repo
from isthmus.store.repo import user_threads as repo
from isthmus.store.repo import users as users_repo

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 200


@dataclass
class ThreadState:
    root: Post
    following: bool
    last_viewed: int
    unread_replies: int = 0
    unread_mentions: int = 0


def _not_found() -> AppError:
    return AppError("app.post.get.app_error", "Unable to find the thread.", 404)


async def _states(conn: AsyncConnection, me: User, roots: list[Post]) -> list[ThreadState]:
    ids = [r.id for r in roots]
    explicit = await repo.select_memberships(conn, me.id, ids)
    my_last = await repo.select_my_last_replies(conn, me.id, ids)
    states: list[ThreadState] = []
    for root in roots:
        row = explicit.get(root.id)
        took_part = root.user_id == me.id or root.id in my_last
        seen = max(my_last.get(root.id, 0), root.create_at if root.user_id == me.id else 0)
        states.append(ThreadState(root, bool(row["following"]) if row else took_part,
                                  int(row["last_viewed"]) if row else seen))
    viewed = {s.root.id: s.last_viewed for s in states}
    by_id = {s.root.id: s for s in states}
    mention = re.compile(rf"(?<![\w.-])@{re.escape(me.username)}(?![\w-])", re.IGNORECASE)
    for root_id, create_at, message in await repo.select_replies_after(conn, ids, viewed, me.id):
        state = by_id[root_id]
        if create_at > state.last_viewed:
            state.unread_replies += 1
            state.unread_mentions += 1 if mention.search(message) else 0
    return states


async def _me(conn: AsyncConnection, user_id: str) -> User:
    rows = await users_repo.select_users_by_ids(conn, [user_id])
    if not rows:
        raise AppError("app.user.missing_account.const", "Unable to find the user.", 404)
    return User(**rows[0])


async def _thread_json(conn: AsyncConnection, state: ThreadState, extended: bool, viewer: Actor) -> dict[str, Any]:
    ids = list(state.root.participants or [])
    if extended and ids:
        users = {r["id"]: User(**r) for r in await users_repo.select_users_by_ids(conn, ids)}
        participants = [user_json(users[i], viewer) for i in ids if i in users]
    else:
        participants = [{"id": i} for i in ids]
    return {"id": state.root.id, "reply_count": state.root.reply_count, "last_reply_at": state.root.last_reply_at,
            "last_viewed_at": state.last_viewed, "participants": participants, "post": post_json(state.root),
            "unread_replies": state.unread_replies, "unread_mentions": state.unread_mentions,
            "is_following": state.following, "is_urgent": False}


async def list_threads(d: Domain, actor: Actor, user_id: str, team_id: str, *, since: int = 0, before: str = "",
                       after: str = "", per_page: int = DEFAULT_PER_PAGE, extended: bool = False,
                       deleted: bool = False, unread: bool = False, totals_only: bool = False,
                       threads_only: bool = False) -> dict[str, Any]:
    for name, value in (("before", before), ("after", after)):
        if value and not is_valid_id(value):
            raise AppError("api.context.invalid_url_param.app_error", f"Invalid {name} parameter.", 400)
    async with d.db.read() as conn:
        await check_user_team(d, conn, actor, user_id, team_id)
        me = await _me(conn, user_id)
        roots = [Post(**r) for r in await repo.select_followed_roots(conn, user_id, team_id, include_deleted=deleted)]
        states = await _states(conn, me, roots)
        out: dict[str, Any] = {"total": 0, "total_unread_threads": 0, "total_unread_mentions": 0,
                               "total_unread_urgent_mentions": 0, "threads": []}
        if not threads_only:
            out.update(total=len(states), total_unread_threads=sum(1 for s in states if s.unread_replies),
                       total_unread_mentions=sum(s.unread_mentions for s in states))
        if totals_only:
            return out
        listed = [s for s in states if s.root.last_reply_at > since and (s.unread_replies or not unread)]
        ids = [s.root.id for s in listed]
        if before in ids:
            listed = listed[ids.index(before) + 1:]
        elif after in ids:
            listed = listed[:ids.index(after)][-per_page:]
        listed = listed[:per_page]
        await attach_metadata(conn, [s.root for s in listed])
        out["threads"] = [await _thread_json(conn, s, extended, actor) for s in listed]
    return out


async def _state_of(d: Domain, conn: AsyncConnection, actor: Actor, user_id: str, team_id: str,
                    thread_id: str) -> ThreadState:
    await check_user_team(d, conn, actor, user_id, team_id)
    if not is_valid_id(thread_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid thread_id parameter.", 400)
    row = await posts_repo.select_post(conn, thread_id)
    if row is None or row["root_id"]:
        raise _not_found()
    root = Post(**row)
    await access_channel(d, conn, actor, root.channel_id)
    return (await _states(conn, await _me(conn, user_id), [root]))[0]


async def get_thread(d: Domain, actor: Actor, user_id: str, team_id: str, thread_id: str,
                     extended: bool = False) -> dict[str, Any]:
    async with d.db.read() as conn:
        state = await _state_of(d, conn, actor, user_id, team_id, thread_id)
        await attach_metadata(conn, [state.root])
        return await _thread_json(conn, state, extended, actor)


async def do_follow(d: Domain, actor: Actor, user_id: str, team_id: str, thread_id: str, follow: bool) -> None:
    async with transaction(d) as tx:
        state = await _state_of(d, tx.conn, actor, user_id, team_id, thread_id)
        await repo.upsert_membership(tx.conn, {"post_id": thread_id, "user_id": user_id, "following": follow,
                                               "last_viewed": state.last_viewed, "last_updated": d.now()})
        tx.emit(Event("thread_follow_changed", {"thread_id": thread_id, "state": follow,
                                                "reply_count": state.root.reply_count}, user_id=user_id))


async def do_read(d: Domain, actor: Actor, user_id: str, team_id: str, thread_id: str, timestamp: int | None = None,
                  unread_from: str = "") -> dict[str, Any]:
    """Mark read up to ``timestamp``, or unread from the post ``unread_from`` on."""
    async with transaction(d) as tx:
        state = await _state_of(d, tx.conn, actor, user_id, team_id, thread_id)
        if unread_from:
            row = await posts_repo.select_post(tx.conn, unread_from) if is_valid_id(unread_from) else None
            if row is None or thread_id not in (row["id"], row["root_id"]):
                raise AppError("api.context.invalid_url_param.app_error", "Invalid post_id parameter.", 400)
            timestamp = int(row["create_at"]) - 1
        assert timestamp is not None
        await repo.upsert_membership(tx.conn, {"post_id": thread_id, "user_id": user_id,
                                               "following": state.following, "last_viewed": timestamp,
                                               "last_updated": d.now()})
        fresh = (await _states(tx.conn, await _me(tx.conn, user_id), [state.root]))[0]
        tx.emit(Event("thread_read_changed", {
            "thread_id": thread_id, "timestamp": timestamp, "unread_mentions": fresh.unread_mentions,
            "unread_replies": fresh.unread_replies, "channel_id": state.root.channel_id}, user_id=user_id))
        await attach_metadata(tx.conn, [fresh.root])
        return await _thread_json(tx.conn, fresh, False, actor)


async def do_read_all(d: Domain, actor: Actor, user_id: str, team_id: str) -> None:
    now = d.now()
    async with transaction(d) as tx:
        await check_user_team(d, tx.conn, actor, user_id, team_id)
        roots = [Post(**r) for r in await repo.select_followed_roots(tx.conn, user_id, team_id,
                                                                       include_deleted=False)]
        for state in await _states(tx.conn, await _me(tx.conn, user_id), roots):
            if not state.unread_replies:
                continue
            await repo.upsert_membership(tx.conn, {"post_id": state.root.id, "user_id": user_id,
                                                   "following": state.following, "last_viewed": now,
                                                   "last_updated": now})
            tx.emit(Event("thread_read_changed", {
                "thread_id": state.root.id, "timestamp": now, "unread_mentions": 0, "unread_replies": 0,
                "channel_id": state.root.channel_id}, user_id=user_id))


async def followed_thread(d: Domain, user_id: str, root_id: str) -> dict[str, Any] | None:
    """The thread as ``user_id`` sees it, if they follow it (for ``thread_updated`` after a new reply)."""
    async with d.db.read() as conn:
        row = await posts_repo.select_post(conn, root_id)
        if row is None or row["delete_at"] or row["root_id"]:
            return None
        me = await _me(conn, user_id)
        state = (await _states(conn, me, [Post(**row)]))[0]
        if not state.following:
            return None
        await attach_metadata(conn, [state.root])
        return await _thread_json(conn, state, False, Actor(me.id, me.roles))
