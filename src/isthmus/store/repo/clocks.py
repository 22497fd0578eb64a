"""Membership clocks of shared channels (``shared_member_clocks``): last writer wins per (channel, user)."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.shared import shared_member_clocks as clocks


async def select_member_clocks(conn: AsyncConnection, channel_id: str, user_ids: list[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    q = select(clocks.c.user_id, clocks.c.change_at).where(and_(clocks.c.channel_id == channel_id,
                                                                clocks.c.user_id.in_(user_ids)))
    return {str(r[0]): int(r[1]) for r in (await conn.execute(q)).all()}


async def upsert_member_clock(conn: AsyncConnection, channel_id: str, user_id: str, change_at: int) -> None:
    ins = pg_insert(clocks) if conn.dialect.name == "postgresql" else sqlite_insert(clocks)
    await conn.execute(ins.values(channel_id=channel_id, user_id=user_id, change_at=change_at)
                       .on_conflict_do_update(index_elements=[clocks.c.channel_id, clocks.c.user_id],
                                              set_={"change_at": change_at}))
