"""Waiting for a SQLite database another process holds does not stall the event loop (issue 13.11).

The inline driver runs SQLite on the event-loop thread. With SQLite's busy timeout, a statement that found
the database locked (the CLI writing the same file) slept inside SQLite for up to 10 s and every request of
the server waited with it. Here a second connection (standing in for the other process) holds the write lock;
a server write must wait for it while other coroutines keep running, and the coroutine that releases the
lock must get to run, so the write lands. On the old driver the write blocked the loop until SQLite gave up
("database is locked") and the releasing coroutine never ran in time.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from isthmus.store import sqlite_inline
from isthmus.store.engine import Database
from isthmus.store.migrate import upgrade
from isthmus.store.repo import users as users_repo
from tests.store.test_repos import user_row


async def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}")
    await upgrade(db)
    return db


async def test_a_write_waiting_for_another_process_lets_the_loop_run(tmp_path: Path) -> None:
    db = await _database(tmp_path)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the other process holds the write lock
        row = user_row("waiter")

        async def write() -> None:
            async with db.write() as conn:
                await users_repo.insert_user(conn, row)

        writer = asyncio.create_task(write())
        ticks = 0
        for _ in range(5):  # the loop keeps turning while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
            assert not writer.done()
        other.execute("COMMIT")  # this coroutine ran: it releases the lock
        await writer
        assert ticks == 5
        async with db.read() as conn:
            found = (await conn.execute(text("SELECT username FROM users WHERE id = :id"), {"id": row["id"]})).scalar()
        assert found == "waiter"
    finally:
        other.close()
        await db.dispose()


async def test_a_database_locked_for_too_long_still_fails_cleanly(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_inline, "BUSY_WAIT_S", 0.05)
    db = await _database(tmp_path)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with db.write() as conn:
                await users_repo.insert_user(conn, user_row("never"))
        other.execute("COMMIT")
        async with db.write() as conn:  # and the connection is usable again afterwards
            await users_repo.insert_user(conn, user_row("later"))
    finally:
        other.close()
        await db.dispose()
