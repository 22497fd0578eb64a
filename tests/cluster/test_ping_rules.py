"""Exact online/offline rules of the ping loop, driven by a FakeClock against a scripted peer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx

from isthmus.core.clock import FakeClock
from isthmus.core.ids import new_id
from isthmus.domain.models import Actor
from isthmus.domain.remotes import do_insert_accepted_remote
from isthmus.federation.pinger import EVENT_OFFLINE, EVENT_ONLINE
from isthmus.federation.settings import ENV_PREFIX, Timings
from tests.testlib.cluster import FAST, Cluster


async def test_offline_after_exactly_five_minutes_and_back(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_800_000_000_000)
    cluster = Cluster(tmp_path, timings=dataclasses.replace(FAST, offline_after_ms=300_000, ping_interval_s=3600))
    up = True
    reply = b'{"sent_at":1,"recv_at":2}'
    seen: list[dict[str, object]] = []

    async def peer(request: httpx.Request) -> httpx.Response:
        seen.append({"path": request.url.path, "id": request.headers["X-RemoteCluster-Id"],
                     "token": request.headers["X-RemoteCluster-Token"], "body": json.loads(request.content)})
        if not up:
            return httpx.Response(503, request=request)
        return httpx.Response(200, content=reply, request=request)

    try:
        a = await cluster.add("alpha", clock=clock)
        pinger = a.connections.pinger
        await pinger.stop()  # drive it by hand
        cluster.net.handlers["peer.test"] = peer
        rc = await do_insert_accepted_remote(a.server.domain, Actor(a.admin_id, "system_user system_admin"),
                                             remote_id=new_id(), name="peer", display_name="Peer",
                                             default_team_id="", site_url="http://peer.test", token=new_id(),
                                             remote_token="the-token-we-present")
        rid = rc.remote_id

        async def ping() -> bool:
            return await pinger.ping_now(await a.row(rid))

        assert await ping()
        assert seen[-1]["path"] == "/api/v4/remotecluster/ping" and seen[-1]["token"] == "the-token-we-present"
        body = seen[-1]["body"]
        assert isinstance(body, dict) and body["remote_id"] == rid and body["msg"]["topic"] == "ping"
        assert body["msg"]["payload"] == {"sent_at": clock.now_ms(), "recv_at": 0}
        assert (await a.row(rid)).last_ping_at == clock.now_ms()
        assert a.kinds(rid) == [EVENT_ONLINE]

        assert await ping() and a.kinds(rid) == [EVENT_ONLINE]  # no change, no event
        for garbage in (b"<html>", b"[1]", b'{"sent_at":"x"}', b"{" + b" " * (1 << 20) + b"}"):
            reply = garbage
            assert not await ping()  # a peer answering garbage is not a successful ping
        reply = b'{"sent_at":1,"recv_at":2}'
        up = False
        clock.advance(300_000 - 1)
        assert not await ping()
        assert a.kinds(rid) == [EVENT_ONLINE] and await a.is_online(rid)  # 1 ms short of the threshold
        clock.advance(1)
        assert not await ping()
        assert a.kinds(rid) == [EVENT_ONLINE, EVENT_OFFLINE] and not await a.is_online(rid)
        assert not await ping() and a.kinds(rid) == [EVENT_ONLINE, EVENT_OFFLINE]  # announced once

        up = True
        assert await ping()
        assert a.kinds(rid) == [EVENT_ONLINE, EVENT_OFFLINE, EVENT_ONLINE]
        pinger.mark_send_failed(rid)
        assert await ping()
        assert a.kinds(rid)[-2:] == [EVENT_ONLINE, EVENT_ONLINE]  # #37499 re-announcement
        assert await ping()
        assert len(a.kinds(rid)) == 4
        events = [e for e in a.events if e.origin == rid]
        assert events[-1].data == {"remote_id": rid, "name": "peer", "online": True}

        r = await a.http.delete(f"/api/v4/remotecluster/{rid}")
        assert r.status_code == 200
        assert not await ping()  # deleted connections are not pinged
    finally:
        await cluster.close()


def test_timings_from_environment() -> None:
    t = Timings.from_env({ENV_PREFIX + "PING_INTERVAL_S": "0.5", ENV_PREFIX + "OFFLINE_AFTER_MS": "1500",
                          ENV_PREFIX + "PING_TIMEOUT_S": "nonsense", ENV_PREFIX + "SEND_TIMEOUT_S": "-1"})
    assert (t.ping_interval_s, t.offline_after_ms, t.ping_timeout_s, t.send_timeout_s) == (0.5, 1500, 15.0, 60.0)
    assert Timings.from_env({}) == Timings()
