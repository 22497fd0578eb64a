"""Secure connections (remote_clusters). SQL only: no permissions, no events, no crypto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from isthmus.store.schema.base import metadata
from isthmus.store.schema.remotes import remote_clusters as rc

PENDING_PREFIX = "pending_"
PLUGIN_PREFIX = "plugin_"


@dataclass(frozen=True)
class RemoteFilter:
    """Mattermost's RemoteClusterQueryFilter. ``online_since`` is the cutoff for ``exclude_offline``."""

    exclude_offline: bool = False
    online_since: int = 0
    in_channel: str = ""
    not_in_channel: str = ""
    topic: str = ""
    creator_id: str = ""
    only_confirmed: bool = False
    plugin_id: str = ""
    only_plugins: bool = False
    exclude_plugins: bool = False
    require_options: int = 0
    include_deleted: bool = False


def _shared_channel_remotes() -> Table | None:
    """The shared-channel sync tables arrive with a later migration; use them only once they exist.

    Looking the table up in ``metadata`` keeps this module free of an import cycle and lets the
    connection filters and the delete cascade start working as soon as that schema is registered.
    """
    table = metadata.tables.get("shared_channel_remotes")
    if table is None or not {"remote_id", "channel_id", "delete_at"} <= set(table.c.keys()):
        return None
    return table


def _confirmed() -> ColumnElement[bool]:
    return or_(rc.c.plugin_id != "", rc.c.site_url.like(PLUGIN_PREFIX + "%"),
               and_(rc.c.site_url != "", not_(rc.c.site_url.like(PENDING_PREFIX + "%"))))


async def insert_remote(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(rc).values(**row))


async def select_remote(conn: AsyncConnection, remote_id: str, *,
                        include_deleted: bool = False) -> dict[str, Any] | None:
    q = select(rc).where(rc.c.remote_id == remote_id)
    if not include_deleted:
        q = q.where(rc.c.delete_at == 0)
    # A live row wins over deleted ones with the same id.
    row = (await conn.execute(q.order_by(rc.c.delete_at, rc.c.create_at.desc()))).mappings().first()
    return dict(row) if row else None


async def select_live_remote_by_name(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    q = select(rc).where(and_(rc.c.name == name, rc.c.delete_at == 0))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_remote_row(conn: AsyncConnection, remote_id: str, name: str) -> dict[str, Any] | None:
    q = select(rc).where(and_(rc.c.remote_id == remote_id, rc.c.name == name))
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def select_remotes(conn: AsyncConnection, f: RemoteFilter, *, offset: int = 0,
                         limit: int = 999_999) -> list[dict[str, Any]]:
    q = select(rc)
    if not f.include_deleted:
        q = q.where(rc.c.delete_at == 0)
    if f.exclude_offline:
        q = q.where(rc.c.last_ping_at > f.online_since)
    if f.topic:
        q = q.where(or_(rc.c.topics == "*", rc.c.topics.like(f"% {f.topic} %")))
    if f.creator_id:
        q = q.where(rc.c.creator_id == f.creator_id)
    if f.only_confirmed:
        q = q.where(_confirmed())
    if f.plugin_id:
        q = q.where(rc.c.plugin_id == f.plugin_id)
    if f.only_plugins:
        q = q.where(rc.c.plugin_id != "")
    if f.exclude_plugins:
        q = q.where(rc.c.plugin_id == "")
    if f.require_options:
        q = q.where(rc.c.options.op("&")(f.require_options) != 0)
    if f.in_channel or f.not_in_channel:
        scr = _shared_channel_remotes()
        if f.in_channel:
            if scr is None:
                return []
            q = q.where(rc.c.remote_id.in_(select(scr.c.remote_id).where(
                and_(scr.c.channel_id == f.in_channel, scr.c.delete_at == 0))))
        if f.not_in_channel and scr is not None:
            q = q.where(rc.c.remote_id.not_in(select(scr.c.remote_id).where(
                and_(scr.c.channel_id == f.not_in_channel, scr.c.delete_at == 0))))
    q = q.order_by(rc.c.create_at, rc.c.remote_id, rc.c.name).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def update_remote(conn: AsyncConnection, remote_id: str, values: dict[str, Any]) -> int:
    q = update(rc).where(and_(rc.c.remote_id == remote_id, rc.c.delete_at == 0)).values(**values)
    return (await conn.execute(q)).rowcount


async def confirm_pending_remote(conn: AsyncConnection, remote_id: str, invite_token: str,
                                 values: dict[str, Any]) -> int:
    """Confirm only while still pending and still keyed by ``invite_token``: a replayed or concurrent
    confirmation finds nothing to update (compare-and-set in one statement)."""
    q = update(rc).where(and_(rc.c.remote_id == remote_id, rc.c.delete_at == 0, rc.c.token == invite_token,
                              rc.c.site_url.like(PENDING_PREFIX + "%"))).values(**values)
    return (await conn.execute(q)).rowcount


async def set_last_ping_at(conn: AsyncConnection, remote_id: str, at: int) -> int:
    q = update(rc).where(and_(rc.c.remote_id == remote_id, rc.c.delete_at == 0)).values(last_ping_at=at)
    return (await conn.execute(q)).rowcount


async def soft_delete_remote(conn: AsyncConnection, remote_id: str, now: int) -> int:
    """Soft-delete the connection and its shared-channel rows in the caller's transaction."""
    count = (await conn.execute(update(rc).where(and_(rc.c.remote_id == remote_id, rc.c.delete_at == 0))
                                .values(delete_at=now))).rowcount
    scr = _shared_channel_remotes()
    if count and scr is not None:
        values: dict[str, Any] = {"delete_at": now}
        if "update_at" in scr.c:
            values["update_at"] = now
        await conn.execute(update(scr).where(and_(scr.c.remote_id == remote_id, scr.c.delete_at == 0))
                           .values(**values))
    return count


async def delete_remote_row(conn: AsyncConnection, remote_id: str, name: str) -> int:
    """Hard delete: only to undo an acceptance whose confirmation failed (nothing else references it yet)."""
    q = delete(rc).where(and_(rc.c.remote_id == remote_id, rc.c.name == name))
    return (await conn.execute(q)).rowcount
