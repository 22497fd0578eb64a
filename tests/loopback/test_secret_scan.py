"""Secret scan (issue 18 item 5): no token, password, invite or session id in logs, metrics or REST answers.

Two real ``isthmus serve`` processes at LogSettings.ConsoleLevel DEBUG (the most they ever write) go through a
realistic session: logins (one with a wrong password), a personal access token, a connection invite with a
password accepted by the peer, a shared channel synced both ways, a password change and a session revoked.
Every secret value the session created is collected (the stored connection tokens straight from the
database). Then nothing of them may appear in:

- either server's log file;
- either server's ``/metrics`` text;
- any answer of any GET route (every path parameter filled with the session's ids) read by ``nosy``, a plain
  member of the same team, or by the peer's connection credentials;
- any answer a system admin reads: the values never shown after their creation (tokens, passwords, invite code
  and password, connection tokens), though an admin may see session ids.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from pathlib import Path

import asyncpg
import httpx
import pytest
from bench.common import ServerProcess
from fastapi.routing import APIRoute

from isthmus.api.routes import ROUTERS
from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, wait_for
from tests.testlib.clients import unique

pytestmark = pytest.mark.loopback

ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "MM_LOGSETTINGS_CONSOLELEVEL": "DEBUG"}
INVITE_PASSWORD = "invite-pw-" + unique("x")


def login(srv: ServerProcess, login_id: str, password: str) -> httpx.Response:
    return httpx.post(f"{srv.url}/api/v4/users/login", json={"login_id": login_id, "password": password})


def user(admin: Admin, password: str) -> tuple[str, str]:
    """A new member of the admin's team: (id, username)."""
    name = unique("u")
    r = admin.http.post("/api/v4/users", json={"username": name, "email": f"{name}@example.com", "password": password})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = admin.http.post(f"/api/v4/teams/{admin.team_id}/members", json={"team_id": admin.team_id, "user_id": uid})
    assert r.status_code == 201, r.text
    return uid, name


