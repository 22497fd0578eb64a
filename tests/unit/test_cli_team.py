"""``isthmus team create --member`` / ``team add-member`` in-process on a real database: the first admin of
a fresh install gets into a team without the REST API (issue 19)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from isthmus.config import ConfigStore
from isthmus.server import Server
from isthmus.store.repo.access import select_team_member
from isthmus.store.repo.channels import select_user_channel_ids_in_team
from isthmus.store.repo.teams import select_team_by_name
from isthmus.store.repo.users import select_user_by
from tests.testlib.clients import unique
from tests.unit.test_cli_user import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def membership(cli: Cli, team: str, username: str) -> tuple[str | None, int]:
    """(team roles or None, number of the team's channels the user is in)."""
    async def go() -> tuple[str | None, int]:
        server = Server(ConfigStore(cli.config, environ=cli.env))
        await server.start()
        try:
            async with server.db.read() as conn:
                t = await select_team_by_name(conn, team)
                u = await select_user_by(conn, username=username)
                assert t is not None and u is not None
                m = await select_team_member(conn, t["id"], u["id"])
                channels = await select_user_channel_ids_in_team(conn, u["id"], t["id"])
                return (m["roles"] if m and not m["delete_at"] else None), len(channels)
        finally:
            await server.stop()

    return asyncio.run(go())


def test_team_create_with_member_makes_them_team_admin_in_the_default_channels(cli: Cli) -> None:
    admin = unique("adm")
    assert cli.create(admin, "--system-admin").exit_code == 0
    team = unique("t").replace("_", "-")
    result = cli("team", "create", "--name", team, "--display-name", "Main", "--member", admin)
    assert result.exit_code == 0, result.output
    assert f"added {admin} as team admin" in result.stdout
    roles, channels = membership(cli, team, admin)
    assert roles is not None and "team_admin" in roles.split()
    assert channels == 2  # town-square and off-topic


def test_team_create_with_unknown_member_creates_nothing(cli: Cli) -> None:
    team = unique("t").replace("_", "-")
    result = cli("team", "create", "--name", team, "--display-name", "Main", "--member", "nobody-here")
    assert result.exit_code == 1
    assert "There is no user named nobody-here" in result.output
    again = cli("team", "create", "--name", team, "--display-name", "Main")
    assert again.exit_code == 0, again.output  # the name was not taken by the failed attempt


def test_add_member_by_team_name_and_username_is_idempotent(cli: Cli) -> None:
    first, second = unique("a"), unique("b")
    assert cli.create(first).exit_code == 0 and cli.create(second).exit_code == 0
    team = unique("t").replace("_", "-")
    assert cli("team", "create", "--name", team, "--display-name", "Main").exit_code == 0
    for _ in range(2):
        result = cli("team", "add-member", team, first, f"{second}@example.com")
        assert result.exit_code == 0, result.output
        assert f"added {first} to team {team}" in result.stdout
    for name in (first, second):
        roles, channels = membership(cli, team, name)
        assert roles == "team_user"
        assert channels == 2


def test_add_member_unknown_team_says_so(cli: Cli) -> None:
    name = unique("a")
    assert cli.create(name).exit_code == 0
    result = cli("team", "add-member", "no-such-team", name)
    assert result.exit_code == 1
    assert "There is no team named no-such-team" in result.output
