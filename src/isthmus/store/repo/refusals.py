"""Refused items and announced limits per connection (``store.schema.refusals``). SQL only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.refusals import remote_limits, sync_refusals

rf, lim = sync_refusals, remote_limits


async def record_refusals(conn: AsyncConnection, rows: list[dict[str, Any]], keep: int) -> None:
    """Insert ``rows``; an item refused again replaces its older row (one row per remote, kind and item). At
    most ``keep`` rows per remote stay, the newest: a peer refusing everything cannot grow the table forever."""
    if not rows:
        return
    keys = list(dict.fromkeys((r["remote_id"], r["kind"], r["item_id"]) for r in rows))
    await conn.execute(delete(rf).where(tuple_(rf.c.remote_id, rf.c.kind, rf.c.item_id).in_(keys)))
    await conn.execute(insert(rf), rows)
    for remote_id in {r["remote_id"] for r in rows}:
        cutoff = (await conn.execute(select(rf.c.create_at).where(rf.c.remote_id == remote_id)
                                     .order_by(rf.c.create_at.desc()).offset(keep).limit(1))).scalar()
        if cutoff is not None:
            await conn.execute(delete(rf).where(and_(rf.c.remote_id == remote_id, rf.c.create_at <= cutoff)))


async def count_refusals(conn: AsyncConnection, remote_id: str) -> dict[str, int]:
    q = select(rf.c.kind, func.count()).where(rf.c.remote_id == remote_id).group_by(rf.c.kind)
    return {str(kind): int(n) for kind, n in (await conn.execute(q)).all()}


async def count_by_remote(conn: AsyncConnection, remote_ids: list[str]) -> dict[str, int]:
    if not remote_ids:
        return {}
    q = select(rf.c.remote_id, func.count()).where(rf.c.remote_id.in_(remote_ids)).group_by(rf.c.remote_id)
    return {str(rid): int(n) for rid, n in (await conn.execute(q)).all()}


async def recent_refusals(conn: AsyncConnection, remote_id: str, limit: int) -> list[dict[str, Any]]:
    q = (select(rf).where(rf.c.remote_id == remote_id).order_by(rf.c.create_at.desc(), rf.c.id.desc())
         .limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_limits(conn: AsyncConnection, remote_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not remote_ids:
        return {}
    q = select(lim).where(lim.c.remote_id.in_(remote_ids))
    return {r["remote_id"]: dict(r) for r in (await conn.execute(q)).mappings().all()}


async def upsert_limits(conn: AsyncConnection, row: dict[str, Any]) -> None:
    # One statement: the announcement and our own first sync can race to create the row (PostgreSQL answered
    # a unique violation to one of them, seen in the model-based test's logs).
    values = {k: v for k, v in row.items() if k != "remote_id"}
    ins = pg_insert(lim) if conn.dialect.name == "postgresql" else sqlite_insert(lim)
    await conn.execute(ins.values(**row).on_conflict_do_update(index_elements=[lim.c.remote_id], set_=values))
