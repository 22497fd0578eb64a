"""Channels and channel memberships. Direct and group channels have ``team_id == ""``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import posts, reactions
from isthmus.store.schema.users import users


async def insert_channel(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(channels).values(**row))


async def select_channel_by_name(conn: AsyncConnection, team_id: str, name: str) -> dict[str, Any] | None:
    q = select(channels).where(and_(channels.c.team_id == team_id, channels.c.name == name))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def update_channel(conn: AsyncConnection, channel_id: str, values: dict[str, Any]) -> int:
    return (await conn.execute(update(channels).where(channels.c.id == channel_id).values(**values))).rowcount


async def count_team_channels(conn: AsyncConnection, team_id: str) -> int:
    q = select(func.count()).select_from(channels).where(and_(channels.c.team_id == team_id,
                                                              channels.c.delete_at == 0))
    return int((await conn.execute(q)).scalar_one())


async def select_team_channels(conn: AsyncConnection, team_id: str, *, types: tuple[str, ...], offset: int,
                               limit: int, include_deleted: bool = False) -> list[dict[str, Any]]:
    cond = and_(channels.c.team_id == team_id, channels.c.type.in_(types))
    if not include_deleted:
        cond = and_(cond, channels.c.delete_at == 0)
    q = select(channels).where(cond).order_by(channels.c.display_name, channels.c.id).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_channels_by_names(conn: AsyncConnection, team_id: str, names: list[str]) -> list[dict[str, Any]]:
    q = select(channels).where(and_(channels.c.team_id == team_id, channels.c.name.in_(names),
                                    channels.c.delete_at == 0))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


def _user_channels_cond(user_id: str, team_id: str | None, include_deleted: bool) -> Any:
    mine = select(channel_members.c.channel_id).where(channel_members.c.user_id == user_id)
    cond: Any = channels.c.id.in_(mine)
    if team_id is not None:
        # A team's sidebar also lists the user's direct and group channels (team_id "").
        cond = and_(cond, or_(channels.c.team_id == team_id, channels.c.team_id == ""))
    if not include_deleted:
        cond = and_(cond, channels.c.delete_at == 0)
    return cond


async def select_channels_for_user(conn: AsyncConnection, user_id: str, team_id: str | None, *,
                                   include_deleted: bool = False) -> list[dict[str, Any]]:
    q = select(channels).where(_user_channels_cond(user_id, team_id, include_deleted))
    q = q.order_by(channels.c.display_name, channels.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_members_for_user(conn: AsyncConnection, user_id: str, team_id: str) -> list[dict[str, Any]]:
    q = (select(channel_members).join(channels, channels.c.id == channel_members.c.channel_id)
         .where(and_(channel_members.c.user_id == user_id, _user_channels_cond(user_id, team_id, False)))
         .order_by(channel_members.c.channel_id))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_user_channel_ids_in_team(conn: AsyncConnection, user_id: str, team_id: str) -> list[str]:
    q = (select(channel_members.c.channel_id).join(channels, channels.c.id == channel_members.c.channel_id)
         .where(and_(channel_members.c.user_id == user_id, channels.c.team_id == team_id)))
    return list((await conn.execute(q)).scalars().all())


async def insert_channel_member(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(channel_members).values(**row))


async def update_channel_member(conn: AsyncConnection, channel_id: str, user_id: str,
                                values: dict[str, Any]) -> int:
    q = update(channel_members).where(and_(channel_members.c.channel_id == channel_id,
                                           channel_members.c.user_id == user_id))
    return (await conn.execute(q.values(**values))).rowcount


async def delete_channel_member(conn: AsyncConnection, channel_id: str, user_id: str) -> int:
    q = delete(channel_members).where(and_(channel_members.c.channel_id == channel_id,
                                           channel_members.c.user_id == user_id))
    return (await conn.execute(q)).rowcount


async def delete_channel_members_in(conn: AsyncConnection, user_id: str, channel_ids: list[str]) -> None:
    if channel_ids:
        await conn.execute(delete(channel_members).where(and_(channel_members.c.user_id == user_id,
                                                              channel_members.c.channel_id.in_(channel_ids))))


async def select_channel_members(conn: AsyncConnection, channel_id: str, *, offset: int,
                                 limit: int) -> list[dict[str, Any]]:
    q = (select(channel_members).where(channel_members.c.channel_id == channel_id)
         .order_by(channel_members.c.user_id).offset(offset).limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def count_channel_members(conn: AsyncConnection, channel_id: str) -> int:
    q = select(func.count()).select_from(channel_members).where(channel_members.c.channel_id == channel_id)
    return int((await conn.execute(q)).scalar_one())


async def count_pinned_posts(conn: AsyncConnection, channel_id: str) -> int:
    q = select(func.count()).select_from(posts).where(and_(posts.c.channel_id == channel_id,
                                                           posts.c.is_pinned.is_(True), posts.c.delete_at == 0))
    return int((await conn.execute(q)).scalar_one())


async def select_member_timezones(conn: AsyncConnection, channel_id: str) -> list[Any]:
    q = (select(users.c.timezone).join(channel_members, channel_members.c.user_id == users.c.id)
         .where(and_(channel_members.c.channel_id == channel_id, users.c.delete_at == 0)))
    return list((await conn.execute(q)).scalars().all())


async def select_usernames(conn: AsyncConnection, user_ids: list[str]) -> dict[str, str]:
    q = select(users.c.id, users.c.username).where(users.c.id.in_(user_ids))
    return {r.id: r.username for r in (await conn.execute(q)).all()}


async def purge_channel(conn: AsyncConnection, channel_id: str) -> list[str]:
    """Delete a channel row and everything stored under it (reactions, files, posts, members).

    Returns the blob keys of the channel's files so the caller can remove the bytes after commit.
    The search index follows the posts by itself (PostgreSQL expression index, SQLite triggers).
    """
    q = select(file_infos.c.path, file_infos.c.thumbnail_path, file_infos.c.preview_path).where(
        file_infos.c.channel_id == channel_id)
    keys = [k for row in (await conn.execute(q)).all() for k in row if k]
    post_ids = select(posts.c.id).where(posts.c.channel_id == channel_id)
    await conn.execute(delete(reactions).where(or_(reactions.c.channel_id == channel_id,
                                                   reactions.c.post_id.in_(post_ids))))
    await conn.execute(delete(file_infos).where(file_infos.c.channel_id == channel_id))
    await conn.execute(delete(posts).where(posts.c.channel_id == channel_id))
    await conn.execute(delete(channel_members).where(channel_members.c.channel_id == channel_id))
    await conn.execute(delete(channels).where(channels.c.id == channel_id))
    return keys


async def select_channel_member_ids(conn: AsyncConnection, channel_id: str) -> list[str]:
    q = select(channel_members.c.user_id).where(channel_members.c.channel_id == channel_id)
    return list((await conn.execute(q)).scalars().all())
