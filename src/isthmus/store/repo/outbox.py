"""Sync outbox housekeeping and the sender's metrics figures: bounded, indexed statements only. SQL only.

Every statement here touches at most ``limit`` outbox rows (an index range on ``(channel_id, seq)`` or on
the ``seq`` key), so neither pruning nor a metrics scrape grows with the backlog.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.shared import shared_channel_remotes, shared_channels, sync_outbox

sc, scr, out = shared_channels, shared_channel_remotes, sync_outbox


async def select_prune_floors(conn: AsyncConnection) -> dict[str, tuple[int | None, int]]:
    """Per channel that has (or had) a share and still has outbox rows: (the lowest cursor among its live
    remotes, or None when no live remote is left; its oldest row's seq). None means nothing of it is still to be
    sent: a new or re-invited remote starts at the newest seq. One index seek per share, not per outbox row."""
    def oldest(channel_id: Any) -> Any:
        return select(out.c.seq).where(out.c.channel_id == channel_id).order_by(out.c.seq).limit(1).scalar_subquery()

    floors: dict[str, tuple[int | None, int]] = {}
    live_cursor = case((scr.c.delete_at == 0, scr.c.outbox_cursor))  # NULL for removed remotes: min skips them
    q = select(scr.c.channel_id, func.min(live_cursor), oldest(scr.c.channel_id)).group_by(scr.c.channel_id)
    for channel_id, floor, first in (await conn.execute(q)).all():
        if first is not None:
            floors[channel_id] = (None if floor is None else int(floor), int(first))
    for channel_id, first in (await conn.execute(select(sc.c.channel_id, oldest(sc.c.channel_id)))).all():
        if first is not None:
            floors.setdefault(channel_id, (None, int(first)))
    return floors


async def delete_channel_rows_upto(conn: AsyncConnection, channel_id: str, upto_seq: int, limit: int) -> int:
    """Delete at most ``limit`` of the channel's oldest rows with ``seq <= upto_seq``; how many went."""
    batch = (select(out.c.seq).where(and_(out.c.channel_id == channel_id, out.c.seq <= upto_seq))
             .order_by(out.c.seq).limit(limit))
    return (await conn.execute(out.delete().where(out.c.seq.in_(batch.scalar_subquery())))).rowcount


async def delete_rows_below(conn: AsyncConnection, below_seq: int, limit: int) -> int:
    """Delete at most ``limit`` of the oldest rows with ``seq < below_seq`` (every live cursor passed them)."""
    batch = select(out.c.seq).where(out.c.seq < below_seq).order_by(out.c.seq).limit(limit)
    return (await conn.execute(out.delete().where(out.c.seq.in_(batch.scalar_subquery())))).rowcount


async def select_queue_figures(conn: AsyncConnection, remote_id: str, cap: int) -> tuple[int, int | None]:
    """(rows still to send to ``remote_id``, capped at ``cap`` per channel; the oldest one's time) over its live,
    confirmed shares. Per share: one index range of at most ``cap`` rows past the cursor, whatever the backlog."""
    shares = (await conn.execute(select(scr.c.channel_id, scr.c.outbox_cursor).where(and_(
        scr.c.remote_id == remote_id, scr.c.delete_at == 0, scr.c.is_invite_confirmed.is_(True))))).all()
    depth, oldest = 0, None
    for channel_id, cursor in shares:
        window = (select(out.c.create_at, out.c.origin_remote_id)
                  .where(and_(out.c.channel_id == channel_id, out.c.seq > cursor,
                              out.c.target_remote_id.is_(None) | (out.c.target_remote_id == remote_id)))
                  .order_by(out.c.seq).limit(cap).subquery())
        mine = window.c.origin_remote_id == remote_id  # its own changes are skipped, not sent: not pending
        count, first = (await conn.execute(select(func.count(), func.min(window.c.create_at)).where(
            window.c.origin_remote_id.is_(None) | ~mine))).one()
        depth += int(count or 0)
        if first is not None:
            oldest = int(first) if oldest is None else min(oldest, int(first))
    return depth, oldest


async def select_row(conn: AsyncConnection, seq: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(out).where(out.c.seq == seq))).mappings().first()
    return dict(row) if row is not None else None


async def set_row_kind(conn: AsyncConnection, seq: int, kind: str) -> int:
    """Re-label one row (a spent replay marker): never a delete, which on SQLite could free the newest seq."""
    return (await conn.execute(out.update().where(out.c.seq == seq).values(kind=kind))).rowcount
