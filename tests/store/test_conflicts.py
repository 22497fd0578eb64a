"""``retrying``: a write the database aborted to break a lock cycle runs again; other errors do not.

On PostgreSQL the first test builds a real deadlock (two writers lock two rows in opposite orders) and
checks that the aborted one is re-run and both changes land. SQLite has one writer at a time, so there
the same two writers simply take turns and neither is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from isthmus.domain.context import retrying
from isthmus.store.engine import Database, is_retryable_conflict
from isthmus.store.repo import users as users_repo
from tests.store.test_repos import db, db_url, user_row

__all__ = ["db", "db_url"]  # fixtures, re-exported so pytest finds them here


async def test_a_deadlocked_writer_is_run_again(db: Database) -> None:
    a, b = user_row("lockera"), user_row("lockerb")
    async with db.write() as conn:
        await users_repo.insert_user(conn, a)
        await users_repo.insert_user(conn, b)
    first_locks: dict[str, asyncio.Event] = {"x": asyncio.Event(), "y": asyncio.Event()}
    attempts: list[str] = []
    aborted: list[bool] = []

    def writer(name: str, other: str, order: tuple[str, str]) -> Callable[[], Awaitable[str]]:
        async def work() -> str:
            attempts.append(name)
            try:
                async with db.write() as conn:
                    await conn.execute(text("UPDATE users SET nickname = :n WHERE id = :id"),
                                       {"n": name, "id": order[0]})
                    first_locks[name].set()
                    try:  # wait until the other writer holds its first row (SQLite: it never can)
                        async with asyncio.timeout(1.0):
                            await first_locks[other].wait()
                    except TimeoutError:
                        pass
                    await conn.execute(text("UPDATE users SET position = :n WHERE id = :id"),
                                       {"n": name, "id": order[1]})
            except Exception as exc:
                aborted.append(is_retryable_conflict(exc))
                raise
            return name
        return work

    results = await asyncio.gather(retrying(writer("x", "y", (a["id"], b["id"]))),
                                   retrying(writer("y", "x", (b["id"], a["id"]))))
    assert sorted(results) == ["x", "y"]
    async with db.read() as conn:
        rows = {r.id: (r.nickname, r.position) for r in
                await conn.execute(text("SELECT id, nickname, position FROM users WHERE id IN (:a, :b)"),
                                   {"a": a["id"], "b": b["id"]})}
    # x wrote a's nickname and b's position, y the other two columns: both transactions landed in full.
    assert rows == {a["id"]: ("x", "y"), b["id"]: ("y", "x")}
    if db.is_sqlite:
        assert len(attempts) == 2 and aborted == []
    else:
        assert len(attempts) == 3 and aborted == [True]  # PostgreSQL aborted one side; it ran again


async def test_other_errors_are_not_retried(db: Database) -> None:
    row = user_row("dupe")
    async with db.write() as conn:
        await users_repo.insert_user(conn, row)
    attempts = 0

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        async with db.write() as conn:
            await users_repo.insert_user(conn, dict(row))

    with pytest.raises(IntegrityError) as caught:
        await retrying(work)
    assert attempts == 1
    assert not is_retryable_conflict(caught.value)
