"""One serving process per SQLite file.

SQLite serialises writers inside the process (``store.engine``) and every cache, lease and websocket
assumes the process sees all changes; a second ``serve`` on the same file would silently split both.
``serve`` therefore takes an exclusive ``flock`` on ``<database>.lock`` and keeps it for its lifetime.
The kernel releases an flock when its process dies however it dies (kill -9 included), so a crash never
leaves a stale lock behind; the pid written into the file is only there to name the holder in the error.
One-shot commands (``isthmus user create`` …) do not take it: they are short and SQLite's own locking
keeps their writes safe next to a running server.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class AlreadyServed(RuntimeError):
    """Another live process serves this SQLite database."""


def lock_path_for(data_source: str) -> Path | None:
    """``<database>.lock`` next to the SQLite file; None for an in-memory database."""
    source = data_source.strip()
    if source.startswith("sqlite"):
        source = source.split(":///", 1)[-1] if ":///" in source else ""
    source = source.split("?", 1)[0]
    if not source or source == ":memory:" or source.startswith("file::memory:"):
        return None
    return Path(source).expanduser().resolve().with_name(Path(source).name + ".lock")


class SqliteGuard:
    def __init__(self, data_source: str) -> None:
        self.path = lock_path_for(data_source)
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # held open for the process's lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            database = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise AlreadyServed(
                f"another isthmus serve process (pid {holder}) is already serving the SQLite database {database}. "
                "SQLite supports one serving process: stop that one first, or move to PostgreSQL "
                "(SqlSettings.DriverName=postgres) to run several processes on one workspace.") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
