"""SQLite is served by one process: a second ``isthmus serve`` on the same file refuses to start.

Real processes: the guard is an ``flock`` on ``<database>.lock`` that the kernel drops when its holder
dies, so the test also shows that a kill -9 leaves nothing stale behind.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.loopback.conftest import SpawnServer

pytestmark = pytest.mark.loopback


def test_second_serve_on_one_sqlite_file_refuses_until_the_first_dies(spawn: SpawnServer) -> None:
    first = spawn("first", postgres_url="")
    first.start()
    db = first.env["MM_SQLSETTINGS_DATASOURCE"]
    second = spawn("second", postgres_url="", env={"MM_SQLSETTINGS_DATASOURCE": db})
    assert second.env["MM_SQLSETTINGS_DATASOURCE"] == db
    assert second.proc is None
    with open(second.log_path, "ab") as log:
        second.proc = subprocess.Popen(second.command, cwd=second.data_dir, env=second.env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    assert second.proc.wait(60) == 1
    out = second.log()
    assert "already serving the SQLite database" in out, out
    assert f"pid {first.proc.pid if first.proc else ''}" in out, out
    assert "PostgreSQL" in out, out  # says what to do instead
    assert first.ping() == 200  # the refused start changed nothing for the running server

    first.stop(sig=signal.SIGKILL)  # no clean shutdown: the kernel must release the lock itself
    second.start()
    assert second.ping() == 200
