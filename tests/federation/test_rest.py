"""Admin REST for secure connections through the real client (mattermostautodriver) against two live
servers on loopback ports, plus the slash command and the ``isthmus connection`` CLI on the same pair."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mattermostautodriver.exceptions import (
    FeatureDisabled,
    InvalidOrMissingParameters,
    NotEnoughPermissions,
    ResourceNotFound,
)
from typer.testing import CliRunner

from isthmus.cli import app as cli_app
from isthmus.commands.connected import format_timestamp, parse_named_args, secure_connection
from isthmus.domain.models import Actor
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.cluster import FAST
from tests.testlib.live import LiveServer

ENABLED = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true"}


class Site:
    def __init__(self, live: LiveServer, admin: Person, team_id: str) -> None:
        self.live, self.admin, self.team_id = live, admin, team_id
        self.actor = Actor(user_id=admin.id, roles="system_user system_admin")

    def slash(self, args: str) -> str:
        return self.live.run(secure_connection(self.live.server.connections, self.actor, args))

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.admin.driver.remote_clusters.get_remote_clusters(include_deleted=True)
        return out

    def online(self, remote_id: str) -> bool:
        listed = self.admin.driver.remote_clusters.get_remote_clusters(exclude_offline=True)
        return remote_id in {r["remote_id"] for r in listed}


def _site(tmp: Path, name: str) -> Site:
    live = LiveServer(tmp / name, extra_env=ENABLED)
    live.server.connections.configure(FAST)
    live.start()
    admin = make_person(live, username=f"admin{name}")
    team = admin.driver.teams.create_team(name=unique("team"), display_name="Team", type="O")
    return Site(live, admin, team["id"])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site]]:
    tmp = Path(tmp_path_factory.mktemp("pair"))
    alpha, beta = _site(tmp, "alpha"), _site(tmp, "beta")
    yield alpha, beta
    beta.live.stop()
    alpha.live.stop()


def wait_for(predicate: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_driver_create_accept_get_list_delete(pair: tuple[Site, Site]) -> None:
    alpha, beta = pair
    name = unique("beta")
    created = alpha.admin.driver.remote_clusters.create_remote_cluster(name=name, default_team_id=alpha.team_id,
                                                                       display_name="Beta Inc")
    rc, code, password = created["remote_cluster"], created["invite"], created["password"]
    assert len(password) == 16 and password.isalnum()  # generated because none was sent
    assert rc["site_url"].startswith("pending_") and rc["token"] == "" and rc["remote_token"] == ""
    assert rc["display_name"] == "Beta Inc" and rc["default_team_id"] == alpha.team_id
    assert rc["remote_id"] in {r["remote_id"] for r in alpha.admin.driver.remote_clusters.get_remote_clusters()}
    assert rc["remote_id"] not in {r["remote_id"] for r in alpha.admin.driver.remote_clusters.get_remote_clusters(
        only_confirmed=True)}

    accepted = beta.admin.driver.remote_clusters.accept_remote_cluster_invite(
        invite=code, name=unique("alpha"), default_team_id=beta.team_id, password=password)
    assert accepted["remote_id"] == rc["remote_id"] and accepted["site_url"] == alpha.live.url
    assert accepted["token"] == "" and accepted["remote_token"] == ""
    wait_for(lambda: alpha.online(rc["remote_id"]) and beta.online(rc["remote_id"]))
    got = alpha.admin.driver.remote_clusters.get_remote_cluster(rc["remote_id"])
    assert got["site_url"] == beta.live.url and got["last_ping_at"] > 0

    assert alpha.admin.driver.remote_clusters.delete_remote_cluster(rc["remote_id"]) == {"status": "OK"}
    assert alpha.admin.driver.remote_clusters.get_remote_cluster(rc["remote_id"])["delete_at"] > 0
    wait_for(lambda: not beta.online(rc["remote_id"]))
    with pytest.raises(ResourceNotFound):
        alpha.admin.driver.remote_clusters.delete_remote_cluster(rc["remote_id"])


def test_patch_and_generate_invite_with_raw_http(pair: tuple[Site, Site]) -> None:
    alpha, _ = pair
    created = alpha.admin.driver.remote_clusters.create_remote_cluster(name=unique("x"), password="pw1",
                                                                       default_team_id=alpha.team_id)
    assert "password" not in created  # only returned when generated
    rid = created["remote_cluster"]["remote_id"]
    r = alpha.admin.http.patch(f"/api/v4/remotecluster/{rid}", json={"display_name": "Renamed"})
    assert r.status_code == 200 and r.json()["display_name"] == "Renamed" and r.json()["token"] == ""
    r = alpha.admin.http.post(f"/api/v4/remotecluster/{rid}/generate_invite", json={"password": "pw2"})
    assert r.status_code == 201 and isinstance(r.json(), str)
    r = alpha.admin.http.post(f"/api/v4/remotecluster/{rid}/generate_invite", json={"password": ""})
    assert r.status_code == 400


@pytest.mark.parametrize(("body", "status"), [
    ({}, 400), ({"name": "ok"}, 400), ({"name": "bad name!", "default_team_id": "TEAM"}, 400),
    ({"name": "x" * 65, "default_team_id": "TEAM"}, 400), ({"name": "ok", "default_team_id": "a" * 26}, 400),
    ({"name": "ok", "default_team_id": "TEAM", "password": 5}, 400), ([], 400)])
def test_create_rejects_bad_input(pair: tuple[Site, Site], body: Any, status: int) -> None:
    alpha, _ = pair
    if isinstance(body, dict) and body.get("default_team_id") == "TEAM":
        body["default_team_id"] = alpha.team_id
    before = len(alpha.rows())
    r = alpha.admin.http.post("/api/v4/remotecluster", json=body)
    assert r.status_code == status, r.text
    assert len(alpha.rows()) == before


def test_accept_rejects_bad_input_through_the_driver(pair: tuple[Site, Site]) -> None:
    _, beta = pair
    with pytest.raises(InvalidOrMissingParameters) as info:
        beta.admin.driver.remote_clusters.accept_remote_cluster_invite(
            invite="garbage!!", name="x", default_team_id=beta.team_id, password="pw")
    assert "base64" in str(info.value.args) or "base64" in repr(info.value)
    with pytest.raises(InvalidOrMissingParameters):
        beta.admin.driver.remote_clusters.accept_remote_cluster_invite(
            invite="AAAA", name="x", default_team_id="a" * 26, password="pw")


def test_plain_users_are_forbidden(pair: tuple[Site, Site]) -> None:
    alpha, _ = pair
    user = make_person(alpha.live, alpha.admin.http)
    with pytest.raises(NotEnoughPermissions):
        user.driver.remote_clusters.get_remote_clusters()
    with pytest.raises(NotEnoughPermissions):
        user.driver.remote_clusters.create_remote_cluster(name="x", default_team_id=alpha.team_id)
    r = user.http.post("/api/v4/remotecluster", content=b"not json")
    assert r.status_code == 403  # permission is checked before the body
    text = alpha.live.run(secure_connection(alpha.live.server.connections,
                                            Actor(user_id=user.id, roles="system_user"), "status"))
    assert text == "You require `manage_secure_connections` permission to manage secure connections."


def test_disabled_service_answers_501_to_the_driver(admin: Person) -> None:
    """The shared live server runs with EnableRemoteClusterService at its default (off)."""
    with pytest.raises(FeatureDisabled):
        admin.driver.remote_clusters.get_remote_clusters()
    r = admin.http.post("/api/v4/remotecluster/accept_invite", json={})
    assert (r.status_code, r.json()["id"]) == (501, "api.remote_cluster.service_not_enabled.app_error")


def test_slash_command_create_accept_status_remove(pair: tuple[Site, Site]) -> None:
    alpha, beta = pair
    assert alpha.slash("") == "Missing command. Available actions: create, accept, remove, status"
    assert alpha.slash("frobnicate") == "Unknown action `frobnicate`"
    assert alpha.slash("create --name x") == "Missing or empty `password`"
    assert alpha.slash("create --password pw") == "Missing or empty `name`"
    name = unique("slashbeta")
    out = alpha.slash(f'create --name {name} --displayname "Beta" --password pw')
    assert out.startswith("##### Invitation created.\nSend the following AES 256-bit encrypted invitation")
    assert "`/secure-connection accept`" in out and out.endswith(alpha.live.url)
    code = out.split("```\n")[1].split("\n```")[0]
    assert beta.slash(f"accept --name a --password wrong --invite {code}").startswith(
        "Could not decode invitation: ")
    assert beta.slash("accept --name a --password pw").startswith("Missing or empty `invite`")
    alpha_name = unique("slashalpha")
    out = beta.slash(f"accept --name {alpha_name} --password pw --invite {code}")
    assert out == f"##### Invitation accepted and confirmed.\nSiteURL: {alpha.live.url}"
    rid = next(r["remote_id"] for r in beta.rows() if r["name"] == alpha_name)
    assert next(r for r in beta.rows() if r["remote_id"] == rid)["default_team_id"] == ""
    wait_for(lambda: alpha.online(rid) and beta.online(rid))

    status = alpha.slash("status").splitlines()
    assert status[0] == ("| Secure connection | Display name | Connection ID | Site URL | Default Team "
                         "| Invite accepted | Online | Last ping | Deleted | ")
    assert status[1] == "| :---- | :---- | :---- | :---- | :---- | :---- | :---- | :---- | | :---- |"
    row = next(line for line in status if rid in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == [name, "Beta", rid, beta.live.url]
    assert cells[5:7] == ["True", "True"] and cells[8] == "False" and cells[7].startswith("Today ")

    assert alpha.slash(f"remove --connectionID {rid}") == f"##### Secure connection {rid} removed."
    assert alpha.slash(f"remove --connectionID {rid}") == f"##### Secure connection {rid} **NOT FOUND**."
    assert alpha.slash("remove") == "Missing or empty `remoteId`"
    row = next(line for line in alpha.slash("status").splitlines() if rid in line)
    assert row.rstrip().endswith("| True |")  # deleted ones are listed
    wait_for(lambda: not beta.online(rid))


def test_parse_named_args_and_timestamps() -> None:
    assert parse_named_args('create --name "acme" --displayname \'Acme\' --password') == {
        "-action": "create", "name": "acme", "displayname": "Acme", "password": ""}
    assert parse_named_args("--name x") == {"name": "x"}
    assert format_timestamp(0) == "--"
    assert format_timestamp(1_000_000_000_000).startswith("Sep 9 ")


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli_app, ["connection", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_create_accept_status_regenerate_remove(pair: tuple[Site, Site]) -> None:
    alpha, beta = pair
    auth_a = ["--url", alpha.live.url, "--token", alpha.admin.token]
    auth_b = ["--url", beta.live.url, "--login", beta.admin.username, "--password", "Passw0rd!long"]
    out = _cli("create", "--name", unique("clibeta"), *auth_a)
    code = next(line for line in out.splitlines() if len(line) > 100 and " " not in line)
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    rid = next(r["remote_id"] for r in alpha.rows() if r["site_url"].startswith("pending_") and
               r["name"].startswith("clibeta"))
    regenerated = _cli("regenerate", rid, "--invite-password", "second", *auth_a).strip()
    assert regenerated != code and len(regenerated) > 100
    out = _cli("accept", "--name", unique("clialpha"), "--invite", code, "--invite-password", password, *auth_b)
    assert out.startswith("Connected: ") and alpha.live.url in out
    wait_for(lambda: alpha.online(rid) and beta.online(rid))
    status = _cli("status", "--json", *auth_a)
    row = next(r for r in json.loads(status) if r["remote_id"] == rid)
    assert (row["accepted"], row["online"], row["token"], row["site_url"]) == (True, True, "", beta.live.url)
    assert rid in _cli("status", *auth_a)
    assert rid in _cli("list", *auth_b)
    assert _cli("remove", rid, *auth_b).strip() == f"Secure connection {rid} removed."
    wait_for(lambda: not alpha.online(rid))

    result = CliRunner().invoke(cli_app, ["connection", "regenerate", rid, "--invite-password", "x", *auth_a])
    assert result.exit_code == 1 and "generate_invite_cluster_is_confirmed" in result.output
    result = CliRunner().invoke(cli_app, ["connection", "list", "--url", alpha.live.url, "--token", "bad"])
    assert result.exit_code == 1 and "session_expired" in result.output


def test_cli_unreachable_server() -> None:
    result = CliRunner().invoke(cli_app, ["connection", "list", "--url", "http://127.0.0.1:9", "--token", "t"])
    assert result.exit_code == 1 and "error:" in result.output


def test_tokens_stay_out_of_every_rest_answer(pair: tuple[Site, Site]) -> None:
    alpha, beta = pair
    created = alpha.admin.driver.remote_clusters.create_remote_cluster(name=unique("tok"), password="pw",
                                                                       default_team_id=alpha.team_id)
    rid = created["remote_cluster"]["remote_id"]
    beta.admin.driver.remote_clusters.accept_remote_cluster_invite(invite=created["invite"], name=unique("tok"),
                                                                   default_team_id=beta.team_id, password="pw")
    from isthmus.domain.remotes import get_remote

    secrets = set()
    for site in (alpha, beta):
        rc = site.live.run(get_remote(site.live.server.domain, rid))
        secrets |= {rc.token, rc.remote_token}
    texts = [httpx.get(f"{alpha.live.url}/api/v4/remotecluster", params={"include_deleted": "true"},
                       headers={"Authorization": f"Bearer {alpha.admin.token}"}).text,
             alpha.admin.http.get(f"/api/v4/remotecluster/{rid}").text,
             alpha.admin.http.patch(f"/api/v4/remotecluster/{rid}", json={"display_name": "t"}).text,
             beta.admin.http.get("/api/v4/remotecluster").text]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_slash_command_through_commands_execute(pair: tuple[Site, Site]) -> None:
    alpha, _ = pair
    channel = alpha.admin.driver.channels.get_channel_by_name(alpha.team_id, "town-square")
    resp = alpha.admin.driver.commands.execute_command(channel_id=channel["id"], command="/secure-connection status")
    assert resp["response_type"] == "ephemeral" and resp["channel_id"] == ""  # Mattermost's responsef sets none
    assert resp["text"].startswith("| Secure connection | Display name | Connection ID |") or \
        resp["text"] == "** No secure connections found. **"
    r = alpha.admin.http.post("/api/v4/commands/execute", json={"channel_id": channel["id"], "command": "nope"})
    assert r.status_code == 400
    r = alpha.admin.http.post("/api/v4/commands/execute", json={"channel_id": "x", "command": "/secure-connection"})
    assert r.status_code == 400
    user = make_person(alpha.live, alpha.admin.http)
    r = user.http.post("/api/v4/commands/execute", json={"channel_id": channel["id"],
                                                         "command": "/secure-connection status"})
    assert r.status_code == 403  # not a member of that channel
