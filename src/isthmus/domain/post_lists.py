"""Reads that answer a PostList: channel timelines, threads, pinned posts, posts around the last unread.

A PostList's ``order`` holds the listed ids newest first; ``posts`` also carries the thread roots of
listed replies (so a client can render "commented on ...") without listing them in ``order``.
Cursors follow Mattermost's ``AddCursorIdsForPostList``: ``next_post_id`` / ``prev_post_id`` name the
first post beyond each end of the list ("" at the end of the channel), except that a ``before`` /
``after`` anchor is echoed back on page 0 and a short page means there is nothing further that way.
Reactions and files for every post of a list are loaded with one query each.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden, invalid_param
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel, channel_member_of
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, Post
from isthmus.domain.posts import attach_metadata, bad_post_id, post_not_found
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import posts as repo

MAX_IDS = 1000


@dataclass
class PostPage:
    order: list[str]
    posts: list[Post]  # listed posts plus extra thread roots
    next_post_id: str = ""
    prev_post_id: str = ""
    has_next: bool = False


async def _finish(conn: AsyncConnection, listed: list[Post], *, with_roots: bool = True) -> list[Post]:
    """Listed posts plus missing live thread roots, reactions and files attached."""
    have = {p.id for p in listed}
    missing = list(dict.fromkeys(p.root_id for p in listed if p.root_id and p.root_id not in have))
    roots = [Post(**r) for r in await repo.select_posts_by_ids(conn, missing)] if with_roots and missing else []
    everything = listed + roots
    await attach_metadata(conn, everything)
    return everything


async def _neighbour_ids(conn: AsyncConnection, channel_id: str, listed: list[Post],
                         roots_only: bool = False) -> tuple[str, str]:
    """(next, prev): the first live posts after the newest and before the oldest listed post."""
    if not listed:
        return "", ""
    newest, oldest = listed[0], listed[-1]
    return (await repo.select_id_after(conn, channel_id, newest.create_at, newest.id, roots_only),
            await repo.select_id_before(conn, channel_id, oldest.create_at, oldest.id, roots_only))


def _require_deleted_access(d: Domain, actor: Actor, include_deleted: bool) -> None:
    if include_deleted and not has_system_permission(d, actor, "manage_system"):
        raise forbidden("manage_system")


async def list_channel_posts(d: Domain, actor: Actor, channel_id: str, *, page: int, per_page: int,
                             since: int = 0, before: str = "", after: str = "",
                             include_deleted: bool = False, collapsed: bool = False) -> PostPage:
    """GET /channels/{id}/posts: ``since`` wins, then ``after``, then ``before``, else a plain page.
    ``collapsed`` (collapsed reply threads) lists root posts only."""
    for name, value in (("before", before), ("after", after)):
        if value and not is_valid_id(value):
            raise invalid_param(name)
    _require_deleted_access(d, actor, include_deleted)
    offset = page * per_page
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
        if since > 0:
            rows = await repo.select_channel_since(conn, channel_id, since, collapsed)
            if not has_system_permission(d, actor, "read_deleted_posts"):
                # A deleted post is listed so clients can remove it, but its content stays deleted.
                rows = [{**r, "message": "", "props": {}, "file_ids": [], "hashtags": "", "has_reactions": False}
                        if r["delete_at"] else r for r in rows]
            listed = [Post(**r) for r in rows]
            return PostPage([p.id for p in listed], await _finish(conn, listed))
        anchor_id = after or before
        if anchor_id:
            anchor = await repo.select_post(conn, anchor_id)
            if anchor is None or anchor["channel_id"] != channel_id:
                return PostPage([], [])  # as Mattermost: an unknown anchor selects nothing
            if after:
                rows = await repo.select_channel_after(conn, channel_id, anchor["create_at"], anchor_id,
                                                       offset=offset, limit=per_page,
                                                       include_deleted=include_deleted, roots_only=collapsed)
                rows.reverse()
            else:
                rows = await repo.select_channel_before(conn, channel_id, anchor["create_at"], anchor_id,
                                                        offset=offset, limit=per_page,
                                                        include_deleted=include_deleted, roots_only=collapsed)
        else:
            rows = await repo.select_channel_page(conn, channel_id, offset=offset, limit=per_page,
                                                  include_deleted=include_deleted, roots_only=collapsed)
        listed = [Post(**r) for r in rows]
        next_id, prev_id = await _neighbour_ids(conn, channel_id, listed, collapsed)
        short = len(listed) < per_page
        if after:
            prev_id = after if page == 0 else prev_id
            next_id = "" if short else next_id
        elif before:
            next_id = before if page == 0 else next_id
            prev_id = "" if short else prev_id
        return PostPage([p.id for p in listed], await _finish(conn, listed), next_id, prev_id)


async def get_thread(d: Domain, actor: Actor, post_id: str, *, per_page: int = 0, from_post: str = "",
                     from_create_at: int = 0, direction: str = "") -> PostPage:
    """Root plus live replies. ``direction`` "down" pages oldest→newest, anything else newest→oldest;
    ``fromPost`` (optionally with ``fromCreateAt``) is the exclusive cursor; ``perPage`` 0 means all."""
    if not is_valid_id(post_id):
        raise bad_post_id()
    if from_post and not is_valid_id(from_post):
        raise invalid_param("fromPost")
    if direction not in ("", "up", "down"):
        raise invalid_param("direction")
    async with d.db.read() as conn:
        row = await repo.select_post(conn, post_id)
        if row is None or row["delete_at"]:
            raise post_not_found(post_id)
        await access_channel(d, conn, actor, row["channel_id"])
        root_row = row if not row["root_id"] else await repo.select_post(conn, row["root_id"])
        if root_row is None or root_row["delete_at"]:
            raise post_not_found(post_id)
        root = Post(**root_row)
        if from_post and not from_create_at:
            cursor = await repo.select_post(conn, from_post)
            if cursor is None or cursor["root_id"] != root.id:
                raise invalid_param("fromPost")
            from_create_at = cursor["create_at"]
        ascending = direction == "down"
        rows = await repo.select_thread_replies(conn, root.id, ascending=ascending,
                                                limit=per_page + 1 if per_page else None,
                                                from_create_at=from_create_at, from_id=from_post)
        has_next = bool(per_page) and len(rows) > per_page
        replies = [Post(**r) for r in (rows[:per_page] if per_page else rows)]
        order = [root.id] + [p.id for p in replies] if ascending else [p.id for p in replies] + [root.id]
        everything = [root, *replies]
        await attach_metadata(conn, everything)
    return PostPage(order, everything, has_next=has_next)


async def list_posts_by_ids(d: Domain, actor: Actor, ids: list[str]) -> list[Post]:
    """Live posts among ``ids`` that the caller may read; the others are silently left out."""
    if not ids:
        raise invalid_param("post_ids")
    if len(ids) > MAX_IDS or not all(is_valid_id(i) for i in ids):
        raise invalid_param("post_ids")
    async with d.db.read() as conn:
        rows = await repo.select_posts_by_ids(conn, list(dict.fromkeys(ids)))
        readable = await readable_channels(d, conn, actor, {r["channel_id"] for r in rows})
        posts = [Post(**r) for r in rows if r["channel_id"] in readable]
        await attach_metadata(conn, posts)
    return posts


async def readable_channels(d: Domain, conn: AsyncConnection, actor: Actor, channel_ids: set[str]) -> set[str]:
    out: set[str] = set()
    for channel_id in channel_ids:
        try:
            await access_channel(d, conn, actor, channel_id)
        except AppError:
            continue
        out.add(channel_id)
    return out


async def list_pinned_posts(d: Domain, actor: Actor, channel_id: str) -> PostPage:
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
        listed = [Post(**r) for r in await repo.select_pinned(conn, channel_id)]
        return PostPage([p.id for p in listed], await _finish(conn, listed, with_roots=False))


async def posts_around_last_unread(d: Domain, actor: Actor, user_id: str, channel_id: str, *,
                                   limit_before: int, limit_after: int) -> PostPage:
    """The oldest post ``user_id`` has not seen, ``limit_before`` posts older than it and
    ``limit_after - 1`` newer ones; the latest ``limit_before`` posts when nothing is unread."""
    if user_id != actor.user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if limit_after < 1:
        raise invalid_param("limit_after")
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
        member = await channel_member_of(conn, channel_id, user_id)
        first = None
        if member is not None and member.last_viewed_at:
            first = await repo.select_first_after_time(conn, channel_id, member.last_viewed_at)
        if first is None:
            rows = await repo.select_channel_page(conn, channel_id, offset=0, limit=limit_before)
        else:
            older = await repo.select_channel_before(conn, channel_id, first["create_at"], first["id"], offset=0,
                                                     limit=limit_before)
            newer = await repo.select_channel_after(conn, channel_id, first["create_at"], first["id"], offset=0,
                                                    limit=limit_after - 1)
            rows = [*reversed(newer), first, *older]
        listed = [Post(**r) for r in rows]
        next_id, prev_id = await _neighbour_ids(conn, channel_id, listed)
        return PostPage([p.id for p in listed], await _finish(conn, listed), next_id, prev_id)
