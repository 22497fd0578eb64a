"""Shared fixtures. The database is real: SQLite by default, PostgreSQL when
ISTHMUS_TEST_POSTGRES_URL is set (CI runs the suite once per backend)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("ISTHMUS_BCRYPT_COST", "4")
# Without it a cost below 10 is raised to 10 (see isthmus.server.bcrypt_cost_from_env); subprocesses
# (loopback servers, CLI runs) inherit both.
os.environ.setdefault("ISTHMUS_TESTING", "1")

from tests.testlib.clients import Person, make_person
from tests.testlib.live import LiveServer, drop_test_databases

# Every server-to-server frame of the run is decoded by the Go conformance harness at the end (pytester: the
# harness's own test runs an inner session).
pytest_plugins = ["tests.conformance.plugin", "pytester"]


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_databases() -> Iterator[None]:
    """Drop the PostgreSQL databases no cluster dropped at its close (the session's live server, the loopback
    tier's processes, the repository and CLI tests). Set up first, so torn down last: after every server that
    used one has stopped, also when the run ends early (-x, Ctrl-C)."""
    yield
    drop_test_databases()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(Path(tmp_path_factory.mktemp("live"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(live: LiveServer) -> Person:
    """The first account created through the API, which therefore is a system admin."""
    return make_person(live, username="sysadmin")


@pytest.fixture
def user(live: LiveServer, admin: Person) -> Person:
    return make_person(live, admin.http)


@pytest.fixture
def other(live: LiveServer, admin: Person) -> Person:
    return make_person(live, admin.http)
