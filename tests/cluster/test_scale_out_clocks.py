"""Two serving processes of one workspace (one PostgreSQL database, ClusterSettings.Enable) sending to a peer:
process 1 sends, "dies" (stops renewing its lease), process 2 takes the lease over and sends newer states; the
requests process 1 had sent then arrive again, late (a delayed delivery from the dead process). The peer keeps
the newer status, profile and membership: the clocks of issue 13, exercised by two real senders (issue 17)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, share, share_node, wait_converged

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true", "MM_CLUSTERSETTINGS_ENABLE": "true"}


class Recorder(httpx.AsyncBaseTransport):
    """Process 1's outbound traffic: passed on, and every sync message to beta kept for a late replay."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.kept: list[tuple[str, dict[str, str], bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if request.url.host == "beta.test" and request.url.path.endswith("/remotecluster/msg"):
            self.kept.append((str(request.url), dict(request.headers), body))
        return await self.inner.handle_async_request(request)


def _client(node: Node, authorization: str) -> httpx.AsyncClient:
    """A client of ``node``'s app with a session made on another process (they share the database)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url=node.url, timeout=30,
                             headers={"Authorization": authorization})


async def _get(node: Node, path: str) -> Any:
    r = await node.http.get(path)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_dead_processs_late_requests_never_overwrite_what_its_successor_sent(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISTHMUS_CLUSTER_LEASE_MS", "900")  # takeover within about a second
    recorder = Recorder(cluster.net)
    a1 = await cluster.add("alpha", env={"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
                                         **MEMBER_SYNC}, transport=recorder)
    b = await share_node(cluster, "beta", **MEMBER_SYNC)
    ab = await cluster.connect(a1, b)
    ch = await channel(a1)
    await share(a1, ch, (b, ab))
    ann = await person(a1, channel_id=ch)
    carol = await person(a1)
    await ann.post(ch, "hello from ann")
    await wait_converged([a1, b], ch, min_posts=1)

    # Process 2: same database, same site; it finds the share and wants the lease process 1 holds.
    a2 = await cluster.add("alpha2", env={"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
                                          "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                          "MM_SQLSETTINGS_DATASOURCE": a1.server.config.SqlSettings.DataSource,
                                          "MM_SERVICESETTINGS_SITEURL": "http://alpha.test", **MEMBER_SYNC})
    lease = f"remote:{ab}"
    assert a1.server.cluster.leases.holds(lease) and not a2.server.cluster.leases.holds(lease)
    assert {n["id"] for n in await _get(a1, "/api/v4/cluster/status")} == \
        {a1.server.cluster.node_id, a2.server.cluster.node_id}

    # Older states, sent by process 1.
    r = await ann.http.put(f"/api/v4/users/{ann.user_id}/status", json={"user_id": ann.user_id, "status": "away"})
    assert r.status_code == 200, r.text
    r = await ann.http.put(f"/api/v4/users/{ann.user_id}/patch", json={"nickname": "Old"})
    assert r.status_code == 200, r.text
    r = await a1.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": carol.user_id})
    assert r.status_code == 201, r.text

    async def beta_has(status: str, nickname: str, carol_member: bool) -> bool:
        st = await _get(b, f"/api/v4/users/{ann.user_id}/status")
        user = await _get(b, f"/api/v4/users/{ann.user_id}")
        members = {m["user_id"] for m in await _get(b, f"/api/v4/channels/{ch}/members?per_page=200")}
        return bool(st["status"] == status and user["nickname"] == nickname and
                    (carol.user_id in members) == carol_member)

    await eventually(lambda: beta_has("away", "Old", True))
    late = list(recorder.kept)
    assert late

    # Process 1 dies: it stops sending and renewing; process 2 takes the lease over.
    await a1.server.shared_channels.outbound.stop()
    await a1.server.connections.pinger.stop()
    await a1.server.cluster.stop_heartbeat()
    a1.server.cluster.leases.held.clear()
    await eventually(lambda: _holds(a2, lease), within=10)

    # Newer states, through process 2 (a session made on process 1 works there: one database).
    ann2 = _client(a2, ann.http.headers["Authorization"])
    admin2 = _client(a2, a1.http.headers["Authorization"])
    r = await ann2.put(f"/api/v4/users/{ann.user_id}/status", json={"user_id": ann.user_id, "status": "dnd"})
    assert r.status_code == 200, r.text
    r = await ann2.put(f"/api/v4/users/{ann.user_id}/patch", json={"nickname": "New"})
    assert r.status_code == 200, r.text
    r = await admin2.delete(f"/api/v4/channels/{ch}/members/{carol.user_id}")
    assert r.status_code == 200, r.text
    await eventually(lambda: beta_has("dnd", "New", False))

    # Process 1's requests arrive again, late: every one is answered, none wins.
    with wirelog.hand_made():
        for url, headers, body in late:
            resp = await cluster.net.handle_async_request(httpx.Request("POST", url, headers=headers, content=body))
            assert resp.status_code == 200, (await resp.aread())[:300]
    assert await beta_has("dnd", "New", False)
    await ann2.aclose()
    await admin2.aclose()


async def _holds(node: Node, lease: str) -> bool:
    return node.server.cluster.leases.holds(lease)
