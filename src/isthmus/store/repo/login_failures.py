"""Failed login attempts, counted atomically so parallel guesses cannot share one stale count."""

from __future__ import annotations

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.users import login_failures as lf


async def select_failures(conn: AsyncConnection, key: str) -> tuple[int, int]:
    row = (await conn.execute(select(lf.c.attempts, lf.c.last_at).where(lf.c.login_key == key))).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def count_attempt(conn: AsyncConnection, key: str, now: int, expired_before: int) -> int:
    """Add one attempt (starting again at 1 when the last one is older than ``expired_before``); the new count."""
    ins = pg_insert(lf) if conn.dialect.name == "postgresql" else sqlite_insert(lf)
    stmt = ins.values(login_key=key, attempts=1, last_at=now).on_conflict_do_update(
        index_elements=[lf.c.login_key],
        set_={"attempts": case((lf.c.last_at < expired_before, 1), else_=lf.c.attempts + 1), "last_at": now},
    ).returning(lf.c.attempts)
    return int((await conn.execute(stmt)).scalar_one())


async def clear(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(lf).where(lf.c.login_key == key))
