"""Teams and team memberships. A member who left keeps its row with ``delete_at`` set (as in Mattermost)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.teams import team_members, teams


async def insert_team(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(teams).values(**row))


async def select_team_by_name(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(teams).where(teams.c.name == name))).mappings().first()
    return dict(row) if row else None


async def select_team_by_invite_id(conn: AsyncConnection, invite_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(teams).where(teams.c.invite_id == invite_id))).mappings().first()
    return dict(row) if row else None


async def update_team(conn: AsyncConnection, team_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(teams).where(teams.c.id == team_id).values(**values))).rowcount


def _visible_teams(include_all: bool, user_id: str) -> Any:
    """Live teams; unless ``include_all``, only open ones plus those ``user_id`` belongs to."""
    q = select(teams).where(teams.c.delete_at == 0)
    if not include_all:
        mine = select(team_members.c.team_id).where(and_(team_members.c.user_id == user_id,
                                                         team_members.c.delete_at == 0))
        q = q.where(or_(teams.c.allow_open_invite.is_(True), teams.c.id.in_(mine)))
    return q


async def select_teams(conn: AsyncConnection, *, include_all: bool, user_id: str, offset: int,
                       limit: int) -> list[dict[str, Any]]:
    q = _visible_teams(include_all, user_id).order_by(teams.c.display_name, teams.c.id)
    return [dict(r) for r in (await conn.execute(q.offset(offset).limit(limit))).mappings().all()]


async def count_teams(conn: AsyncConnection, *, include_all: bool, user_id: str) -> int:
    q = select(func.count()).select_from(_visible_teams(include_all, user_id).subquery())
    return int((await conn.execute(q)).scalar_one())


async def select_teams_for_user(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    q = (select(teams).join(team_members, team_members.c.team_id == teams.c.id)
         .where(and_(team_members.c.user_id == user_id, team_members.c.delete_at == 0, teams.c.delete_at == 0))
         .order_by(teams.c.display_name, teams.c.id))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def insert_team_member(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(team_members).values(**row))


async def update_team_member(conn: AsyncConnection, team_id: str, user_id: str, values: dict[str, Any]) -> int:
    q = update(team_members).where(and_(team_members.c.team_id == team_id, team_members.c.user_id == user_id))
    return (await conn.execute(q.values(**values))).rowcount


async def select_team_members(conn: AsyncConnection, team_id: str, *, offset: int,
                              limit: int) -> list[dict[str, Any]]:
    q = (select(team_members).where(and_(team_members.c.team_id == team_id, team_members.c.delete_at == 0))
         .order_by(team_members.c.create_at, team_members.c.user_id).offset(offset).limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def count_team_members(conn: AsyncConnection, team_id: str) -> int:
    q = select(func.count()).select_from(team_members).where(
        and_(team_members.c.team_id == team_id, team_members.c.delete_at == 0))
    return int((await conn.execute(q)).scalar_one())


async def select_team_members_for_user(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    q = (select(team_members).join(teams, teams.c.id == team_members.c.team_id)
         .where(and_(team_members.c.user_id == user_id, team_members.c.delete_at == 0, teams.c.delete_at == 0))
         .order_by(team_members.c.team_id))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_member_channel_counts(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    """Counters of every live team channel the user belongs to, in teams they still belong to."""
    q = (select(channels.c.team_id, channels.c.total_msg_count, channels.c.total_msg_count_root,
                channel_members.c.msg_count, channel_members.c.msg_count_root, channel_members.c.mention_count,
                channel_members.c.mention_count_root, channel_members.c.urgent_mention_count)
         .select_from(channel_members)
         .join(channels, channels.c.id == channel_members.c.channel_id)
         .join(team_members, and_(team_members.c.team_id == channels.c.team_id,
                                  team_members.c.user_id == user_id, team_members.c.delete_at == 0))
         .where(and_(channel_members.c.user_id == user_id, channels.c.delete_at == 0)))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]
