"""Counts and id lists that Mattermost's apps read at startup."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.teams import team_members
from isthmus.store.schema.users import users


async def count_active_users(conn: AsyncConnection) -> int:
    """Active people of this server: not deactivated, not bots, not users of a connected workspace."""
    q = select(func.count()).select_from(users).where(
        and_(users.c.delete_at == 0, users.c.is_bot.is_(False), users.c.remote_id.is_(None)))
    return int((await conn.execute(q)).scalar_one())


async def select_known_user_ids(conn: AsyncConnection, user_id: str) -> list[str]:
    mine = select(channel_members.c.channel_id).where(channel_members.c.user_id == user_id)
    q = (select(channel_members.c.user_id).distinct()
         .where(and_(channel_members.c.channel_id.in_(mine), channel_members.c.user_id != user_id))
         .order_by(channel_members.c.user_id))
    return list((await conn.execute(q)).scalars())


async def team_member_counts(conn: AsyncConnection, team_id: str) -> tuple[int, int]:
    """(members, members whose account is active)."""
    q = (select(func.count(), func.count().filter(users.c.delete_at == 0))
         .select_from(team_members.join(users, users.c.id == team_members.c.user_id))
         .where(and_(team_members.c.team_id == team_id, team_members.c.delete_at == 0)))
    total, active = (await conn.execute(q)).one()
    return int(total), int(active)
