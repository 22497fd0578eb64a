"""``isthmus user create`` / ``user list`` in-process (Typer's runner) on a real database.

The subprocess side of the same contract (with and without a running server, login afterwards) is in
tests/loopback/test_serve.py; these cover the command's own rules and error messages quickly.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from typer.testing import CliRunner, Result

from isthmus.cli import app
from isthmus.config import ConfigStore
from isthmus.server import Server
from isthmus.store.repo.users import select_user_by
from tests.testlib.clients import PASSWORD, unique
from tests.testlib.live import test_database_env as database_env


class Cli:
    """Runs ``isthmus ...`` against one config file and one fresh database (SQLite or PostgreSQL)."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "config.json"
        self.env = {**database_env(tmp), "MM_FILESETTINGS_DIRECTORY": str(tmp / "files"),
                    "ISTHMUS_BCRYPT_COST": "4"}
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, [*args, "--config", str(self.config)], env=self.env)

    def create(self, username: str, *extra: str, password: str | None = PASSWORD) -> Result:
        pw = ["--password", password] if password is not None else []
        return self("user", "create", "--username", username, "--email", f"{username}@Example.com", *pw, *extra)

    def users(self) -> list[dict[str, Any]]:
        result = self("user", "list", "--json")
        assert result.exit_code == 0, result.output
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found

    def stored_user(self, username: str) -> dict[str, Any]:
        async def go() -> dict[str, Any] | None:
            server = Server(ConfigStore(self.config, environ=self.env))
            await server.start()
            try:
                async with server.db.read() as conn:
                    return await select_user_by(conn, username=username)
            finally:
                await server.stop()

        row = asyncio.run(go())
        assert row is not None
        return row


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_create_then_list(cli: Cli) -> None:
    name = unique("cu")
    result = cli.create(name)
    assert result.exit_code == 0, result.output
    assert f"created user {name}" in result.stdout
    assert PASSWORD not in result.output  # a given password is never echoed
    [row] = [u for u in cli.users() if u["username"] == name]
    assert row["email"] == f"{name}@example.com"  # normalised like the API does
    assert len(row["id"]) == 26
    assert row["delete_at"] == 0
    assert bcrypt.checkpw(PASSWORD.encode(), cli.stored_user(name)["password"].encode())


def test_first_user_is_system_admin_later_ones_only_with_the_flag(cli: Cli) -> None:
    first, plain, admin = unique("a"), unique("b"), unique("c")
    for name, extra in ((first, ()), (plain, ()), (admin, ("--system-admin",))):
        result = cli.create(name, *extra)
        assert result.exit_code == 0, result.output
    roles = {u["username"]: set(u["roles"].split()) for u in cli.users()}
    assert roles[first] == {"system_admin", "system_user"}
    assert roles[plain] == {"system_user"}
    assert roles[admin] == {"system_admin", "system_user"}


def test_random_password_is_printed_once_and_is_the_real_password(cli: Cli) -> None:
    name = unique("rp")
    result = cli.create(name, "--random-password", "--system-admin", password=None)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("password:")]
    assert len(lines) == 1
    password = lines[0].split(":", 1)[1].strip()
    assert len(password) >= 16
    assert bcrypt.checkpw(password.encode(), cli.stored_user(name)["password"].encode())


def test_if_empty_creates_only_on_an_empty_database(cli: Cli) -> None:
    first, second = unique("ie"), unique("ie")
    assert cli.create(first, "--if-empty", "--random-password", password=None).exit_code == 0
    result = cli.create(second, "--if-empty", "--random-password", password=None)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # nothing created, no password printed
    assert [u["username"] for u in cli.users()] == [first]


def test_missing_password_is_a_usage_error(cli: Cli) -> None:
    result = cli.create(unique("np"), password=None)
    assert result.exit_code == 2
    assert "--password or --random-password" in result.output
    assert cli.users() == []


@pytest.mark.parametrize(("username", "password", "message"), [
    ("Bad Name", PASSWORD, "Username must begin with a letter"),
    ("ab", PASSWORD, "Username must begin with a letter"),
    ("okname", "short", "at least"),
])
def test_invalid_input_is_refused_with_the_app_error(cli: Cli, username: str, password: str, message: str) -> None:
    result = cli.create(username, password=password)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert cli.users() == []


def test_duplicate_username_or_email_is_refused(cli: Cli) -> None:
    name = unique("dup")
    assert cli.create(name).exit_code == 0
    again = cli.create(name)
    assert again.exit_code == 1
    assert "already exists" in again.output
    same_email = cli("user", "create", "--username", unique("dup"), "--email", f"{name}@example.com",
                     "--password", PASSWORD)
    assert same_email.exit_code == 1
    assert "already exists" in same_email.output
    assert [u["username"] for u in cli.users()] == [name]


def test_broken_config_file_is_reported_not_raised(cli: Cli) -> None:
    cli.config.write_text("{not json")
    result = cli.create(unique("bc"))
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_environment_chooses_the_database(cli: Cli, tmp_path: Path) -> None:
    """Same config file, different MM_SQLSETTINGS_* → a different database (as with `serve`)."""
    name = unique("env")
    assert cli.create(name).exit_code == 0
    other = Cli(tmp_path / "other")
    other.config = cli.config
    assert [u["username"] for u in other.users()] == []
    assert [u["username"] for u in cli.users()] == [name]
