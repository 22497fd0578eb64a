"""An aiosqlite-shaped driver that runs each SQLite call on the calling (event-loop) thread.

Why: aiosqlite runs every call on its own worker thread, so one statement costs several queue
hand-offs, Futures and event-loop wake-ups with a GIL hand-over each (about fifteen per ``POST
/posts``; ``bench/README.md`` measured them as the largest share of the request's CPU time and most of
the sync engine's per-statement latency). A SQLite statement on this workload takes microseconds, so
running it inline is cheaper than handing it off. What makes that safe here:

* writes are already serialised by the process-wide write lock (``engine.Database.write``), and
  readers never wait for writers in WAL mode, so a call only finds the database locked while another
  *process* writes the same file (the CLI against a running server). SQLite's own busy timeout would
  sleep on the event-loop thread then, stalling every request; so it is 0 here, and a statement that
  finds the database locked is run again after an ``asyncio.sleep`` (backing off up to BUSY_WAIT_S in
  all), letting every other coroutine run meanwhile. A locked database leaves the statement undone, so
  running it again is safe;
* the commit is cheap with ``synchronous=NORMAL`` in WAL mode (no fsync per commit).

SQLAlchemy's ``sqlite+aiosqlite`` dialect is kept (same SQL, same type handling); only the object
it drives is swapped in through ``create_async_engine(async_creator=...)``. It uses the parts of
aiosqlite's API listed here and nothing else. Set ``ISTHMUS_SQLITE_DRIVER=thread`` to go back to
aiosqlite's threads (e.g. to compare).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


BUSY_WAIT_S = 10.0  # how long one statement waits, in all, for another process to release the database
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.001, 0.05


def _is_locked(err: sqlite3.OperationalError) -> bool:
    # Plain SQLITE_BUSY only: waiting helps there. SQLITE_BUSY_SNAPSHOT (a read transaction that can no longer
    # become a write) needs a new transaction, which no amount of waiting gives; it fails at once, as before.
    code = getattr(err, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_BUSY if code is not None else "database is locked" in str(err)


async def when_unlocked(call: Callable[[], T]) -> T:
    """``call()``; while another process holds the database, wait on the event loop (not in SQLite) and retry."""
    pause, waited = _FIRST_PAUSE_S, 0.0
    while True:
        try:
            return call()
        except sqlite3.OperationalError as err:
            if not _is_locked(err) or waited >= BUSY_WAIT_S:
                raise
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, _LONGEST_PAUSE_S)


class InlineCursor:
    __slots__ = ("_cur",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cur.close()

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cur.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cur.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            await when_unlocked(lambda: self._cur.execute(sql))
        else:
            await when_unlocked(lambda: self._cur.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> InlineCursor:
        rows = list(seq_of_parameters)  # an iterator would be used up by a first, locked attempt
        await when_unlocked(lambda: self._cur.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cur.fetchmany(self._cur.arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        return self._cur.fetchall()

    async def close(self) -> None:
        self._cur.close()


class _RunNow:
    """Stands in for aiosqlite's request queue: SQLAlchemy's ``isolation_level`` setter puts
    ``(future, function)`` on it and awaits the future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._tx = _RunNow()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy checks this to know whether the connection is still open.
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await when_unlocked(self._live().commit)

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


def connector(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    """An ``async_creator`` opening ``sqlite3.connect(*args, **kwargs)`` (the dialect's own connect
    arguments for the URL) on the calling thread."""

    async def create() -> InlineConnection:
        # The pool may hand a connection to another task, and the final close can come from a
        # finaliser; all use stays on the event-loop thread, so the same-thread check only gets in the way.
        # timeout=0: SQLite's busy handler would sleep on this thread; when_unlocked waits on the loop instead.
        return InlineConnection(sqlite3.connect(*args, **{**kwargs, "check_same_thread": False, "timeout": 0}))

    return create
