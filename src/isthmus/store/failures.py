"""Which failures are the machine's resources rather than a bug: a full disk, an unreachable database.

The API answers them with a clear AppError (507, 503 with Retry-After) instead of a 500 and a stack trace, so
clients retry and an operator reads in words what to fix. Drivers are recognised by what they raise (errno,
SQLSTATE, SQLite's message), walking the exception's causes, without importing any optional driver here.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

DISK_FULL = "disk_full"
DB_UNAVAILABLE = "db_unavailable"

_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# PostgreSQL: class 53 (insufficient resources: 53100 disk full, 53200 out of memory, 53300 too many
# connections), class 08 (connection exceptions), 57P01-57P03 (admin shutdown, crash shutdown, cannot
# connect now: the server is starting or stopping).
_PG_DISK = frozenset({"53100"})
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P01", "57P02", "57P03")
_UNAVAILABLE_NAMES = frozenset({"ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError",
                                "InterfaceError", "PostgresConnectionError", "TooManyConnectionsError"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def classify(exc: BaseException) -> str | None:
    """DISK_FULL, DB_UNAVAILABLE or None (anything else: a real bug, answered 500)."""
    unavailable = False
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
            return DISK_FULL
        if isinstance(e, sqlite3.Error):
            text = str(e).lower()
            if "database or disk is full" in text:
                return DISK_FULL
            if "database is locked" in text or "unable to open database" in text:
                unavailable = True
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str):
            if code in _PG_DISK:
                return DISK_FULL
            if code.startswith(_PG_UNAVAILABLE_PREFIXES):
                unavailable = True
        if isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in _UNAVAILABLE_NAMES:
            unavailable = True
        if type(e).__name__ == "TimeoutError" and type(e).__module__.startswith("sqlalchemy"):
            unavailable = True  # the connection pool found no free connection in time
    return DB_UNAVAILABLE if unavailable else None
