"""Run real ``isthmus serve`` processes for benchmarks and loopback tests.

``ServerProcess`` starts the server exactly as an operator would (a subprocess, configured only
through ``--config``/``MM_*`` environment, temp data dir as its working directory), waits for the
one "ready" log line, and stops it with SIGTERM. Output goes to a log file rather than a pipe so a
chatty server can never block on a full pipe buffer.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

READY_MARKER = "Isthmus ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The PostgreSQL databases this process created and has not dropped yet (name -> admin URL). Each one is a copy of
# template1 (about 9 MB), and a deep model run creates thousands: the test suite drops them when their servers
# stop, and whatever is left goes when the process exits (a bench run's too).
created_databases: dict[str, str] = {}


def create_postgres_database(admin_url: str, prefix: str = "isthmus_b_") -> str:
    """Create a fresh database next to ``admin_url`` (any database on the server) and return its URL."""
    name = prefix + secrets.token_hex(6)
    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")
    run_on_postgres(plain, f'CREATE DATABASE "{name}"')
    created_databases[name] = plain
    base, _, _ = plain.partition("?")[0].rpartition("/")
    return f"{base}/{name}"


def drop_created_databases(names: Sequence[str] | None = None) -> None:
    """Drop these databases (default: every one still recorded). Their servers must have stopped; FORCE ends a
    connection a pool may still hold."""
    for name in list(created_databases) if names is None else [n for n in names if n in created_databases]:
        run_on_postgres(created_databases.pop(name), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


atexit.register(drop_created_databases)


def run_on_postgres(admin_url: str, statement: str) -> None:
    """One statement on its own connection, from synchronous code, also where this thread already runs an event
    loop (Playwright's sync API keeps one in the browser tests)."""
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(go())
        return
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


def database_env(data_dir: Path, postgres_url: str | None = None) -> dict[str, str]:
    """SQLite file in ``data_dir``; a fresh PostgreSQL database when ``postgres_url`` is given."""
    if not postgres_url:
        return {"MM_SQLSETTINGS_DRIVERNAME": "sqlite", "MM_SQLSETTINGS_DATASOURCE": str(data_dir / "isthmus.db")}
    return {"MM_SQLSETTINGS_DRIVERNAME": "postgres",
            "MM_SQLSETTINGS_DATASOURCE": create_postgres_database(postgres_url)}


def clean_environ() -> dict[str, str]:
    """The caller's environment without any MM_*/ISTHMUS_CONFIG that would leak into the child."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MM_") and k != "ISTHMUS_CONFIG"}


class ServerProcess:
    """One ``isthmus serve`` subprocess on a free loopback port with its own data directory.

    ``command`` defaults to ``python -m isthmus serve`` with the current interpreter; pass e.g.
    ``[".venv/bin/isthmus", "serve"]`` to test an installed entry point. ``env`` entries are added
    on top of the defaults (listen address, SiteURL, SQLite, files dir), so any of them can be
    replaced, and a value of ``""`` removes that variable. ``start()`` may be called again after
    ``stop()`` to restart on the same port and data.
    """

    def __init__(self, data_dir: Path, *, env: Mapping[str, str] | None = None,
                 command: Sequence[str] | None = None, port: int | None = None,
                 listen: str | None = None, config: Path | None = None, config_arg: bool = True,
                 postgres_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config if config is not None else data_dir / "config.json"
        base = list(command) if command else [sys.executable, "-m", "isthmus", "serve"]
        # config_arg=False leaves the config path to the command itself (e.g. scripts/serve).
        self.command = [*base, "--config", str(self.config)] if config_arg else base
        merged = {
            **clean_environ(),
            "ISTHMUS_BCRYPT_COST": os.environ.get("ISTHMUS_BCRYPT_COST", "4"),
            "MM_SERVICESETTINGS_SITEURL": self.url,
            "MM_SERVICESETTINGS_LISTENADDRESS": listen or f"127.0.0.1:{self.port}",
            "MM_FILESETTINGS_DIRECTORY": str(data_dir / "files"),
            **database_env(data_dir, postgres_url),
            **(env or {}),
        }
        self.env = {k: v for k, v in merged.items() if v != ""}
        self.log_path = data_dir / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> ServerProcess:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, cwd=self.data_dir, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the ready line is logged, failing early (with the log) if the process exits."""
        deadline = time.monotonic() + timeout
        while READY_MARKER not in self.log():
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"isthmus serve exited ({self.returncode}) before ready:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"isthmus serve not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 15, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (SIGTERM by default) and wait; kills and raises if it does not exit in time."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise RuntimeError(f"isthmus serve ignored signal {sig} for {timeout}s:\n{self.log()}") from None
        return self.proc.returncode

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def log(self) -> str:
        """Output of the current run (since the last ``start``)."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(self._log_offset)
            return fh.read().decode("utf-8", "replace")

    def ready_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if READY_MARKER in line]

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        except RuntimeError:
            if exc is None:
                raise

    # -- convenience -------------------------------------------------------------------------

    def client(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def ping(self) -> int:
        try:
            return httpx.get(f"{self.url}/api/v4/system/ping", timeout=5).status_code
        except httpx.TransportError:
            return 0

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``isthmus <args>`` with the same config file and environment as the server."""
        cmd = [sys.executable, "-m", "isthmus", *args, "--config", str(self.config)]
        return subprocess.run(cmd, cwd=self.data_dir, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)


def login(base_url: str, login_id: str, password: str) -> str:
    """Log in through the REST API and return the session token."""
    r = httpx.post(f"{base_url}/api/v4/users/login", json={"login_id": login_id, "password": password}, timeout=30)
    r.raise_for_status()
    return r.headers["Token"]


# -- process resources (benchmarks) ------------------------------------------------------------

def process_usage(pid: int) -> dict[str, float]:
    """Kernel figures of one live process: peak RSS (``VmHWM``), current RSS and CPU seconds (user+system).

    Read straight from ``/proc`` (Linux only) so a benchmark needs no extra package; returns {} once the
    process is gone. ``VmHWM`` is the high-water mark since exec, so it must be read before the process exits.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return {}
    kib = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
           if line.startswith(("VmHWM:", "VmRSS:"))}
    # Fields after the ")" that ends the command name: utime and stime are fields 14 and 15 of stat(5).
    rest = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"vmhwm_mib": kib.get("VmHWM", 0) / 1024, "rss_mib": kib.get("VmRSS", 0) / 1024,
            "cpu_s": (int(rest[11]) + int(rest[12])) / ticks}


def server_usage(server: ServerProcess) -> dict[str, float]:
    """:func:`process_usage` of a running :class:`ServerProcess` ({} when it is not running)."""
    if server.proc is None or server.proc.poll() is not None:
        return {}
    return process_usage(server.proc.pid)
