"""``isthmus migrate`` on an empty database, then ``user list``; one-shot commands start no services.

Runs in-process (Typer's runner) on a fresh SQLite or PostgreSQL database (ISTHMUS_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from typer.testing import CliRunner, Result

from isthmus.cli import app
from isthmus.config import ConfigStore
from isthmus.federation.connections import Connections
from isthmus.federation.sync.service import SharedChannels
from isthmus.realtime.hub import Hub
from isthmus.store.engine import Database, sqlalchemy_url
from isthmus.store.migrate import alembic_config
from tests.testlib.clients import PASSWORD
from tests.testlib.live import test_database_env as database_env


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "config.json"
        self.env = {**database_env(tmp), "MM_FILESETTINGS_DIRECTORY": str(tmp / "files"),
                    "ISTHMUS_BCRYPT_COST": "4", "ISTHMUS_TESTING": "1"}
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        result = self.runner.invoke(app, [*args, "--config", str(self.config)], env=self.env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def tables_and_revision(self) -> tuple[set[str], str | None]:
        sql = ConfigStore(self.config, environ=self.env).config.SqlSettings

        async def go() -> tuple[set[str], str | None]:
            db = Database(sqlalchemy_url(sql.DriverName, sql.DataSource))
            try:
                async with db.read() as conn:
                    names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                    rev = None
                    if "alembic_version" in names:
                        rev = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
                    return names, rev
            finally:
                await db.dispose()

        return asyncio.run(go())


@pytest.fixture
def no_services(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records any start of the hub, the ping loop or the shared-channel sender."""
    started: list[str] = []
    for cls in (Hub, Connections, SharedChannels):
        async def start(self: object, _name: str = cls.__name__) -> None:
            started.append(_name)
        monkeypatch.setattr(cls, "start", start)
    return started


def test_migrate_on_an_empty_database_then_user_list(tmp_path: Path, no_services: list[str]) -> None:
    cli = Cli(tmp_path)
    tables, rev = cli.tables_and_revision()
    assert rev is None and "users" not in tables
    assert "migrations applied" in cli("migrate").output
    tables, rev = cli.tables_and_revision()
    assert {"users", "sessions", "channels", "channel_members", "posts"} <= tables
    assert rev == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert json.loads(cli("user", "list", "--json").stdout) == []
    cli("migrate")  # again: nothing pending, nothing breaks
    assert cli.tables_and_revision()[1] == rev
    cli("user", "create", "--username", "mig", "--email", "mig@example.com", "--password", PASSWORD)
    cli("team", "create", "--name", "migteam", "--display-name", "Mig")
    listed = json.loads(cli("user", "list", "--json").stdout)
    assert [(u["username"], u["email"]) for u in listed] == [("mig", "mig@example.com")]
    assert no_services == []
