"""Secure connections between two real ``python -m isthmus serve`` processes on free loopback ports.

Everything crosses real sockets: the admin REST, the handshake (accept → confirm_invite), the ping loops
and the ``isthmus connection`` CLI run as its own process, exactly as two admins would do it by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from bench.common import ServerProcess

from tests.loopback.conftest import SpawnServer
from tests.testlib.clients import PASSWORD, unique

pytestmark = pytest.mark.loopback

FAST_ENV = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
            "ISTHMUS_REMOTE_PING_INTERVAL_S": "0.2", "ISTHMUS_REMOTE_OFFLINE_AFTER_MS": "1500"}


class Admin:
    def __init__(self, srv: ServerProcess) -> None:
        self.srv = srv
        self.username = unique("admin")
        r = httpx.post(f"{srv.url}/api/v4/users", json={"username": self.username, "password": PASSWORD,
                                                          "email": f"{self.username}@example.com"})
        assert r.status_code == 201, r.text
        r = httpx.post(f"{srv.url}/api/v4/users/login", json={"login_id": self.username, "password": PASSWORD})
        self.token = r.headers["Token"]
        self.http = srv.client(self.token)
        r = self.http.post("/api/v4/teams", json={"name": unique("team"), "display_name": "Team", "type": "O"})
        assert r.status_code == 201, r.text
        self.team_id = r.json()["id"]

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**self.srv.env, "ISTHMUS_URL": self.srv.url, "ISTHMUS_TOKEN": self.token}
        done = subprocess.run([sys.executable, "-m", "isthmus", "connection", *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False, cwd=self.srv.data_dir)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def status(self) -> dict[str, dict[str, Any]]:
        return {r["remote_id"]: r for r in json.loads(self.cli("status", "--json").stdout)}

    def rest(self, **params: str) -> list[dict[str, Any]]:
        r = self.http.get("/api/v4/remotecluster", params=params)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()
        return rows

    def online(self, remote_id: str) -> bool:
        r = self.http.get("/api/v4/remotecluster", params={"exclude_offline": "true"})
        return remote_id in {x["remote_id"] for x in r.json()}


def wait_for(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def connect(inviter: Admin, acceptor: Admin, acceptor_name: str = "beta", inviter_name: str = "alpha") -> str:
    """A secure connection made over REST (invite on one side, accept on the other), once both see it online."""
    r = inviter.http.post("/api/v4/remotecluster", json={"name": acceptor_name, "display_name": acceptor_name.title(),
                                                         "default_team_id": inviter.team_id, "password": "pw-123456"})
    assert r.status_code == 201, r.text
    remote_id, code = str(r.json()["remote_cluster"]["remote_id"]), r.json()["invite"]
    r = acceptor.http.post("/api/v4/remotecluster/accept_invite", json={
        "name": inviter_name, "default_team_id": acceptor.team_id, "invite": code, "password": "pw-123456"})
    assert r.status_code == 201, r.text
    wait_for(lambda: inviter.online(remote_id) and acceptor.online(remote_id))
    return remote_id


def share_new_channel(home: Admin, peer: Admin, remote_id: str) -> str:
    """A new public channel on ``home`` shared with ``peer``, once the peer has its copy."""
    r = home.http.post("/api/v4/channels", json={"team_id": home.team_id, "name": unique("ch"),
                                                 "display_name": "Shared", "type": "O"})
    assert r.status_code == 201, r.text
    channel_id = str(r.json()["id"])
    r = home.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite")
    assert r.status_code == 200, r.text
    wait_for(lambda: peer.http.get(f"/api/v4/channels/{channel_id}").status_code == 200)
    return channel_id


@pytest.fixture
def two(spawn: SpawnServer) -> tuple[Admin, Admin]:
    alpha = spawn("alpha", env=FAST_ENV).start()
    beta = spawn("beta", env=FAST_ENV).start()
    return Admin(alpha), Admin(beta)


def test_connect_by_cli_then_status_edit_and_remove(two: tuple[Admin, Admin]) -> None:
    alpha, beta = two
    out = alpha.cli("create", "--name", "beta", "--display-name", "Beta").stdout
    code = next(line for line in out.splitlines() if len(line) > 100 and " " not in line)
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    [pending] = alpha.rest()
    remote_id = pending["remote_id"]
    assert pending["site_url"].startswith("pending_") and pending["display_name"] == "Beta"

    out = beta.cli("accept", "--name", "alpha", "--invite", code, "--invite-password", password).stdout
    assert out.startswith(f"Connected: alpha (id {remote_id}) at {alpha.srv.url}")
    wait_for(lambda: alpha.online(remote_id) and beta.online(remote_id))
    row = alpha.status()[remote_id]  # the CLI's view
    assert (row["accepted"], row["online"], row["site_url"], row["token"]) == (True, True, beta.srv.url, "")
    table = beta.cli("status").stdout
    assert remote_id in table and alpha.srv.url in table
    channel = beta.http.get(f"/api/v4/teams/{beta.team_id}/channels/name/town-square").json()
    r = beta.http.post("/api/v4/commands/execute", json={"channel_id": channel["id"],
                                                          "command": "/secure-connection status"})
    assert r.status_code == 200, r.text
    row = next(line for line in r.json()["text"].splitlines() if remote_id in line)
    assert [c.strip() for c in row.strip("|").split("|")][3:7] == [alpha.srv.url, beta.team_id, "True", "True"]
    assert beta.rest()[0]["site_url"] == alpha.srv.url

    r = alpha.http.patch(f"/api/v4/remotecluster/{remote_id}", json={"display_name": "Beta Corp"})
    assert r.status_code == 200 and r.json()["display_name"] == "Beta Corp"
    assert alpha.http.get(f"/api/v4/remotecluster/{remote_id}").json()["display_name"] == "Beta Corp"

    alpha.cli("remove", remote_id)
    assert alpha.rest(include_deleted="true")[0]["delete_at"] > 0
    wait_for(lambda: not beta.online(remote_id))
    assert "ping to secure connection" in beta.srv.log()
    for admin in (alpha, beta):  # neither server's log carries a token
        for row in admin.srv.log().splitlines():
            assert admin.token not in row


def test_regenerate_and_bad_invites_between_processes(two: tuple[Admin, Admin]) -> None:
    alpha, beta = two
    r = alpha.http.post("/api/v4/remotecluster", json={"name": "beta", "default_team_id": alpha.team_id,
                                                       "password": "first"})
    assert r.status_code == 201
    remote_id, first = r.json()["remote_cluster"]["remote_id"], r.json()["invite"]
    second = alpha.cli("regenerate", remote_id, "--invite-password", "second").stdout.strip()

    bad = beta.cli("accept", "--name", "alpha", "--invite", second, "--invite-password", "first", ok=False)
    assert bad.returncode == 1 and "invite_decrypt_error" in bad.stderr
    assert beta.http.get("/api/v4/remotecluster", params={"include_deleted": "true"}).json() == []

    r = beta.http.post("/api/v4/remotecluster/accept_invite", json={
        "name": "alpha", "default_team_id": beta.team_id, "invite": first, "password": "first"})
    assert r.status_code == 201, r.text
    wait_for(lambda: alpha.online(remote_id) and beta.online(remote_id))
    again = alpha.cli("regenerate", remote_id, "--invite-password", "x", ok=False)
    assert again.returncode == 1 and "generate_invite_cluster_is_confirmed" in again.stderr

    # The second code carries the same, now retired, invite token: a third server could not use it.
    r = alpha.http.post("/api/v4/remotecluster/confirm_invite", content=b"{}",
                        headers={"X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": "x" * 26,
                                 "Authorization": ""})
    assert r.status_code == 401
