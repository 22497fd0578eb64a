"""``isthmus verify --repair``: re-send the items a peer's copy of a shared channel got wrong.

``verify`` compares normalized snapshots; where they differ, each side re-sends what it owns: it records
``post`` (and ``reaction``) outbox rows for the differing posts, in one transaction, and its sender delivers
them like any change. Receivers upsert by global id, so a post the peer already has right is a no-op there.
A side owns a post it may send to the peer: anything the peer did not write itself (a remote only ever
sends to the home, which relays; the home sends everything except the peer's own posts back to it).
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from isthmus.domain.changes import record_change
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Channel
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import posts as posts_repo
from isthmus.store.schema.posts import reactions


async def do_resend_posts(d: Domain, channel_id: str, post_ids: list[str], target_remote_id: str) -> list[str]:
    """Queue the current state of ``post_ids`` (those of this channel that ``target_remote_id`` does not own)
    and of their reactions; returns the ids of the posts queued (content or reactions). Nothing is written when
    the channel is not shared."""
    queued: list[str] = []
    async with transaction(d) as tx:
        row = await access_repo.select_channel(tx.conn, channel_id)
        if row is None or not row["shared"]:
            return []
        channel = Channel(**row)
        found = await posts_repo.select_posts_by_ids(tx.conn, sorted(set(post_ids)), include_deleted=True)
        ours = [p for p in found if p["channel_id"] == channel_id and not str(p["type"]).startswith("system_")]
        # Oldest first: a thread root is queued before its replies, as the sender would have sent them.
        for p in sorted(ours, key=lambda p: (p["create_at"], p["id"])):
            if p["remote_id"] == target_remote_id:
                continue
            # Origin = the server the post came from, so the re-send never goes back to its own author.
            if await record_change(tx, channel, "post", p["id"], p["remote_id"] or None, now=d.now(),
                                   target=target_remote_id):
                queued.append(p["id"])
        # Reactions are owned by their reactor, not by the post's author: the reaction state of every differing
        # post goes (the sender leaves out the reactions the target owns).
        ids = [p["id"] for p in ours]
        mine = select(reactions.c.post_id).where(and_(
            reactions.c.post_id.in_(ids), or_(reactions.c.remote_id.is_(None),
                                             reactions.c.remote_id != target_remote_id))).distinct()
        for post_id in sorted((await tx.conn.execute(mine)).scalars().all()) if ids else []:
            if await record_change(tx, channel, "reaction", post_id, None, now=d.now(),
                                   target=target_remote_id) and post_id not in queued:
                queued.append(post_id)
    return queued
