"""Teams and team members through mattermostautodriver, plus malformed input over raw httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions, ResourceNotFound
from typer.testing import CliRunner, Result

from isthmus.cli import app
from isthmus.config import ConfigStore
from isthmus.core.events import Event
from isthmus.server import Server
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import teams as teams_repo
from tests.api.channel_support import captured_events, error_id, set_counters
from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer
from tests.testlib.live import test_database_env as database_env


@pytest.fixture
def events(live: LiveServer) -> Iterator[list[Event]]:
    with captured_events(live) as seen:
        yield seen


def make_team(owner: Person, type_: str = "O") -> dict[str, Any]:
    team: dict[str, Any] = owner.driver.teams.create_team(name=unique("t"), display_name="Team", type=type_)
    return team


def channel_by_name(person: Person, team_id: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = person.driver.channels.get_channel_by_name(team_id, name)
    return found


def all_team_ids(person: Person) -> set[str]:
    """Every team the person may list, across pages (the session's server holds many teams)."""
    ids: set[str] = set()
    for page in range(1000):
        batch = person.driver.teams.get_all_teams(page=page, per_page=200)
        ids |= {t["id"] for t in batch}
        if len(batch) < 200:
            return ids
    raise AssertionError("too many pages")


def test_create_team_makes_creator_admin_and_default_channels(user: Person, events: list[Event]) -> None:
    name = unique("t")
    team = user.driver.teams.create_team(name=name, display_name="Alpha Team", type="O")
    assert (team["name"], team["display_name"], team["type"], team["delete_at"]) == (name, "Alpha Team", "O", 0)
    assert team["allow_open_invite"] is True and len(team["id"]) == 26
    member = user.driver.teams.get_team_member(team["id"], "me")
    assert member["roles"] == "team_user team_admin" and member["scheme_admin"] is True
    for channel_name in ("town-square", "off-topic"):
        ch = channel_by_name(user, team["id"], channel_name)
        assert ch["type"] == "O" and ch["team_id"] == team["id"]
        assert user.driver.channels.get_channel_member(ch["id"], "me")["roles"] == "channel_user channel_admin"
    added = [e for e in events if e.kind == "added_to_team"]
    assert [(e.user_id, e.data) for e in added] == [(user.id, {"team_id": team["id"], "user_id": user.id})]


@pytest.mark.parametrize("bad_name", ["Upper", "1team", "a", "x" * 65, "under_score", "sp ace", "-lead", ""])
def test_invalid_team_names_are_refused(user: Person, bad_name: str) -> None:
    r = user.http.post("/api/v4/teams", json={"name": bad_name, "display_name": "X", "type": "O"})
    assert r.status_code == 400
    assert error_id(r) == "model.team.is_valid.url.app_error"
    if bad_name:
        assert user.http.get(f"/api/v4/teams/name/{bad_name}/exists").json() == {"exists": False}


@pytest.mark.parametrize("reserved", ["admin", "api", "login", "signup", "oauth", "plugins", "error", "help",
                                      "static"])
def test_reserved_team_names_are_refused(user: Person, reserved: str) -> None:
    r = user.http.post("/api/v4/teams", json={"name": reserved, "display_name": "X", "type": "O"})
    assert r.status_code == 400
    assert error_id(r) == "model.team.is_valid.reserved.app_error"
    assert user.driver.teams.team_exists(reserved) == {"exists": False}


def test_team_bad_bodies(user: Person) -> None:
    name = unique("t")
    cases: list[tuple[Any, str]] = [
        ({"name": name, "display_name": "x" * 65, "type": "O"}, "model.team.is_valid.name.app_error"),
        ({"name": name, "display_name": "", "type": "O"}, "model.team.is_valid.name.app_error"),
        ({"name": name, "type": "O"}, "model.team.is_valid.name.app_error"),
        ({"name": name, "display_name": 7, "type": "O"}, "model.team.is_valid.name.app_error"),
        ({"name": 12345, "display_name": "X", "type": "O"}, "model.team.is_valid.url.app_error"),
        ({"name": name, "display_name": "X", "type": "Z"}, "model.team.is_valid.type.app_error"),
        ({"name": name, "display_name": "X", "description": "d" * 256}, "model.team.is_valid.description.app_error"),
        ([name], "api.context.invalid_body_param.app_error"),
    ]
    for body, expected in cases:
        r = user.http.post("/api/v4/teams", json=body)
        assert r.status_code == 400, body
        assert error_id(r) == expected, body
    r = user.http.post("/api/v4/teams", content=b'{"name": "abc", ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_id(r) == "api.context.invalid_body_param.app_error"
    assert user.driver.teams.team_exists(name) == {"exists": False}


def test_duplicate_team_name_is_400(user: Person, other: Person) -> None:
    team = make_team(user)
    r = other.http.post("/api/v4/teams", json={"name": team["name"], "display_name": "Copy", "type": "O"})
    assert r.status_code == 400 and error_id(r) == "app.team.save.existing.app_error"
    assert user.driver.teams.get_team_by_name(team["name"])["display_name"] == "Team"


def test_create_team_needs_create_team_permission(user: Person, admin: Person) -> None:
    role = admin.driver.roles.get_role_by_name("system_user")
    perms = role["permissions"]
    admin.driver.roles.patch_role(role["id"], permissions=[p for p in perms if p != "create_team"])
    try:
        name = unique("t")
        with pytest.raises(NotEnoughPermissions):
            user.driver.teams.create_team(name=name, display_name="X", type="O")
        assert admin.driver.teams.team_exists(name) == {"exists": False}
    finally:
        admin.driver.roles.patch_role(role["id"], permissions=perms)


def test_list_teams_shows_open_and_own_but_not_others_invite_only(user: Person, other: Person,
                                                                  admin: Person) -> None:
    open_team, private_team, mine = make_team(other), make_team(other, "I"), make_team(user, "I")
    seen = all_team_ids(user)
    assert open_team["id"] in seen and mine["id"] in seen and private_team["id"] not in seen
    admin_seen = all_team_ids(admin)
    assert {open_team["id"], private_team["id"], mine["id"]} <= admin_seen
    r = user.http.get("/api/v4/teams", params={"include_total_count": "true", "per_page": 1})
    body = r.json()
    assert len(body["teams"]) == 1 and body["total_count"] >= 2
    assert user.http.get("/api/v4/teams", params={"per_page": "x"}).status_code == 400


def test_get_team_visibility_and_sanitising(user: Person, other: Person, admin: Person) -> None:
    open_team, private_team = make_team(other), make_team(other, "I")
    seen = user.driver.teams.get_team(open_team["id"])
    assert seen["name"] == open_team["name"] and seen["invite_id"] == "" and seen["email"] == ""
    assert other.driver.teams.get_team(open_team["id"])["invite_id"] == open_team["invite_id"] != ""
    assert other.driver.teams.get_team(open_team["id"])["email"] == f"{other.username}@example.com"
    other.driver.teams.add_team_member(open_team["id"], user_id=user.id)
    as_member = user.driver.teams.get_team(open_team["id"])
    assert as_member["invite_id"] == open_team["invite_id"] and as_member["email"] == ""
    r = user.http.get(f"/api/v4/teams/{private_team['id']}")
    assert r.status_code == 403 and private_team["name"] not in r.text
    with pytest.raises(NotEnoughPermissions):
        user.driver.teams.get_team_by_name(private_team["name"])
    assert admin.driver.teams.get_team(private_team["id"])["id"] == private_team["id"]
    assert user.driver.teams.get_team_by_name(open_team["name"])["id"] == open_team["id"]
    assert user.driver.teams.team_exists(private_team["name"]) == {"exists": True}
    with pytest.raises(ResourceNotFound):
        user.driver.teams.get_team("a" * 26)
    with pytest.raises(ResourceNotFound):
        user.driver.teams.get_team_by_name(unique("nope"))
    assert user.http.get("/api/v4/teams/not-an-id").status_code == 400


def test_patch_team(user: Person, other: Person, events: list[Event]) -> None:
    team = make_team(user)
    user.driver.teams.add_team_member(team["id"], user_id=other.id)
    patched = user.driver.teams.patch_team(team["id"], display_name="Renamed", description="about")
    assert (patched["display_name"], patched["description"]) == ("Renamed", "about")
    updates = [e for e in events if e.kind == "update_team"]
    assert updates and updates[-1].team_id == team["id"] and '"display_name":"Renamed"' in updates[-1].data["team"]
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.patch_team(team["id"], display_name="Hijacked")
    r = user.http.put(f"/api/v4/teams/{team['id']}/patch", json={"display_name": "y" * 65})
    assert r.status_code == 400
    r = user.http.put(f"/api/v4/teams/{team['id']}/patch", json={"allow_open_invite": "yes"})
    assert r.status_code == 400
    r = user.http.put(f"/api/v4/teams/{team['id']}/patch", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert user.driver.teams.get_team(team["id"])["display_name"] == "Renamed"
    private = user.driver.teams.patch_team(team["id"], allow_open_invite=False)
    assert (private["type"], private["allow_open_invite"]) == ("I", False)


def test_soft_delete_team(user: Person, other: Person, admin: Person, events: list[Event]) -> None:
    team = make_team(user)
    user.driver.teams.add_team_member(team["id"], user_id=other.id)
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.soft_delete_team(team["id"])
    assert user.driver.teams.get_team(team["id"])["delete_at"] == 0
    r = user.http.delete(f"/api/v4/teams/{team['id']}", params={"permanent": "true"})
    assert r.status_code == 403
    assert user.driver.teams.soft_delete_team(team["id"]) == {"status": "OK"}
    assert admin.driver.teams.get_team(team["id"])["delete_at"] > 0
    assert team["id"] not in {t["id"] for t in user.driver.teams.get_teams_for_user("me")}
    assert any(e.kind == "delete_team" and e.team_id == team["id"] for e in events)
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.channels.create_channel(team_id=team["id"], name=unique("c"), display_name="C", type="O")


def test_teams_and_members_for_user(user: Person, other: Person, admin: Person) -> None:
    team = make_team(user)
    assert team["id"] in {t["id"] for t in user.driver.teams.get_teams_for_user("me")}
    members = user.driver.teams.get_team_members_for_user(user.id)
    assert {(m["team_id"], m["roles"]) for m in members} >= {(team["id"], "team_user team_admin")}
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.get_teams_for_user(user.id)
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.get_team_members_for_user(user.id)
    assert team["id"] in {t["id"] for t in admin.driver.teams.get_teams_for_user(user.id)}
    assert user.http.get("/api/v4/users/bad/teams").status_code == 400


def test_team_unreads_follow_channel_counters(live: LiveServer, user: Person) -> None:
    team = make_team(user)
    town = channel_by_name(user, team["id"], "town-square")
    unread = {u["team_id"]: u for u in user.driver.teams.get_teams_unread_for_user("me", exclude_team="")}
    assert unread[team["id"]]["msg_count"] == 0 and unread[team["id"]]["mention_count"] == 0
    set_counters(live, town["id"], 3)
    unread = {u["team_id"]: u for u in user.driver.teams.get_teams_unread_for_user("me", exclude_team="")}
    assert unread[team["id"]]["msg_count"] == 3
    user.driver.channels.view_channel("me", channel_id=town["id"])
    unread = {u["team_id"]: u for u in user.driver.teams.get_teams_unread_for_user("me", exclude_team="")}
    assert unread[team["id"]]["msg_count"] == 0
    excluded = user.driver.teams.get_teams_unread_for_user("me", exclude_team=team["id"])
    assert team["id"] not in {u["team_id"] for u in excluded}


def test_team_members_listing(user: Person, other: Person, admin: Person) -> None:
    team = make_team(user, "I")
    user.driver.teams.add_team_member(team["id"], user_id=other.id)
    members = user.driver.teams.get_team_members(team["id"])
    assert {m["user_id"] for m in members} == {user.id, other.id}
    page = user.driver.teams.get_team_members(team["id"], page=1, per_page=1)
    assert len(page) == 1 and page[0]["user_id"] in {user.id, other.id}
    assert other.driver.teams.get_team_member(team["id"], other.id)["roles"] == "team_user"
    with pytest.raises(NotEnoughPermissions):
        admin_less = make_team(other, "I")
        user.driver.teams.get_team_members(admin_less["id"])
    with pytest.raises(ResourceNotFound):
        user.driver.teams.get_team_member(team["id"], admin.id)
    assert user.http.get(f"/api/v4/teams/{team['id']}/members/nonsense").status_code == 400


def test_join_open_team_joins_default_channels(user: Person, other: Person, events: list[Event]) -> None:
    team = make_team(user)
    member = other.driver.teams.add_team_member(team["id"], user_id=other.id)
    assert (member["team_id"], member["user_id"], member["roles"]) == (team["id"], other.id, "team_user")
    town = channel_by_name(other, team["id"], "town-square")
    off = channel_by_name(other, team["id"], "off-topic")
    assert other.driver.channels.get_channel_member(town["id"], "me")["roles"] == "channel_user"
    assert other.driver.channels.get_channel_member(off["id"], "me")["user_id"] == other.id
    assert any(e.kind == "added_to_team" and e.user_id == other.id and e.data == {"team_id": team["id"],
                                                                                  "user_id": other.id}
               for e in events)
    joined = {e.channel_id for e in events if e.kind == "user_added" and e.data["user_id"] == other.id}
    assert joined == {town["id"], off["id"]}
    again = other.driver.teams.add_team_member(team["id"], user_id=other.id)
    assert again["user_id"] == other.id
    assert len([m for m in user.driver.teams.get_team_members(team["id"]) if m["user_id"] == other.id]) == 1


def test_add_member_permissions_and_bad_input(user: Person, other: Person, admin: Person) -> None:
    invite_only = make_team(user, "I")
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.add_team_member(invite_only["id"], user_id=other.id)
    stranger_team = make_team(admin)
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.add_team_member(stranger_team["id"], user_id=user.id)
    base = f"/api/v4/teams/{invite_only['id']}/members"
    assert user.http.post(base, json={"team_id": stranger_team["id"], "user_id": other.id}).status_code == 400
    assert user.http.post(base, json={"user_id": 5}).status_code == 400
    assert user.http.post(base, json={"user_id": "short"}).status_code == 400
    assert user.http.post(base, content=b"[", headers={"Content-Type": "application/json"}).status_code == 400
    assert user.http.post(base, json={"user_id": "a" * 26}).status_code == 404
    assert user.http.post("/api/v4/teams/" + "b" * 26 + "/members", json={"user_id": other.id}).status_code == 404
    assert {m["user_id"] for m in user.driver.teams.get_team_members(invite_only["id"])} == {user.id}
    added = user.driver.teams.add_team_member(invite_only["id"], user_id=other.id)
    assert added["roles"] == "team_user"


def test_batch_add(user: Person, other: Person, admin: Person) -> None:
    team = make_team(user, "I")
    added = user.driver.teams.add_team_members(team["id"], [{"team_id": team["id"], "user_id": other.id},
                                                            {"team_id": team["id"], "user_id": admin.id}])
    assert {m["user_id"] for m in added} == {other.id, admin.id}
    team2 = make_team(user, "I")
    r = user.http.post(f"/api/v4/teams/{team2['id']}/members/batch",
                       json=[{"team_id": team2["id"], "user_id": other.id},
                             {"team_id": team2["id"], "user_id": "c" * 26}])
    assert r.status_code == 404
    assert {m["user_id"] for m in user.driver.teams.get_team_members(team2["id"])} == {user.id}  # all or nothing
    results = user.driver.teams.add_team_members(team2["id"], [{"team_id": team2["id"], "user_id": other.id},
                                                               {"team_id": team2["id"], "user_id": "c" * 26}],
                                                 graceful=True)
    assert results[0]["member"]["user_id"] == other.id and results[0]["error"] is None
    assert results[1]["member"] is None and results[1]["error"]["status_code"] == 404
    assert user.http.post(f"/api/v4/teams/{team2['id']}/members/batch", json={"user_id": other.id}).status_code == 400


def test_leave_team_removes_channel_memberships(user: Person, other: Person, events: list[Event]) -> None:
    team = make_team(user)
    other.driver.teams.add_team_member(team["id"], user_id=other.id)
    private = other.driver.channels.create_channel(team_id=team["id"], name=unique("p"), display_name="P", type="P")
    assert other.driver.teams.remove_team_member(team["id"], other.id) == {"status": "OK"}
    left_events = {(e.team_id, e.user_id) for e in events if e.kind == "leave_team"
                   and e.data == {"team_id": team["id"], "user_id": other.id}}
    assert left_events == {(team["id"], ""), ("", other.id)}
    assert other.id not in {m["user_id"] for m in user.driver.teams.get_team_members(team["id"])}
    town = channel_by_name(user, team["id"], "town-square")
    assert other.id not in {m["user_id"] for m in user.driver.channels.get_channel_members(town["id"])}
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.get_channel(private["id"])
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.get_channels_for_team_for_user("me", team["id"])
    left = user.driver.teams.get_team_member(team["id"], other.id)
    assert left["delete_at"] > 0
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.teams.remove_team_member(team["id"], other.id)
    rejoined = other.driver.teams.add_team_member(team["id"], user_id=other.id)
    assert rejoined["delete_at"] == 0 and rejoined["roles"] == "team_user"
    assert other.driver.channels.get_channel_member(town["id"], "me")["user_id"] == other.id


def test_remove_other_needs_permission(user: Person, other: Person, admin: Person) -> None:
    team = make_team(user)
    other.driver.teams.add_team_member(team["id"], user_id=other.id)
    admin.driver.teams.add_team_member(team["id"], user_id=admin.id)
    with pytest.raises(NotEnoughPermissions):
        other.driver.teams.remove_team_member(team["id"], admin.id)
    assert admin.id in {m["user_id"] for m in user.driver.teams.get_team_members(team["id"])}
    assert user.driver.teams.remove_team_member(team["id"], admin.id) == {"status": "OK"}
    assert admin.id not in {m["user_id"] for m in user.driver.teams.get_team_members(team["id"])}
    assert user.http.delete(f"/api/v4/teams/{team['id']}/members/xyz").status_code == 400


def test_cli_team_create(tmp_path: Path) -> None:
    """``isthmus team create`` on its own database: default channels, no members, validation errors."""
    env = {**database_env(tmp_path), "MM_FILESETTINGS_DIRECTORY": str(tmp_path / "files")}
    config = tmp_path / "config.json"

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["team", "create", *args, "--config", str(config)], env=env)

    ok = run("--name", "alpha", "--display-name", "Alpha", "--type", "I")
    assert ok.exit_code == 0 and "created team alpha" in ok.output, ok.output
    dup = run("--name", "alpha", "--display-name", "Again")
    assert dup.exit_code == 1 and "app.team.save.existing.app_error" in dup.output
    reserved = run("--name", "admin", "--display-name", "X")
    assert reserved.exit_code == 1 and "model.team.is_valid.reserved.app_error" in reserved.output
    bad_type = run("--name", "beta", "--display-name", "X", "--type", "Z")
    assert bad_type.exit_code == 1 and "model.team.is_valid.type.app_error" in bad_type.output

    async def stored() -> tuple[dict[str, Any] | None, list[str], int]:
        server = Server(ConfigStore(config, environ=env))
        await server.start()
        try:
            async with server.db.read() as conn:
                team = await teams_repo.select_team_by_name(conn, "alpha")
                assert team is not None
                chans = await channels_repo.select_team_channels(conn, team["id"], types=("O", "P"), offset=0,
                                                                 limit=10)
                members = await teams_repo.count_team_members(conn, team["id"])
                beta = await teams_repo.select_team_by_name(conn, "beta")
            return team | {"beta": beta}, sorted(c["name"] for c in chans), members
        finally:
            await server.stop()

    team, channel_names, member_count = asyncio.run(stored())
    assert team is not None and (team["type"], team["allow_open_invite"], team["beta"]) == ("I", False, None)
    assert channel_names == ["off-topic", "town-square"] and member_count == 0
