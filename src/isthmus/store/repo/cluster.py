"""cluster_nodes and leases: the rows several serving processes coordinate through."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.cluster import cluster_nodes as nodes
from isthmus.store.schema.cluster import leases


async def upsert_node(conn: AsyncConnection, row: dict[str, Any]) -> None:
    ins = pg_insert(nodes) if conn.dialect.name == "postgresql" else sqlite_insert(nodes)
    await conn.execute(ins.values(**row).on_conflict_do_update(
        index_elements=[nodes.c.id], set_={k: v for k, v in row.items() if k != "id"}))


async def touch_node(conn: AsyncConnection, node_id: str, now: int) -> bool:
    res = await conn.execute(update(nodes).where(nodes.c.id == node_id).values(last_seen_at=now))
    return bool(res.rowcount)


async def delete_node(conn: AsyncConnection, node_id: str) -> None:
    await conn.execute(delete(nodes).where(nodes.c.id == node_id))


async def delete_nodes_seen_before(conn: AsyncConnection, before: int) -> int:
    res = await conn.execute(delete(nodes).where(nodes.c.last_seen_at < before))
    return int(res.rowcount or 0)


async def select_live_nodes(conn: AsyncConnection, since: int) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(nodes).where(nodes.c.last_seen_at >= since)
                               .order_by(nodes.c.started_at, nodes.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def select_schema_version(conn: AsyncConnection) -> str:
    value = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return str(value or "")


async def take_lease(conn: AsyncConnection, name: str, holder: str, now: int, expires_at: int, *,
                     force: bool = False) -> int | None:
    """Take or renew ``name`` for ``holder`` in one statement: it wins only if the row is new, already its
    own, or expired (``force``: whatever it says, for a process that is alone by construction). Two
    processes racing for a free lease both run this; the database serialises the conflicting writes and
    the second sees the first's unexpired row, so exactly one gets a row back. Returns since when ``holder``
    has held it (``now`` for a new holder, earlier for a renewal), or None when another process holds it."""
    ins = pg_insert(leases) if conn.dialect.name == "postgresql" else sqlite_insert(leases)
    ins = ins.values(name=name, holder=holder, expires_at=expires_at, acquired_at=now)
    excluded = ins.excluded
    stmt = ins.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": excluded.holder, "expires_at": excluded.expires_at,
              # acquired_at says since when the current holder has it (kept over renewals)
              "acquired_at": _keep_if_same(leases.c.holder == excluded.holder, leases.c.acquired_at,
                                           excluded.acquired_at)},
        where=None if force else ((leases.c.holder == holder) | (leases.c.expires_at < now)),
    ).returning(leases.c.holder, leases.c.acquired_at)
    row = (await conn.execute(stmt)).first()
    return int(row[1]) if row is not None and row[0] == holder else None


def _keep_if_same(cond: Any, old: Any, new: Any) -> Any:
    from sqlalchemy import case

    return case((cond, old), else_=new)


async def select_lease(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(leases).where(leases.c.name == name))).mappings().first()
    return dict(row) if row is not None else None


async def select_leases(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(leases).order_by(leases.c.name))).mappings().all()]


async def release_leases(conn: AsyncConnection, holder: str, names: list[str] | None = None) -> None:
    stmt = delete(leases).where(leases.c.holder == holder)
    if names is not None:
        stmt = stmt.where(leases.c.name.in_(names))
    await conn.execute(stmt)
