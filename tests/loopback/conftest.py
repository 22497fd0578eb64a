"""Fixtures for the loopback tier: real ``isthmus serve`` subprocesses on free loopback ports.

Every server gets its own temp data dir (its working directory, so nothing touches the repo's
./data) and, when ISTHMUS_TEST_POSTGRES_URL is set, its own fresh PostgreSQL database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.common import ServerProcess

SpawnServer = Callable[..., ServerProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[SpawnServer]:
    """``spawn(**ServerProcess kwargs)`` builds (not starts) a server; all are stopped at teardown."""
    made: list[ServerProcess] = []

    def make(name: str = "srv", **kwargs: Any) -> ServerProcess:
        kwargs.setdefault("postgres_url", os.environ.get("ISTHMUS_TEST_POSTGRES_URL") or None)
        proc = ServerProcess(tmp_path / f"{name}{len(made)}", **kwargs)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        if proc.returncode is None and proc.proc is not None:
            proc.stop()
