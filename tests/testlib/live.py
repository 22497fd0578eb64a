"""A real Isthmus server on a loopback port, run in a background thread of the test process.

Clients (mattermostautodriver, httpx, websockets) talk to it over real HTTP, and tests can still
run coroutines on the server's own loop (``live.run(...)``) to inspect the database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from bench.common import create_postgres_database, drop_created_databases

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
    return {"MM_SQLSETTINGS_DRIVERNAME": "postgres",
            "MM_SQLSETTINGS_DATASOURCE": create_postgres_database(pg, prefix="isthmus_t_")}


def database_name(db_env: dict[str, str]) -> str | None:
    """The PostgreSQL database ``test_database_env`` created for these settings, or None for SQLite."""
    if db_env.get("MM_SQLSETTINGS_DRIVERNAME") != "postgres":
        return None
    return db_env["MM_SQLSETTINGS_DATASOURCE"].rpartition("/")[2]


def drop_test_databases(names: list[str] | None = None) -> None:
    """Drop these PostgreSQL databases of this process (default: all it still has, the loopback tier's too)."""
    drop_created_databases(names)


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
