"""``isthmus verify --repair`` as its own process next to two real ``isthmus serve`` processes: a post removed
from beta's database behind the engine's back comes back, and the channel verifies again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete

from isthmus.config import ConfigStore
from isthmus.server import Server
from isthmus.store.schema.posts import posts
from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import Admin, connect, share_new_channel, wait_for
from tests.loopback.test_sync_kill import ENV, _posts, _verified

pytestmark = pytest.mark.loopback


async def _forget_post(config_path: Path, env: dict[str, str], post_id: str) -> None:
    """Write the server's database directly, as an operator's mistake or a restored backup would."""
    server = Server(ConfigStore(config_path, environ=env))
    try:
        async with server.db.write() as conn:
            await conn.execute(delete(posts).where(posts.c.id == post_id))
    finally:
        await server.connections.client.aclose()
        await server.db.dispose()


def test_cli_repair_brings_back_a_post_lost_behind_the_engines_back(spawn: SpawnServer) -> None:
    alpha_srv, beta_srv = spawn("alpha", env=ENV).start(), spawn("beta", env=ENV).start()
    alpha, beta = Admin(alpha_srv), Admin(beta_srv)
    remote_id = connect(alpha, beta)
    channel_id = share_new_channel(alpha, beta, remote_id)
    written = [alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": f"post {i}"}).json()["id"]
               for i in range(3)]
    wait_for(lambda: _verified(alpha, channel_id), within=60)
    asyncio.run(_forget_post(beta_srv.config, beta_srv.env, written[1]))
    assert not _verified(alpha, channel_id)
    done = subprocess.run([sys.executable, "-m", "isthmus", "verify", "--channel", channel_id, "--repair",
                           "--config", str(alpha_srv.config)], env=alpha_srv.env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=alpha_srv.data_dir)
    assert done.returncode == 1, done.stdout + done.stderr  # it differed when it ran
    assert "repair: 1 post(s) re-sent from here" in done.stdout, done.stdout
    wait_for(lambda: _verified(alpha, channel_id), within=60)  # alpha's sender delivered the queued post
    assert set(written) <= set(_posts(beta, channel_id))
