"""Slash commands: bad input over raw httpx (nothing changes after a refusal), the command lists and
autocomplete through the real client, and ``/secure-connection`` with the service off and on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions

from tests.api.channel_support import error_id, make_channel, member_ids, open_team_with
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer

EXECUTE = "/api/v4/commands/execute"
BUILTINS = {"away", "dnd", "echo", "header", "invite", "join", "kick", "leave", "me", "msg", "offline", "online",
            "purpose", "remove", "secure-connection", "share-channel", "shrug"}


@pytest.fixture
def team(user: Person, other: Person) -> dict[str, Any]:
    return open_team_with(user, other)


@pytest.fixture
def chan(user: Person, team: dict[str, Any]) -> dict[str, Any]:
    return make_channel(user, team["id"])


def test_unknown_command_is_404(user: Person, chan: dict[str, Any]) -> None:
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/NoSuchThing with args"})
    assert r.status_code == 404 and error_id(r) == "api.command.execute_command.not_found.app_error"
    assert r.json()["message"].startswith("Command with a trigger of 'nosuchthing' not found.")
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/" + "x" * 600})
    assert r.status_code == 404 and "'" + "x" * 512 + "...'" in r.json()["message"]


@pytest.mark.parametrize("body", [
    {"command": "/", "channel_id": "CHAN"}, {"command": "hello", "channel_id": "CHAN"},
    {"command": "", "channel_id": "CHAN"}, {"command": "/echo hi", "channel_id": "nope"},
    {"command": "/echo hi"}, {"channel_id": "CHAN"},
])
def test_garbage_commands_are_400(user: Person, chan: dict[str, Any], body: dict[str, Any]) -> None:
    body = {k: chan["id"] if v == "CHAN" else v for k, v in body.items()}
    r = user.http.post(EXECUTE, json=body)
    assert r.status_code == 400 and error_id(r) == "api.command.execute_command.start.app_error"


@pytest.mark.parametrize("body", [
    {"command": 42}, {"command": ["/echo"]}, {"team_id": 7}, {"root_id": "not-an-id"}, {"team_id": "zz"},
])
def test_wrong_types_are_400(user: Person, chan: dict[str, Any], body: dict[str, Any]) -> None:
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/echo typed", **body})
    assert r.status_code == 400
    assert error_id(r) in ("api.context.invalid_param.app_error", "api.context.invalid_body_param.app_error")
    for raw in (b"[]", b"{", b"null"):
        assert user.http.post(EXECUTE, content=raw).status_code == 400
    assert user.driver.posts.get_posts_for_channel(chan["id"])["order"] == []


def test_oversize_command_is_refused_before_it_runs(user: Person, chan: dict[str, Any]) -> None:
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/header " + "x" * 16_400})
    assert r.status_code == 400 and error_id(r) == "api.context.invalid_body_param.app_error"
    # Fits as a command, but the shrug it adds makes the post longer than a message may be.
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/shrug " + "x" * 16_376})
    assert r.status_code == 400 and error_id(r) == "api.command.execute_command.create_post_failed.app_error"
    assert "model.post.is_valid.message_length.app_error" in r.json()["detailed_error"]
    assert user.driver.channels.get_channel(chan["id"])["header"] == ""
    assert user.driver.posts.get_posts_for_channel(chan["id"])["order"] == []


def test_channel_the_caller_cannot_use(live: LiveServer, admin: Person, user: Person, other: Person,
                                       team: dict[str, Any]) -> None:
    secret = make_channel(other, team["id"], "P")
    public = make_channel(other, team["id"])
    outsider = make_person(live, admin.http)
    for person, channel_id in ((user, secret["id"]), (outsider, public["id"]), (user, public["id"])):
        r = person.http.post(EXECUTE, json={"channel_id": channel_id, "command": "/header taken over"})
        assert r.status_code == 403 and error_id(r) == "api.context.permissions.app_error"
    r = user.http.post(EXECUTE, json={"channel_id": "a" * 26, "command": "/header nowhere"})
    assert r.status_code == 403
    assert other.driver.channels.get_channel(secret["id"])["header"] == ""
    assert other.driver.channels.get_channel(public["id"])["header"] == ""


def test_archived_channel_and_foreign_team(live: LiveServer, admin: Person, user: Person, other: Person,
                                           team: dict[str, Any], chan: dict[str, Any]) -> None:
    user.driver.channels.delete_channel(chan["id"])
    r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": "/header archived"})
    assert r.status_code == 400 and error_id(r) == "api.command.execute_command.deleted.error"
    foreign = open_team_with(admin)
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    r = user.http.post(EXECUTE, json={"channel_id": dm["id"], "team_id": foreign["id"], "command": "/header x"})
    assert r.status_code == 403
    assert user.driver.channels.get_channel(dm["id"])["header"] == ""


def test_missing_arguments_change_nothing(user: Person, other: Person, chan: dict[str, Any]) -> None:
    user.driver.channels.add_channel_member(chan["id"], user_id=other.id)
    texts = {"/kick": "A message must be provided with the /remove or /kick command.",
             "/kick   ": "We couldn't find the user. They may have been deactivated by the System Administrator.",
             "/invite": "Missing Username and/or Channel.", "/msg": "Unable to find the user.",
             "/echo": "A message must be provided with the /echo command."}
    for command, text in texts.items():
        r = user.http.post(EXECUTE, json={"channel_id": chan["id"], "command": command})
        assert r.status_code == 200 and r.json()["text"] == text, command
    assert member_ids(user, chan["id"]) == {user.id, other.id}
    assert user.driver.posts.get_posts_for_channel(chan["id"])["order"] == []


# --- lists and autocomplete ------------------------------------------------------------------------

def test_list_commands(user: Person, admin: Person, team: dict[str, Any]) -> None:
    listed = user.driver.commands.list_commands(team_id=team["id"])
    assert {c["trigger"] for c in listed} == BUILTINS
    join = next(c for c in listed if c["trigger"] == "join")
    assert join == {"id": "", "token": "", "create_at": 0, "update_at": 0, "delete_at": 0, "creator_id": "",
                    "team_id": "", "trigger": "join", "method": "", "username": "", "icon_url": "",
                    "auto_complete": True, "auto_complete_desc": "Join the open channel",
                    "auto_complete_hint": "~[channel]", "display_name": "join", "description": "", "url": "",
                    "plugin_id": ""}
    sc = next(c for c in listed if c["trigger"] == "secure-connection")
    assert [s["Trigger"] for s in sc["autocomplete_data"]["SubCommands"]] == ["create", "accept", "remove", "status"]
    assert user.driver.commands.list_autocomplete_commands(team["id"]) == listed
    with pytest.raises(NotEnoughPermissions):
        user.driver.commands.list_commands(team_id=team["id"], custom_only=True)  # no manage_own_slash_commands
    assert admin.driver.commands.list_commands(team_id=team["id"], custom_only=True) == []
    assert user.http.get("/api/v4/commands").status_code == 400
    assert user.http.get("/api/v4/commands", params={"team_id": "bad"}).status_code == 400
    foreign = open_team_with(admin)
    assert user.http.get("/api/v4/commands", params={"team_id": foreign["id"]}).status_code == 403
    assert user.http.get(f"/api/v4/teams/{foreign['id']}/commands/autocomplete").status_code == 403


def test_autocomplete_suggestions(user: Person, admin: Person, team: dict[str, Any]) -> None:
    def suggest(text: str) -> list[dict[str, str]]:
        out: list[dict[str, str]] = user.driver.commands.list_command_autocomplete_suggestions(team["id"], text)
        return out

    assert suggest("/jo") == [{"Complete": "join", "Suggestion": "join", "Hint": "~[channel]",
                               "Description": "Join the open channel", "IconData": ""}]
    assert [s["Suggestion"] for s in suggest("/o")] == ["offline", "online"]
    assert [s["Complete"] for s in suggest("/secure-connection ")] == [
        "secure-connection create", "secure-connection accept", "secure-connection remove", "secure-connection status"]
    got = suggest("secure-connection create --name acme --pass")
    assert [s["Suggestion"] for s in got] == ["--password"]
    assert got[0]["Complete"] == "secure-connection create --name acme --password "
    assert suggest("/nothing-like-this") == []
    with pytest.raises(InvalidOrMissingParameters):
        suggest("")
    foreign = open_team_with(admin)
    r = user.http.get(f"/api/v4/teams/{foreign['id']}/commands/autocomplete_suggestions", params={"user_input": "/j"})
    assert r.status_code == 403


# --- /secure-connection ----------------------------------------------------------------------------

def test_connected_commands_with_the_services_off(admin: Person, user: Person, team: dict[str, Any],
                                                chan: dict[str, Any]) -> None:
    admin.driver.teams.add_team_member(team["id"], user_id=admin.id)
    admin.driver.channels.add_channel_member(chan["id"], user_id=admin.id)
    resp = admin.driver.commands.execute_command(channel_id=chan["id"], command="/secure-connection status")
    assert resp["response_type"] == "ephemeral" and resp["text"] == "Secure Connection Service not enabled."
    resp = user.driver.commands.execute_command(channel_id=chan["id"], command="/secure-connection status")
    assert resp["text"] == "You require `manage_secure_connections` permission to manage secure connections."
    resp = admin.driver.commands.execute_command(channel_id=chan["id"], command="/share-channel status")
    assert resp["text"] == "Shared Channels Service is disabled."


@pytest.fixture(scope="module")
def enabled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true"}
    server = LiveServer(Path(tmp_path_factory.mktemp("cmds")), extra_env=env).start()
    yield server
    server.stop()


def test_secure_connection_with_the_service_on(enabled: LiveServer) -> None:
    boss = make_person(enabled, username=unique("boss"))  # first account: system admin
    team = boss.driver.teams.create_team(name=unique("t"), display_name="T", type="O")
    here = boss.driver.channels.get_channel_by_name(team["id"], "town-square")["id"]

    def slash(args: str) -> str:
        r = boss.http.post(EXECUTE, json={"channel_id": here, "command": f"/secure-connection {args}".rstrip()})
        assert r.status_code == 200 and r.json()["response_type"] == "ephemeral", r.text
        return str(r.json()["text"])

    assert slash("status") == "** No secure connections found. **"
    bad = {"": "Missing command. Available actions: create, accept, remove, status",
           "bogus --name x": "Unknown action `bogus`",
           "create --name --password pw": "Missing or empty `name`",
           "create --name acme --password": "Missing or empty `password`",
           "create --password pw --displayname Acme": "Missing or empty `name`",
           "accept --name acme --password pw": "Missing or empty `invite`",
           "remove": "Missing or empty `remoteId`"}
    for args, text in bad.items():
        assert slash(args) == text, args
    assert boss.driver.remote_clusters.get_remote_clusters(include_deleted=True) == []
    assert slash("create --name acme --password 'pw'").startswith("##### Invitation created.\n")
    [rc] = boss.driver.remote_clusters.get_remote_clusters()
    assert rc["name"] == "acme" and rc["display_name"] == "acme"
    assert rc["remote_id"] in slash("status")
    got = boss.driver.commands.list_command_autocomplete_suggestions(team["id"],
                                                                     "/secure-connection remove --connectionID ")
    assert [s["Suggestion"] for s in got] == [rc["remote_id"]]
    assert slash(f"remove --connectionID {rc['remote_id']}") == f"##### Secure connection {rc['remote_id']} removed."
    assert boss.driver.remote_clusters.get_remote_clusters() == []
