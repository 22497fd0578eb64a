"""Shared-channel sync between two real ``isthmus serve`` processes, with ``kill -9`` in the middle of it.

Zero loss and zero duplicates: after the killed side restarts on the same database, the channel on both
servers converges (checked by the ``verify`` report, both the REST call and the ``isthmus verify`` CLI
run as its own process) and the receiving side holds exactly the posts that were written, once each.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, connect, share_new_channel, wait_for

pytestmark = pytest.mark.loopback

ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "ISTHMUS_SYNC_BACKOFF_BASE_MS": "50", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "500",
       "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "0.5", "MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "5"}
POSTS = 150


def _posts(admin: Admin, channel_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    page = 0
    while True:
        r = admin.http.get(f"/api/v4/channels/{channel_id}/posts", params={"page": page, "per_page": 200})
        assert r.status_code == 200, r.text
        batch = r.json()["posts"]
        # each server's own system messages ("now shared with Alpha") are not synced posts
        out.update({k: p for k, p in batch.items() if not p["type"].startswith("system_")})
        if len(batch) < 200:
            return out
        page += 1


def _verified(admin: Admin, channel_id: str) -> bool:
    try:
        r = admin.http.get(f"/api/v4/sharedchannels/{channel_id}/verify")
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and all(x["status"] == "ok" for x in r.json()["remotes"])


@pytest.mark.parametrize("victim", ["receiver", "sender"])
def test_kill_9_mid_sync_loses_and_duplicates_nothing(spawn: SpawnServer, victim: str) -> None:
    alpha_srv, beta_srv = spawn("alpha", env=ENV).start(), spawn("beta", env=ENV).start()
    alpha, beta = Admin(alpha_srv), Admin(beta_srv)
    remote_id = connect(alpha, beta)
    channel_id = share_new_channel(alpha, beta, remote_id)

    # A backlog: beta is down (kill -9) while alpha writes, then comes back and starts catching up in small
    # batches; the victim is killed again while that catch-up is visibly half done.
    beta_srv.stop(sig=signal.SIGKILL)
    written = [alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": f"post {i}"}).json()["id"]
               for i in range(POSTS)]
    beta_srv.start()
    beta.http = beta_srv.client(beta.token)
    wait_for(lambda: 0 < len(_posts(beta, channel_id)) < POSTS, within=60)
    target = beta_srv if victim == "receiver" else alpha_srv
    target.stop(sig=signal.SIGKILL)  # no shutdown hooks, no flush: whatever was in flight is cut
    if victim == "sender":
        assert len(_posts(beta, channel_id)) < POSTS  # alpha died with work left
    target.start()
    if victim == "receiver":
        beta.http = beta_srv.client(beta.token)
    else:
        alpha.http = alpha_srv.client(alpha.token)
    wait_for(lambda: _verified(alpha, channel_id), within=120)
    got = _posts(beta, channel_id)
    assert sorted(got) == sorted(written) and len(got) == POSTS  # every post, once
    # the CLI, as its own process against alpha's database and config, agrees
    done = subprocess.run([sys.executable, "-m", "isthmus", "verify", "--channel", channel_id, "--json",
                           "--config", str(alpha_srv.config)], env=alpha_srv.env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=alpha_srv.data_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"status": "ok"' in done.stdout
