"""store/failures.classify: resource failures (full disk, database away) told from bugs, whatever wraps them."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from isthmus.store.failures import DB_UNAVAILABLE, DISK_FULL, classify


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("INSERT INTO posts ...", {}, orig)


@pytest.mark.parametrize(("exc", "kind"), [
    (OSError(errno.ENOSPC, "No space left on device"), DISK_FULL),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), DISK_FULL),
    (_wrapped(sqlite3.OperationalError("database or disk is full")), DISK_FULL),
    (_wrapped(_PgError("53100")), DISK_FULL),
    (_wrapped(sqlite3.OperationalError("database is locked")), DB_UNAVAILABLE),
    (_wrapped(_PgError("08006")), DB_UNAVAILABLE),
    (_wrapped(_PgError("57P03")), DB_UNAVAILABLE),
    (ConnectionRefusedError(111, "Connect call failed"), DB_UNAVAILABLE),
    (_wrapped(_PgError("23505")), None),  # a unique violation is a bug, not a resource
    (_wrapped(sqlite3.OperationalError("no such table: posts")), None),
    (ValueError("boom"), None),
    (OSError(errno.ENOENT, "No such file"), None),
])
def test_classify(exc: BaseException, kind: str | None) -> None:
    assert classify(exc) == kind


def test_a_cause_chain_is_followed() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("storing the upload failed") from inner
    except RuntimeError as outer:
        assert classify(outer) == DISK_FULL
