"""A real Isthmus server on a loopback port, run in a background thread of the test process.

Clients (mattermostautodriver, httpx, websockets) talk to it over real HTTP, and tests can still
run coroutines on the server's own loop (``live.run(...)``) to inspect the database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from isthmus.api.app import create_app
from isthmus.config import ConfigStore
from isthmus.server import Server

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_env(data_dir: Path) -> dict[str, str]:
    """SQLite in ``data_dir``; a fresh PostgreSQL database when ISTHMUS_TEST_POSTGRES_URL is set."""
    pg = os.environ.get("ISTHMUS_TEST_POSTGRES_URL", "")
    if not pg:
        return {"MM_SQLSETTINGS_DRIVERNAME": "sqlite",
                "MM_SQLSETTINGS_DATASOURCE": str(data_dir / "isthmus.db")}
    name = "isthmus_t_" + secrets.token_hex(6)
    create_postgres_database(pg, name)
    _created_databases[name] = pg
    base, _, _ = pg.rpartition("/")
    return {"MM_SQLSETTINGS_DRIVERNAME": "postgres", "MM_SQLSETTINGS_DATASOURCE": f"{base}/{name}"}


# The PostgreSQL databases this process created and has not dropped yet (name -> admin URL). Each one is a
# copy of template1 (about 9 MB); a deep model run creates thousands, so they are dropped when their servers
# stop rather than left for whoever owns the PostgreSQL server.
_created_databases: dict[str, str] = {}


def database_name(db_env: dict[str, str]) -> str | None:
    """The PostgreSQL database ``test_database_env`` created for these settings, or None for SQLite."""
    if db_env.get("MM_SQLSETTINGS_DRIVERNAME") != "postgres":
        return None
    return db_env["MM_SQLSETTINGS_DATASOURCE"].rpartition("/")[2]


def drop_test_databases(names: list[str] | None = None) -> None:
    """Drop these databases (default: every one still recorded). Their servers must have stopped; FORCE
    ends a connection a pool may still hold."""
    if names is None:  # the loopback tier's server processes get theirs from bench.common
        from bench import common

        _created_databases.update(common.created_databases)
        common.created_databases.clear()
    wanted = list(_created_databases) if names is None else [n for n in names if n in _created_databases]
    for name in wanted:
        admin_url = _created_databases.pop(name)
        _run_on_postgres(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_postgres_database(admin_url: str, name: str) -> None:
    _run_on_postgres(admin_url, f'CREATE DATABASE "{name}"')


def _run_on_postgres(admin_url: str, statement: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://")
                                     .replace("postgres://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(go())
        return
    # This thread already runs a loop (Playwright's sync API keeps one in the browser tests).
    result: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    if result:
        raise result[0]


class LiveServer:
    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        env = {
            "MM_SERVICESETTINGS_SITEURL": f"http://127.0.0.1:{self.port}",
            "MM_SERVICESETTINGS_LISTENADDRESS": f"127.0.0.1:{self.port}",
            "MM_FILESETTINGS_DIRECTORY": str(data_dir / "files"),
            **test_database_env(data_dir),
            **(extra_env or {}),
        }
        self.env = env
        self.store = ConfigStore(data_dir / "config.json", environ=env)
        self.server = Server(self.store, bcrypt_cost=4)
        self.app = create_app(self.server)
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self._uv: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", ws_max_size=1 << 20)
        self._uv = uvicorn.Server(config)

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            assert self._uv is not None
            self.loop.run_until_complete(self._uv.serve())

        self._thread = threading.Thread(target=run, daemon=True, name=f"isthmus-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 30
        while not (self._uv.started and self.loop is not None):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._uv is not None:
            self._uv.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
