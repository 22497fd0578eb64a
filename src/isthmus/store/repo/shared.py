"""Shared channels, their remotes, synced users/attachments, upload sessions and the sync outbox. SQL only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.remotes import remote_clusters
from isthmus.store.schema.shared import (
    remote_upload_sessions,
    shared_channel_attachments,
    shared_channel_remotes,
    shared_channel_users,
    shared_channels,
    sync_outbox,
)

sc, scr, out = shared_channels, shared_channel_remotes, sync_outbox


def _one(result: Any) -> dict[str, Any] | None:
    row = result.mappings().first()
    return dict(row) if row else None


def _all(result: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in result.mappings().all()]


# --- shared_channels -------------------------------------------------------------------------------

async def insert_shared_channel(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(sc).values(**row))


# Read for every inbound sync message and every outbox append: built once, only bound per call.
_SHARE = select(sc).where(sc.c.channel_id == bindparam("b_cid"))
_SHARE_LOCKED = _SHARE.with_for_update()  # serialises outbox appends per channel on PostgreSQL
_REMOTE = select(scr).where(and_(scr.c.channel_id == bindparam("b_cid"), scr.c.remote_id == bindparam("b_rid")))


async def select_shared_channel(conn: AsyncConnection, channel_id: str, *,
                                for_update: bool = False) -> dict[str, Any] | None:
    return _one(await conn.execute(_SHARE_LOCKED if for_update else _SHARE, {"b_cid": channel_id}))


async def update_shared_channel(conn: AsyncConnection, channel_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(sc).where(sc.c.channel_id == channel_id).values(**values))).rowcount


async def delete_shared_channel(conn: AsyncConnection, channel_id: str) -> int:
    return (await conn.execute(delete(sc).where(sc.c.channel_id == channel_id))).rowcount


async def select_shared_channels_for_team(conn: AsyncConnection, team_id: str, *, member_id: str = "",
                                          offset: int, limit: int) -> list[dict[str, Any]]:
    q = select(sc).where(sc.c.team_id == team_id)
    if member_id:
        q = q.where(sc.c.channel_id.in_(select(channel_members.c.channel_id)
                                        .where(channel_members.c.user_id == member_id)))
    return _all(await conn.execute(q.order_by(sc.c.create_at, sc.c.channel_id).offset(offset).limit(limit)))


async def set_channel_shared(conn: AsyncConnection, channel_id: str, shared: bool, now: int) -> None:
    await conn.execute(update(channels).where(channels.c.id == channel_id).values(shared=shared, update_at=now))


async def select_channel_shared_locked(conn: AsyncConnection, channel_id: str) -> bool:
    """The channel's ``shared`` flag as committed now, holding a share lock on its row until the transaction
    ends (a concurrent ``set_channel_shared`` waits for us, or we for it)."""
    q = select(channels.c.shared).where(channels.c.id == channel_id).with_for_update(read=True)
    return bool((await conn.execute(q)).scalar())


# --- shared_channel_remotes ------------------------------------------------------------------------

async def insert_remote(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(scr).values(**row))


async def select_remote(conn: AsyncConnection, channel_id: str, remote_id: str) -> dict[str, Any] | None:
    return _one(await conn.execute(_REMOTE, {"b_cid": channel_id, "b_rid": remote_id}))


async def select_remotes_for_channel(conn: AsyncConnection, channel_id: str, *,
                                     include_deleted: bool = False) -> list[dict[str, Any]]:
    q = select(scr).where(scr.c.channel_id == channel_id)
    if not include_deleted:
        q = q.where(scr.c.delete_at == 0)
    return _all(await conn.execute(q.order_by(scr.c.create_at, scr.c.id)))


async def was_a_copy(conn: AsyncConnection, channel_id: str) -> bool:
    """This server held the channel as the copy of a server it is still connected to (now or before: the link
    row stays when unshared), so the home may share it with us again. With the connection deleted it cannot."""
    q = select(scr.c.id).where(scr.c.channel_id == channel_id, scr.c.to_home.is_(True),
                               scr.c.remote_id.in_(select(remote_clusters.c.remote_id)
                                                   .where(remote_clusters.c.delete_at == 0))).limit(1)
    return (await conn.execute(q)).first() is not None


async def select_remotes_for_remote(conn: AsyncConnection, remote_id: str, *, include_deleted: bool = False,
                                    only_confirmed: bool = False, only_unconfirmed: bool = False,
                                    home: bool | None = None, offset: int = 0,
                                    limit: int = 1_000_000) -> list[dict[str, Any]]:
    q = select(scr).where(scr.c.remote_id == remote_id)
    if not include_deleted:
        q = q.where(scr.c.delete_at == 0)
    if only_confirmed:
        q = q.where(scr.c.is_invite_confirmed.is_(True))
    if only_unconfirmed:
        q = q.where(scr.c.is_invite_confirmed.is_(False))
    if home is not None:
        q = q.where(scr.c.channel_id.in_(select(sc.c.channel_id).where(sc.c.home.is_(home))))
    return _all(await conn.execute(q.order_by(scr.c.create_at, scr.c.id).offset(offset).limit(limit)))


async def update_remote(conn: AsyncConnection, scr_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(scr).where(scr.c.id == scr_id).values(**values))).rowcount


async def advance_cursor(conn: AsyncConnection, scr_id: str, seq: int, values: dict[str, Any]) -> int:
    """Move the cursor forward only (a stale writer can never move it back)."""
    q = (update(scr).where(and_(scr.c.id == scr_id, scr.c.outbox_cursor < seq))
         .values(outbox_cursor=seq, **values))
    return (await conn.execute(q)).rowcount


def entity_post_id() -> Any:
    """The post an outbox row of kind post/pin/reaction/ack is about: its entity starts with the post id
    (a reaction row names "post:user:emoji", an ack row "post:user")."""
    return func.substr(out.c.entity_id, 1, 26)


def _unacknowledged(channel_id: str, remote_id: str, cursor: int) -> Any:
    return and_(out.c.channel_id == channel_id, out.c.seq > cursor,
                out.c.origin_remote_id.is_(None) | (out.c.origin_remote_id != remote_id),
                out.c.target_remote_id.is_(None) | (out.c.target_remote_id == remote_id))


async def oldest_unacknowledged(conn: AsyncConnection, channel_id: str, remote_id: str, cursor: int) -> int | None:
    """The oldest time among the outbox rows of the channel past ``cursor`` still to go to ``remote_id`` and
    the ``update_at`` of their posts (a post relayed from another server keeps that server's clock)."""
    from isthmus.store.schema.posts import posts

    rows = await conn.execute(select(func.min(out.c.create_at)).where(_unacknowledged(channel_id, remote_id, cursor)))
    posts_q = select(func.min(posts.c.update_at)).where(posts.c.id.in_(
        select(entity_post_id()).where(and_(_unacknowledged(channel_id, remote_id, cursor),
                                             out.c.kind.in_(("post", "pin", "reaction", "ack"))))))
    found = [int(v) for v in (rows.scalar(), (await conn.execute(posts_q)).scalar()) if v is not None]
    return min(found) if found else None


async def unacknowledged_entities(conn: AsyncConnection, channel_id: str, remote_id: str, cursor: int,
                                  kind: str) -> list[str]:
    """The entity ids of the channel's outbox rows of ``kind`` past ``cursor`` still to go to ``remote_id``."""
    q = select(out.c.entity_id).where(and_(_unacknowledged(channel_id, remote_id, cursor), out.c.kind == kind))
    return [str(r[0]) for r in (await conn.execute(q)).all()]


async def select_unshare_notices(conn: AsyncConnection, remote_id: str) -> list[dict[str, Any]]:
    """Soft-deleted rows of ``remote_id`` whose ``sharedchannel_unshare`` is still to be delivered."""
    q = (select(scr).where(and_(scr.c.remote_id == remote_id, scr.c.delete_at > 0, scr.c.unshare_notice > 0))
         .order_by(scr.c.delete_at, scr.c.id))
    return _all(await conn.execute(q))


async def select_orphan_shared_channels(conn: AsyncConnection, channel_ids: list[str]) -> list[str]:
    """Those of ``channel_ids`` that are shared but have no live remote left."""
    if not channel_ids:
        return []
    live = select(scr.c.channel_id).where(and_(scr.c.channel_id.in_(channel_ids), scr.c.delete_at == 0))
    q = select(sc.c.channel_id).where(and_(sc.c.channel_id.in_(channel_ids), sc.c.channel_id.not_in(live)))
    return [r[0] for r in (await conn.execute(q)).all()]


# --- sync_outbox -----------------------------------------------------------------------------------

# Built once with bound parameters: ``.values(**row)`` per call coerced every value and built a new cache
# key, ~2/3 of this INSERT's CPU on the POST /posts path.
_INSERT_CHANGES = insert(out).returning(out.c.seq)  # also one multi-row INSERT (SQLAlchemy's insertmanyvalues)


async def insert_change(conn: AsyncConnection, row: dict[str, Any]) -> int:
    return int((await conn.execute(_INSERT_CHANGES, row)).scalar_one())


async def insert_changes(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Many outbox rows in one statement; their seqs (in no particular order)."""
    if not rows:
        return []
    return [int(s) for s in (await conn.execute(_INSERT_CHANGES, rows)).scalars().all()]


async def max_seq(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.max(out.c.seq)))).scalar() or 0)


async def select_changes(conn: AsyncConnection, channel_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    q = (select(out).where(and_(out.c.channel_id == channel_id, out.c.seq > after_seq))
         .order_by(out.c.seq).limit(limit))
    return _all(await conn.execute(q))


async def min_live_cursor(conn: AsyncConnection) -> int | None:
    q = select(func.min(scr.c.outbox_cursor)).where(scr.c.delete_at == 0)
    value = (await conn.execute(q)).scalar()
    return None if value is None else int(value)


# --- shared_channel_users / attachments ------------------------------------------------------------

async def select_synced_users(conn: AsyncConnection, channel_id: str, remote_id: str,
                              user_ids: list[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    u = shared_channel_users.c
    q = select(u.user_id, u.last_sync_at).where(and_(u.channel_id == channel_id, u.remote_id == remote_id,
                                                      u.user_id.in_(user_ids)))
    return {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}


async def select_user_channels(conn: AsyncConnection, user_id: str) -> list[tuple[str, str]]:
    """(channel_id, remote_id) pairs the user's profile was ever sent to."""
    u = shared_channel_users.c
    return [(r[0], r[1]) for r in (await conn.execute(select(u.channel_id, u.remote_id)
                                                      .where(u.user_id == user_id))).all()]


async def select_status_targets(conn: AsyncConnection, user_id: str, owner: str | None) -> list[tuple[str, str]]:
    """(channel_id, remote_id) pairs a status of ``user_id`` may go to: the user was sent to that remote in that
    channel, is still a member, the share is live and confirmed. Only if ``owner`` owns the user (None: a local
    user) and never to the owner itself."""
    from isthmus.store.schema.users import users

    u = shared_channel_users.c
    cm = channel_members.c
    owned = users.c.remote_id.is_(None) if owner is None else and_(users.c.remote_id == owner, u.remote_id != owner)
    q = (select(u.channel_id, u.remote_id)
         .select_from(shared_channel_users
                      .join(scr, and_(scr.c.channel_id == u.channel_id, scr.c.remote_id == u.remote_id))
                      .join(channel_members, and_(cm.channel_id == u.channel_id, cm.user_id == u.user_id))
                      .join(users, users.c.id == u.user_id))
         .where(and_(u.user_id == user_id, scr.c.delete_at == 0, scr.c.is_invite_confirmed.is_(True), owned)))
    return [(r[0], r[1]) for r in (await conn.execute(q)).all()]


async def insert_synced_user(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(shared_channel_users).values(**row))


async def update_synced_user(conn: AsyncConnection, user_id: str, channel_id: str, remote_id: str,
                             last_sync_at: int) -> int:
    u = shared_channel_users.c
    q = (update(shared_channel_users)
         .where(and_(u.user_id == user_id, u.channel_id == channel_id, u.remote_id == remote_id))
         .values(last_sync_at=last_sync_at))
    return (await conn.execute(q)).rowcount


async def select_attachment_syncs(conn: AsyncConnection, remote_id: str, file_ids: list[str]) -> dict[str, int]:
    if not file_ids:
        return {}
    a = shared_channel_attachments.c
    q = select(a.file_id, a.last_sync_at).where(and_(a.remote_id == remote_id, a.file_id.in_(file_ids)))
    return {r[0]: int(r[1]) for r in (await conn.execute(q)).all()}


async def upsert_attachment_sync(conn: AsyncConnection, row: dict[str, Any]) -> None:
    a = shared_channel_attachments.c
    q = (update(shared_channel_attachments)
         .where(and_(a.file_id == row["file_id"], a.remote_id == row["remote_id"]))
         .values(last_sync_at=row["last_sync_at"]))
    if (await conn.execute(q)).rowcount == 0:
        await conn.execute(insert(shared_channel_attachments).values(**row))


# --- remote upload sessions ------------------------------------------------------------------------

async def insert_upload_session(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(remote_upload_sessions).values(**row))


async def select_upload_session(conn: AsyncConnection, session_id: str) -> dict[str, Any] | None:
    return _one(await conn.execute(select(remote_upload_sessions)
                                   .where(remote_upload_sessions.c.id == session_id)))


async def delete_upload_session(conn: AsyncConnection, session_id: str) -> int:
    q = delete(remote_upload_sessions).where(remote_upload_sessions.c.id == session_id)
    return (await conn.execute(q)).rowcount


async def delete_upload_sessions_before(conn: AsyncConnection, before: int) -> int:
    q = delete(remote_upload_sessions).where(remote_upload_sessions.c.create_at < before)
    return (await conn.execute(q)).rowcount


async def select_first_team_id(conn: AsyncConnection) -> str:
    """The oldest live team: where invited channels land when the connection names no default team."""
    from isthmus.store.schema.teams import teams

    q = select(teams.c.id).where(teams.c.delete_at == 0).order_by(teams.c.create_at, teams.c.id).limit(1)
    return str((await conn.execute(q)).scalar() or "")


async def select_reactions_for_posts(conn: AsyncConnection, post_ids: list[str]) -> list[dict[str, Any]]:
    """Every reaction of the posts, removed ones included (sync sends the state, ``delete_at`` and all)."""
    from isthmus.store.schema.posts import reactions

    if not post_ids:
        return []
    q = (select(reactions).where(reactions.c.post_id.in_(post_ids))
         .order_by(reactions.c.create_at, reactions.c.user_id, reactions.c.emoji_name))
    return _all(await conn.execute(q))


async def select_local_member_ids(conn: AsyncConnection, channel_id: str) -> list[str]:
    """Members of the channel that are users of this server (not synthetic)."""
    from isthmus.store.schema.users import users

    q = (select(channel_members.c.user_id)
         .select_from(channel_members.join(users, users.c.id == channel_members.c.user_id))
         .where(and_(channel_members.c.channel_id == channel_id, users.c.remote_id.is_(None)))
         .order_by(channel_members.c.user_id))
    return [r[0] for r in (await conn.execute(q)).all()]


async def select_member_ids_in(conn: AsyncConnection, channel_id: str, user_ids: list[str]) -> list[str]:
    if not user_ids:
        return []
    q = select(channel_members.c.user_id).where(and_(channel_members.c.channel_id == channel_id,
                                                     channel_members.c.user_id.in_(user_ids)))
    return [r[0] for r in (await conn.execute(q)).all()]


async def clear_unshare_notice(conn: AsyncConnection, scr_id: str, notice: int) -> int:
    q = update(scr).where(and_(scr.c.id == scr_id, scr.c.unshare_notice == notice)).values(unshare_notice=0)
    return (await conn.execute(q)).rowcount


async def select_posts_with_reactions(conn: AsyncConnection, post_ids: list[str]) -> list[str]:
    """Those of ``post_ids`` with any reaction row (removed ones too)."""
    from isthmus.store.schema.posts import reactions

    found: set[str] = set()
    for i in range(0, len(post_ids), 500):
        chunk = post_ids[i:i + 500]
        q = select(reactions.c.post_id).where(reactions.c.post_id.in_(chunk)).distinct()
        found.update(r[0] for r in (await conn.execute(q)).all())
    return [p for p in post_ids if p in found]


# --- members the home removed ------------------------------------------------------------------------
# A durable "the home removed this remote user from this channel" fact (domain.ownership). It lives in the
# systems key/value table, one row per removed (channel, user): no schema change (a dedicated table is the
# cleaner home for it once a migration is due). The name fits systems.name (64): "kick:" + 26 + ":" + 26.

def _removed_key(channel_id: str, user_id: str) -> str:
    return f"kick:{channel_id}:{user_id}"


async def select_removed_member(conn: AsyncConnection, channel_id: str, user_id: str) -> bool:
    from isthmus.store.schema.system import systems

    q = select(systems.c.name).where(systems.c.name == _removed_key(channel_id, user_id))
    return (await conn.execute(q)).first() is not None


async def insert_removed_member(conn: AsyncConnection, channel_id: str, user_id: str, at: int) -> None:
    from isthmus.store.schema.system import systems

    if not await select_removed_member(conn, channel_id, user_id):
        await conn.execute(insert(systems).values(name=_removed_key(channel_id, user_id), value=str(at)))


async def delete_removed_member(conn: AsyncConnection, channel_id: str, user_id: str) -> int:
    from isthmus.store.schema.system import systems

    q = delete(systems).where(systems.c.name == _removed_key(channel_id, user_id))
    return (await conn.execute(q)).rowcount
