"""Draft rows (one per user, channel and thread root)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.preferences import drafts

MAX_LISTED = 500


async def select_draft(conn: AsyncConnection, user_id: str, channel_id: str, root_id: str) -> dict[str, Any] | None:
    q = select(drafts).where(and_(drafts.c.user_id == user_id, drafts.c.channel_id == channel_id,
                                  drafts.c.root_id == root_id))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def upsert_draft(conn: AsyncConnection, row: dict[str, Any]) -> None:
    ins = pg_insert(drafts) if conn.dialect.name == "postgresql" else sqlite_insert(drafts)
    values = {k: v for k, v in row.items() if k not in ("user_id", "channel_id", "root_id", "create_at")}
    await conn.execute(ins.values(**row).on_conflict_do_update(
        index_elements=[drafts.c.user_id, drafts.c.channel_id, drafts.c.root_id], set_=values))


async def select_team_drafts(conn: AsyncConnection, user_id: str, team_id: str) -> list[dict[str, Any]]:
    """Live drafts in the user's channels of the team and their direct/group channels, newest first."""
    mine = select(channel_members.c.channel_id).where(channel_members.c.user_id == user_id)
    in_team = select(channels.c.id).where(and_(channels.c.id.in_(mine), channels.c.delete_at == 0,
                                               or_(channels.c.team_id == team_id, channels.c.team_id == "")))
    q = (select(drafts).where(and_(drafts.c.user_id == user_id, drafts.c.delete_at == 0,
                                   drafts.c.channel_id.in_(in_team)))
         .order_by(drafts.c.update_at.desc()).limit(MAX_LISTED))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def soft_delete_draft(conn: AsyncConnection, user_id: str, channel_id: str, root_id: str, now: int) -> int:
    q = (update(drafts).where(and_(drafts.c.user_id == user_id, drafts.c.channel_id == channel_id,
                                   drafts.c.root_id == root_id, drafts.c.delete_at == 0))
         .values(delete_at=now, update_at=now))
    return int((await conn.execute(q)).rowcount or 0)