def connection_tokens(srv: ServerProcess) -> list[tuple[str, str]]:
    """(token, remote_token) of every stored connection: what the peer presents to us, what we present."""
    source = srv.env["MM_SQLSETTINGS_DATASOURCE"]
    query = "SELECT token, remote_token FROM remote_clusters"
    if srv.env["MM_SQLSETTINGS_DRIVERNAME"] == "sqlite":
        with sqlite3.connect(source) as db:
            rows = db.execute(query).fetchall()
    else:
        async def fetch() -> list[tuple[str, str]]:
            conn = await asyncpg.connect(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", source))
            try:
                return [(r[0], r[1]) for r in await conn.fetch(query)]
            finally:
                await conn.close()
        rows = asyncio.run(fetch())
    return [(str(r[0]), str(r[1])) for r in rows]


def get_routes() -> list[str]:
    return ["/api/v4" + r.path for router in ROUTERS for r in router.routes
            if isinstance(r, APIRoute) and "GET" in r.methods and "websocket" not in r.path]


def sweep(client: httpx.Client, values: dict[str, list[str]], secrets: set[str], who: str) -> tuple[int, list[str]]:
    """Every GET route, every combination of the values for its path parameters (capped): (calls, leaks)."""
    calls, leaks = 0, []
    for route in get_routes():
        names = re.findall(r"\{(\w+)(?::\w+)?\}", route)
        for combo in list(itertools.product(*(values.get(n, ["x"]) for n in names)))[:30]:
            path = route
            for n, v in zip(names, combo, strict=True):
                path = re.sub(r"\{" + n + r"(?::\w+)?\}", v, path, count=1)
            r = client.get(path)
            calls += 1
            body = r.content.decode("utf-8", "replace") + str(r.headers)
            found = sorted(s for s in secrets if s in body)
            if found:
                leaks.append(f"{who} GET {path} -> {r.status_code} shows {[f[:12] + '…' for f in found]}")
    return calls, leaks


def test_no_secret_in_logs_metrics_or_answers(spawn: SpawnServer) -> None:
    alpha_srv, beta_srv = spawn("alpha", env=ENV).start(), spawn("beta", env=ENV).start()
    alpha, beta = Admin(alpha_srv), Admin(beta_srv)
    secret: set[str] = {alpha.token, beta.token}  # shown to nobody but their owner (and never to an admin)
    private: set[str] = set()  # session ids: an admin may see them, nobody else

    first_pw, second_pw, wrong_pw = (f"Pw-{unique('a')}-1", f"Pw-{unique('b')}-2", f"Guess-{unique('c')}")
    secret |= {first_pw, second_pw, wrong_pw}
    olivia_id, olivia = user(alpha, first_pw)
    nosy_pw = f"Pw-{unique('n')}"
    _nosy_id, nosy = user(alpha, nosy_pw)
    assert login(alpha_srv, olivia, wrong_pw).status_code == 401
    sessions = []
    for _ in range(2):
        r = login(alpha_srv, olivia, first_pw)
        assert r.status_code == 200, r.text
        sessions.append(r.headers["Token"])
    secret |= set(sessions)
    r = login(alpha_srv, nosy, nosy_pw)
    nosy_http = alpha_srv.client(r.headers["Token"])
    olivia_http = alpha_srv.client(sessions[0])

    # a personal access token for olivia (made by the admin, as plain users may not)
    r = alpha.http.post(f"/api/v4/users/{olivia_id}/tokens", json={"description": "olivia's token"})
    assert r.status_code == 200, r.text
    pat, pat_id = r.json()["token"], r.json()["id"]
    secret.add(pat)
    assert alpha_srv.client(pat).get("/api/v4/users/me").status_code == 200

    # a connection: invite with a password, accepted by beta; then a shared channel synced both ways
    r = alpha.http.post("/api/v4/remotecluster", json={"name": "beta", "display_name": "Beta",
                                                       "default_team_id": alpha.team_id, "password": INVITE_PASSWORD})
    assert r.status_code == 201, r.text
    remote_id, invite = r.json()["remote_cluster"]["remote_id"], r.json()["invite"]
    secret |= {INVITE_PASSWORD, invite}
    r = beta.http.post("/api/v4/remotecluster/accept_invite", json={
        "name": "alpha", "default_team_id": beta.team_id, "invite": invite, "password": INVITE_PASSWORD})
    assert r.status_code == 201, r.text
    wait_for(lambda: alpha.online(remote_id) and beta.online(remote_id))
    r = alpha.http.post("/api/v4/channels", json={"team_id": alpha.team_id, "name": unique("ch"),
                                                  "display_name": "Shared", "type": "O"})
    channel_id = r.json()["id"]
    assert alpha.http.post(f"/api/v4/channels/{channel_id}/members", json={"user_id": olivia_id}).status_code == 201
    assert alpha.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite").status_code == 200
    wait_for(lambda: beta.http.get(f"/api/v4/channels/{channel_id}").status_code == 200)
    r = olivia_http.post("/api/v4/posts", json={"channel_id": channel_id, "message": "hello beta"})
    assert r.status_code == 201, r.text
    r = beta.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": "hello alpha"})
    assert r.status_code == 201, r.text
    wait_for(lambda: "hello beta" in beta.http.get(f"/api/v4/channels/{channel_id}/posts").text)
    wait_for(lambda: "hello alpha" in olivia_http.get(f"/api/v4/channels/{channel_id}/posts").text)
    for srv in (alpha_srv, beta_srv):
        secret |= {t for row in connection_tokens(srv) for t in row}

    # password change (her other session ends), then a session revoked by id
    r = olivia_http.get(f"/api/v4/users/{olivia_id}/sessions")
    session_ids = [s["id"] for s in r.json()]
    private |= set(session_ids)
    r = olivia_http.put(f"/api/v4/users/{olivia_id}/password",
                        json={"current_password": first_pw, "new_password": second_pw})
    assert r.status_code == 200, r.text
    r = login(alpha_srv, olivia, second_pw)
    assert r.status_code == 200, r.text
    third = r.headers["Token"]
    secret.add(third)
    olivia_http = alpha_srv.client(third)
    mine = [s["id"] for s in olivia_http.get(f"/api/v4/users/{olivia_id}/sessions").json()]
    private |= set(mine)
    r = alpha.http.post(f"/api/v4/users/{olivia_id}/sessions/revoke", json={"session_id": mine[0]})
    assert r.status_code == 200, r.text
    r = login(alpha_srv, olivia, second_pw)  # and back in, for the scan's control below
    secret.add(r.headers["Token"])
    olivia_http = alpha_srv.client(r.headers["Token"])
    private |= {s["id"] for s in olivia_http.get(f"/api/v4/users/{olivia_id}/sessions").json()}

    # --- the scan ---
    everything = secret | private
    assert all(len(s) >= 8 for s in everything)
    values = {"user_id": [olivia_id, "me"], "team_id": [alpha.team_id], "channel_id": [channel_id],
              "remote_id": [remote_id], "token_id": [pat_id], "username": [olivia],
              "email": [f"{olivia}@example.com"], "other_user_id": [olivia_id]}
    found: list[str] = []
    calls = 0
    [(beta_presents, _)] = connection_tokens(alpha_srv)
    callers = [("nosy", nosy_http, everything), ("admin", alpha.http, secret),
               ("connection", httpx.Client(base_url=alpha_srv.url, headers={
                   "X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": beta_presents}), everything)]
    # the sweep sees what it looks for: olivia reads her own session ids through the same routes
    assert sweep(olivia_http, values, private, "olivia")[1]
    for who, client, looked_for in callers:
        n, leaks = sweep(client, values, looked_for, who)
        calls += n
        found += leaks
    for srv, admin in ((alpha_srv, alpha), (beta_srv, beta)):
        metrics = admin.http.get("/metrics")
        assert metrics.status_code == 200
        found += [f"{srv.url}/metrics shows {s[:12]}…" for s in everything if s in metrics.text]
    for srv in (alpha_srv, beta_srv):
        text = Path(srv.log_path).read_text(errors="replace")
        assert "DEBUG" in text  # the scan reads the most verbose log there is
        found += [f"{srv.log_path.name} shows {s[:12]}…" for s in everything if s in text]
    assert not found, "\n".join(found[:40])
    print(f"secret scan: {len(everything)} secrets, {calls} GET answers, 2 logs, 2 metrics pages: none shown")
