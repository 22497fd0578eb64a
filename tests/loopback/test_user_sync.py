"""Global user sync between two real ``isthmus serve`` processes, followed with ``isthmus connection sync-users``."""

from __future__ import annotations

import httpx
import pytest

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, wait_for
from tests.testlib.clients import PASSWORD, unique

pytestmark = pytest.mark.loopback

ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "MM_FEATUREFLAGS_ENABLESYNCALLUSERSFORREMOTECLUSTER": "true",
       "MM_CONNECTEDWORKSPACESSETTINGS_GLOBALUSERSYNCBATCHSIZE": "5"}


def test_sync_users_by_cli_reaches_the_peer(spawn: SpawnServer) -> None:
    alpha, beta = Admin(spawn("alpha", env=ENV).start()), Admin(spawn("beta", env=ENV).start())
    names = [unique("u") for _ in range(23)]
    for name in names:
        r = httpx.post(f"{alpha.srv.url}/api/v4/users", json={"username": name, "password": PASSWORD,
                                                                "email": f"{name}@example.com"})
        assert r.status_code == 201, r.text
    out = alpha.cli("create", "--name", "beta").stdout
    code = next(line for line in out.splitlines() if len(line) > 100 and " " not in line)
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    beta.cli("accept", "--name", "alpha", "--invite", code, "--invite-password", password)
    [row] = alpha.rest()
    remote_id = row["remote_id"]
    wait_for(lambda: alpha.online(remote_id) and beta.online(remote_id))

    done = alpha.cli("sync-users", remote_id, "--timeout", "60")
    assert "All users sent." in done.stdout, done.stdout + done.stderr
    r = beta.http.post("/api/v4/users/search", json={"term": "", "limit": 1000})
    assert r.status_code == 200, r.text
    found = {u["username"].split(":")[0] for u in r.json() if u.get("remote_id") == remote_id}
    assert set(names) | {alpha.username} <= found
    r = alpha.http.get(f"/api/v4/remotecluster/{remote_id}/sync_users")
    assert r.json()["pending"] == 0 and r.json()["last_global_user_sync_at"] > 0
