"""A shared DM between two real ``isthmus serve`` processes (issue 15 item 3): a user on alpha opens a DM with a
user on beta, both answer, beta is killed (``kill -9``) while alpha keeps writing and starts again on the same
database; then both write again. Nothing is lost or doubled: both servers hold exactly the posts written."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, connect, wait_for
from tests.testlib.clients import unique

pytestmark = pytest.mark.loopback

ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS": "true",
       "ISTHMUS_SYNC_BACKOFF_BASE_MS": "50", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "500",
       "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "0.5"}


def _messages(admin: Admin, channel_id: str) -> dict[str, str]:
    r = admin.http.get(f"/api/v4/channels/{channel_id}/posts", params={"per_page": 200})
    if r.status_code != 200:
        return {}
    posts: dict[str, Any] = r.json()["posts"]
    return {pid: p["message"] for pid, p in posts.items() if not p["type"]}


def _post(admin: Admin, channel_id: str, message: str) -> str:
    r = admin.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _me(admin: Admin) -> str:
    return str(admin.http.get("/api/v4/users/me").json()["id"])


def test_dm_across_servers_survives_a_restart(spawn: SpawnServer) -> None:
    alpha_srv, beta_srv = spawn("alpha", env=ENV).start(), spawn("beta", env=ENV).start()
    alpha, beta = Admin(alpha_srv), Admin(beta_srv)
    remote_id = connect(alpha, beta)

    # alpha learns beta's user from a shared channel (beta's admin accepted the connection, so joined it)
    r = alpha.http.post("/api/v4/channels", json={"team_id": alpha.team_id, "name": unique("ch"),
                                                  "display_name": "Shared", "type": "O"})
    room = r.json()["id"]
    assert alpha.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{room}/invite").status_code == 200
    wait_for(lambda: beta.http.get(f"/api/v4/channels/{room}").status_code == 200)
    ann, bob = _me(alpha), _me(beta)
    _post(beta, room, "hello from beta")
    wait_for(lambda: alpha.http.get(f"/api/v4/users/{bob}").status_code == 200)

    r = alpha.http.get(f"/api/v4/sharedchannels/users/{ann}/can_dm/{bob}")
    assert r.status_code == 200 and r.json() == {"can_dm": True}, r.text
    r = alpha.http.post("/api/v4/channels/direct", json=[ann, bob])
    assert r.status_code == 201, r.text
    dm = r.json()["id"]
    wait_for(lambda: beta.http.get(f"/api/v4/channels/{dm}").status_code == 200)
    written = {_post(alpha, dm, "hi bob"): "hi bob"}
    wait_for(lambda: set(written) <= set(_messages(beta, dm)))
    written[_post(beta, dm, "hi ann")] = "hi ann"
    wait_for(lambda: set(written) <= set(_messages(alpha, dm)))

    # beta dies without a word; alpha keeps writing; beta starts again on the same database
    beta_srv.stop(sig=signal.SIGKILL)
    for i in range(5):
        written[_post(alpha, dm, f"while you were away {i}")] = f"while you were away {i}"
    beta_srv.start()
    beta.http = beta_srv.client(beta.token)
    written[_post(beta, dm, "back again")] = "back again"
    written[_post(alpha, dm, "welcome back")] = "welcome back"

    wait_for(lambda: _messages(alpha, dm) == written and _messages(beta, dm) == written, within=60)
