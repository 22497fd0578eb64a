from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.teams import team_members
from isthmus.store.schema.users import sessions, user_access_tokens, users


async def insert_user(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(users).values(**row))


async def insert_users(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(users), rows)


async def select_user(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
    return dict(row) if row else None


async def select_user_by(conn: AsyncConnection, *, username: str | None = None,
                         email: str | None = None) -> dict[str, Any] | None:
    cond = users.c.username == username if username is not None else users.c.email == email
    row = (await conn.execute(select(users).where(cond))).mappings().first()
    return dict(row) if row else None


async def select_users_by_ids(conn: AsyncConnection, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = (await conn.execute(select(users).where(users.c.id.in_(ids)))).mappings().all()
    return [dict(r) for r in rows]


async def select_users_by_usernames(conn: AsyncConnection, names: list[str]) -> list[dict[str, Any]]:
    if not names:
        return []
    rows = (await conn.execute(select(users).where(users.c.username.in_(names)))).mappings().all()
    return [dict(r) for r in rows]


async def count_users(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())


async def select_users(conn: AsyncConnection, *, offset: int, limit: int, in_team: str = "",
                       not_in_team: str = "", in_channel: str = "", not_in_channel: str = "",
                       without_team: bool = False, active: bool | None = None, role: str = "",
                       term: str = "", sort_by_username: bool = True,
                       joined_remote_only: bool = False) -> list[dict[str, Any]]:
    q = select(users)
    if joined_remote_only:  # a synthetic user only once it is a member of a channel here (took part in one)
        q = q.where(or_(users.c.remote_id.is_(None), users.c.id.in_(select(channel_members.c.user_id))))
    if in_team:
        q = q.where(users.c.id.in_(select(team_members.c.user_id).where(
            and_(team_members.c.team_id == in_team, team_members.c.delete_at == 0))))
    if not_in_team:
        q = q.where(users.c.id.not_in(select(team_members.c.user_id).where(
            and_(team_members.c.team_id == not_in_team, team_members.c.delete_at == 0))))
    if without_team:
        q = q.where(users.c.id.not_in(select(team_members.c.user_id).where(team_members.c.delete_at == 0)))
    if in_channel:
        q = q.where(users.c.id.in_(select(channel_members.c.user_id).where(
            channel_members.c.channel_id == in_channel)))
    if not_in_channel:
        q = q.where(users.c.id.not_in(select(channel_members.c.user_id).where(
            channel_members.c.channel_id == not_in_channel)))
    if active is True:
        q = q.where(users.c.delete_at == 0)
    elif active is False:
        q = q.where(users.c.delete_at != 0)
    if role:
        q = q.where(or_(users.c.roles == role, users.c.roles.like(f"{role} %"),
                        users.c.roles.like(f"% {role}"), users.c.roles.like(f"% {role} %")))
    if term:
        like = "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(*(func.lower(c).like(like, escape="\\") for c in (
            users.c.username, users.c.first_name, users.c.last_name, users.c.nickname, users.c.email))))
    q = q.order_by(users.c.username if sort_by_username else users.c.create_at).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def update_user(conn: AsyncConnection, user_id: str, values: dict[str, Any]) -> int:
    res = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return res.rowcount


async def insert_session(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(sessions).values(**row))


async def select_session_by_token(conn: AsyncConnection, token: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(sessions).where(sessions.c.token == token))).mappings().first()
    return dict(row) if row else None


async def select_sessions_for_user(conn: AsyncConnection, user_id: str) -> list[dict[str, Any]]:
    q = select(sessions).where(sessions.c.user_id == user_id).order_by(sessions.c.create_at.desc())
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def delete_session(conn: AsyncConnection, session_id: str) -> list[str]:
    tokens = (await conn.execute(select(sessions.c.token).where(sessions.c.id == session_id))).scalars().all()
    await conn.execute(delete(sessions).where(sessions.c.id == session_id))
    return list(tokens)


async def delete_sessions_for_user(conn: AsyncConnection, user_id: str, keep: str = "") -> list[str]:
    """Delete the user's sessions (but the one with id ``keep``); their tokens."""
    cond = and_(sessions.c.user_id == user_id, sessions.c.id != keep) if keep else sessions.c.user_id == user_id
    tokens = (await conn.execute(select(sessions.c.token).where(cond))).scalars().all()
    await conn.execute(delete(sessions).where(cond))
    return list(tokens)


async def update_session_roles(conn: AsyncConnection, user_id: str, roles: str) -> None:
    await conn.execute(update(sessions).where(sessions.c.user_id == user_id).values(roles=roles))


async def insert_access_token(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(user_access_tokens).values(**row))


async def select_access_token(conn: AsyncConnection, token: str) -> dict[str, Any] | None:
    q = select(user_access_tokens).where(user_access_tokens.c.token == token)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_access_token_by_id(conn: AsyncConnection, token_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(user_access_tokens).where(user_access_tokens.c.id == token_id))).mappings().first()
    return dict(row) if row else None


async def select_access_tokens_for_user(conn: AsyncConnection, user_id: str, *, offset: int,
                                        limit: int) -> list[dict[str, Any]]:
    q = (select(user_access_tokens).where(user_access_tokens.c.user_id == user_id)
         .order_by(user_access_tokens.c.id).offset(offset).limit(limit))
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def update_access_token(conn: AsyncConnection, token_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(user_access_tokens).where(user_access_tokens.c.id == token_id).values(**values))


async def delete_access_token(conn: AsyncConnection, token_id: str) -> None:
    await conn.execute(delete(user_access_tokens).where(user_access_tokens.c.id == token_id))
