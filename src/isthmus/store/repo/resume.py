"""What a re-invite's replay reads (``domain.sharing.resume``): posts and reactions changed while a remote did not
receive a channel. SQL only."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.repo.shared import entity_post_id
from isthmus.store.schema.posts import post_acknowledgements as acks
from isthmus.store.schema.posts import posts, reactions
from isthmus.store.schema.shared import sync_outbox as out


async def select_posts_changed_since(conn: AsyncConnection, channel_id: str, since: int, after_seq: int, *,
                                     after: tuple[int, str] | None = None, limit: int = 0, until: int = 0
                                     ) -> list[tuple[str, int]]:
    """Posts of the channel (deleted ones too, local system messages not) changed at or after ``since``, or
    named by an outbox row past ``after_seq`` still kept; oldest first, as (id, create_at), past the
    (create_at, id) position ``after`` and at most ``limit`` of them (0: all). A reaction change bumps its
    post's ``update_at``, so these cover reactions too. ``until`` (ms, 0: none): posts created up to then only
    (a post written after the re-invite travels in its own outbox row). Not "changed up to then": a post changed
    in the gap and again after the re-invite, before the replay was expanded (a reaction; or any change while
    the remote was still unreachable), would fall out of the replay, and the remote would never get it."""
    queued_cond = and_(out.c.channel_id == channel_id, out.c.seq > after_seq,
                       out.c.kind.in_(("post", "pin", "reaction", "ack")))
    changed = posts.c.update_at >= since
    if until:
        queued_cond = and_(queued_cond, out.c.create_at <= until)
        changed = and_(changed, posts.c.create_at <= until)
    queued = select(entity_post_id()).where(queued_cond)
    cond = and_(posts.c.channel_id == channel_id, changed | posts.c.id.in_(queued),
                posts.c.type.not_like("system\\_%", escape="\\"))
    if after is not None:
        cond = and_(cond, (posts.c.create_at > after[0]) | and_(posts.c.create_at == after[0], posts.c.id > after[1]))
    q = select(posts.c.id, posts.c.create_at).where(cond).order_by(posts.c.create_at, posts.c.id)
    return [(r[0], int(r[1])) for r in (await conn.execute(q.limit(limit) if limit else q)).all()]


async def select_reactions_changed_since(conn: AsyncConnection, post_ids: list[str], since: int,
                                        not_from: str | None = None) -> list[tuple[str, str, str]]:
    """(post, user, emoji) of the reactions of ``post_ids`` changed at or after ``since`` (removed ones too),
    but none that came from the connection ``not_from``."""
    out: list[tuple[str, str, str]] = []
    for i in range(0, len(post_ids), 500):
        cond = and_(reactions.c.post_id.in_(post_ids[i:i + 500]), reactions.c.update_at >= since)
        if not_from:
            cond = and_(cond, or_(reactions.c.remote_id.is_(None), reactions.c.remote_id != not_from))
        q = (select(reactions.c.post_id, reactions.c.user_id, reactions.c.emoji_name).where(cond)
             .order_by(reactions.c.update_at, reactions.c.user_id, reactions.c.emoji_name))
        out.extend((r[0], r[1], r[2]) for r in (await conn.execute(q)).all())
    return out


async def select_reactions_queued(conn: AsyncConnection, channel_id: str, after_seq: int, until: int,
                                  post_ids: list[str], not_from: str | None = None) -> list[tuple[str, str, str]]:
    """(post, user, emoji) of the reactions of ``post_ids`` that outbox rows past ``after_seq`` (up to ``until``,
    0: no bound) still name, but none recorded as coming from ``not_from``. A relayed reaction keeps its
    origin's ``update_at``, which can be older than the time the remote stopped receiving although it reached
    us later: :func:`select_reactions_changed_since` misses it, the outbox row does not. A bare post id (older
    rows) names every reaction of the post."""
    wanted = set(post_ids)
    cond = and_(out.c.channel_id == channel_id, out.c.seq > after_seq, out.c.kind == "reaction")
    if until:
        cond = and_(cond, out.c.create_at <= until)
    if not_from:
        cond = and_(cond, or_(out.c.origin_remote_id.is_(None), out.c.origin_remote_id != not_from))
    named: list[tuple[str, str, str]] = []
    whole: list[str] = []
    for (entity,) in (await conn.execute(select(out.c.entity_id).where(cond).order_by(out.c.seq))).all():
        parts = str(entity).split(":", 2)
        if parts[0] not in wanted:
            continue
        if len(parts) == 3:
            named.append((parts[0], parts[1], parts[2]))
        else:
            whole.append(parts[0])
    if whole:
        q = select(reactions.c.post_id, reactions.c.user_id, reactions.c.emoji_name).where(
            reactions.c.post_id.in_(sorted(set(whole))))
        named.extend((r[0], r[1], r[2]) for r in (await conn.execute(q)).all())
    return list(dict.fromkeys(named))


async def select_post_origins(conn: AsyncConnection, post_ids: list[str]) -> dict[str, str | None]:
    """post id -> the connection it came from (None: written here)."""
    out: dict[str, str | None] = {}
    for i in range(0, len(post_ids), 500):
        q = select(posts.c.id, posts.c.remote_id).where(posts.c.id.in_(post_ids[i:i + 500]))
        out.update({r[0]: r[1] for r in (await conn.execute(q)).all()})
    return out


async def select_acks_of_posts(conn: AsyncConnection, post_ids: list[str],
                               not_from: str | None = None) -> list[tuple[str, str]]:
    """(post, user) of every acknowledgement of ``post_ids``, taken back ones too (``acknowledged_at`` 0: no time
    is kept for a removal), but none that came from the connection ``not_from``."""
    out_: list[tuple[str, str]] = []
    for i in range(0, len(post_ids), 500):
        cond: ColumnElement[bool] = acks.c.post_id.in_(post_ids[i:i + 500])
        if not_from:
            cond = and_(cond, or_(acks.c.remote_id.is_(None), acks.c.remote_id != not_from))
        q = select(acks.c.post_id, acks.c.user_id).where(cond).order_by(acks.c.post_id, acks.c.user_id)
        out_.extend((r[0], r[1]) for r in (await conn.execute(q)).all())
    return out_


async def select_acks_given_between(conn: AsyncConnection, channel_id: str, since: int, until: int,
                                    not_from: str | None = None) -> list[tuple[str, str]]:
    """(post, user) of the acknowledgements in the channel given between ``since`` and ``until`` (on any post: an
    acknowledgement does not change its post), but none that came from the connection ``not_from``."""
    cond = and_(acks.c.channel_id == channel_id, acks.c.acknowledged_at >= since, acks.c.acknowledged_at <= until)
    if not_from:
        cond = and_(cond, or_(acks.c.remote_id.is_(None), acks.c.remote_id != not_from))
    q = select(acks.c.post_id, acks.c.user_id).where(cond).order_by(acks.c.acknowledged_at, acks.c.user_id)
    return [(r[0], r[1]) for r in (await conn.execute(q)).all()]
