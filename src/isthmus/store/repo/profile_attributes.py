"""Custom profile attribute fields and values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.store.schema.profile_attributes import cpa_fields, cpa_values


async def select_fields(conn: AsyncConnection) -> list[dict[str, Any]]:
    q = select(cpa_fields).where(cpa_fields.c.delete_at == 0).order_by(cpa_fields.c.create_at, cpa_fields.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def select_field(conn: AsyncConnection, field_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(cpa_fields).where(cpa_fields.c.id == field_id))).mappings().first()
    return dict(row) if row else None


async def insert_field(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(cpa_fields).values(**row))


async def update_field(conn: AsyncConnection, field_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(cpa_fields).where(cpa_fields.c.id == field_id).values(**values))


async def delete_values_of_field(conn: AsyncConnection, field_id: str) -> None:
    await conn.execute(delete(cpa_values).where(cpa_values.c.field_id == field_id))


async def select_values(conn: AsyncConnection, user_id: str) -> dict[str, Any]:
    live = select(cpa_fields.c.id).where(cpa_fields.c.delete_at == 0)
    q = select(cpa_values.c.field_id, cpa_values.c.value).where(
        and_(cpa_values.c.user_id == user_id, cpa_values.c.field_id.in_(live)))
    return {r[0]: r[1] for r in (await conn.execute(q)).all()}


async def upsert_value(conn: AsyncConnection, field_id: str, user_id: str, value: Any, now: int) -> None:
    ins = pg_insert(cpa_values) if conn.dialect.name == "postgresql" else sqlite_insert(cpa_values)
    await conn.execute(ins.values(field_id=field_id, user_id=user_id, value=value, update_at=now)
                       .on_conflict_do_update(index_elements=[cpa_values.c.field_id, cpa_values.c.user_id],
                                              set_={"value": value, "update_at": now}))


async def delete_value(conn: AsyncConnection, field_id: str, user_id: str) -> None:
    await conn.execute(delete(cpa_values).where(and_(cpa_values.c.field_id == field_id,
                                                     cpa_values.c.user_id == user_id)))
