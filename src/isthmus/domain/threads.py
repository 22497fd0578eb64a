"""The thread summary kept on a root post: ``reply_count``, ``last_reply_at`` and ``participants``.

Invariant: the summary equals what the root's live replies say (count of replies, newest reply
time, unique authors in order of their first reply). A new reply updates it incrementally; a
deleted reply recomputes it from the remaining replies, which also repairs any earlier drift.
Both run inside the write transaction that creates or deletes the reply, with the root row locked
(``FOR UPDATE`` on PostgreSQL; SQLite has a single writer), so concurrent replies cannot lose a
participant. The root's ``update_at`` moves too, so "posts since" clients see the new counts.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.domain.models import Post
from isthmus.store.repo import posts as repo


async def add_reply_to_summary(conn: AsyncConnection, root: Post, user_id: str, create_at: int) -> None:
    participants = list(root.participants or [])
    if user_id not in participants:
        participants.append(user_id)
    await repo.update_post(conn, root.id, {
        "reply_count": root.reply_count + 1, "last_reply_at": max(root.last_reply_at, create_at),
        "participants": participants, "update_at": max(root.update_at + 1, create_at),
    })


async def recompute_summary(conn: AsyncConnection, root_id: str, now: int) -> None:
    replies = await repo.select_live_replies(conn, root_id)
    participants = list(dict.fromkeys(user_id for user_id, _ in replies))
    await repo.update_post(conn, root_id, {
        "reply_count": len(replies), "last_reply_at": max((at for _, at in replies), default=0),
        "participants": participants, "update_at": now,
    })
