"""Async engine and transaction helpers for SQLite (WAL, embedded default) and PostgreSQL.

SQLite allows one writer at a time; instead of letting concurrent writers collide on
SQLITE_BUSY we serialise writes inside the process with an asyncio lock, which also gives the
outbox its commit order for free (see architecture §7). PostgreSQL writes run concurrently.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from isthmus.store import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL aborts one transaction of a lock cycle (40P01) or of a serialization conflict (40001); the
# other one commits, and the aborted one succeeds when run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable_conflict(exc: BaseException) -> bool:
    """The database rolled this transaction back to let a concurrent one through: running it again is safe."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None) or \
        getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code in _RETRYABLE_SQLSTATES


def sqlalchemy_url(driver: str, data_source: str) -> str:
    """Turn Mattermost-style ``SqlSettings`` into an async SQLAlchemy URL."""
    if driver == "sqlite":
        if data_source.startswith("sqlite"):
            return data_source
        path = Path(data_source).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    if driver == "postgres":
        parts = urlsplit(data_source)
        query = []
        for key, value in parse_qsl(parts.query):
            # asyncpg knows "ssl", not libpq's "sslmode"; libpq-only knobs are dropped.
            if key == "sslmode":
                if value != "disable":
                    query.append(("ssl", value))
            elif key in ("connect_timeout", "application_name"):
                continue
            else:
                query.append((key, value))
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))
    raise ValueError(f"unsupported SqlSettings.DriverName {driver!r}")


class Database:
    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=min(pool_size, 20), max_overflow=max(0, pool_size - 20),
                          pool_pre_ping=True)
        elif os.environ.get("ISTHMUS_SQLITE_DRIVER", "inline") != "thread":
            parsed = make_url(url)
            args, opts = parsed.get_dialect()().create_connect_args(parsed)
            kwargs["async_creator"] = sqlite_inline.connector(args, opts)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            # The inline driver waits for a locked database on the event loop (sqlite_inline.when_unlocked);
            # a busy timeout would sleep on the loop's thread. aiosqlite's worker thread may sleep.
            busy_ms = 0 if "async_creator" in kwargs else SQLITE_BUSY_TIMEOUT_MS

            def pragmas(dbapi_conn: Any, _record: Any) -> None:
                _sqlite_pragmas(dbapi_conn, busy_ms)

            event.listen(self.engine.sync_engine, "connect", pragmas)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction; commits on normal exit, rolls back on exception."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, busy_ms: int) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.close()
