"""The cross-process bus (issue 17) with both transports: two servers of one workspace on one PostgreSQL
database, ClusterSettings.Enable on, events carried by PostgreSQL LISTEN/NOTIFY (BusURL empty) or by Redis
pub/sub (BusURL = a redis-server started here from the Debian package).

* an event made in one process reaches the other's listeners exactly once, and is not echoed back;
* an event larger than NOTIFY's 8000-byte limit arrives whole;
* a session revoked through one process is refused by the other at once (its cache is dropped);
* a status set through one process is what the other reports (its status cache is dropped);
* a permission removed through one process is enforced by the other;
* config saved through one process is in effect in the other.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from isthmus.core.events import Event
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import eventually, person

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture
def redis_url() -> Iterator[str]:
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("needs Debian's redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def _pair(cluster: Cluster, bus_url: str) -> tuple[Node, Node]:
    env = {"MM_CLUSTERSETTINGS_ENABLE": "true", "MM_CLUSTERSETTINGS_BUSURL": bus_url}
    a1 = await cluster.add("alpha", env=env)
    a2 = await cluster.add("alpha2", env={**env, "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                          "MM_SQLSETTINGS_DATASOURCE": a1.server.config.SqlSettings.DataSource})
    return a1, a2


def _client(node: Node, authorization: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url=node.url, timeout=30,
                             headers={"Authorization": authorization})


async def _check_bus(cluster: Cluster, bus_url: str) -> None:
    a1, a2 = await _pair(cluster, bus_url)
    got1: list[Event] = []
    got2: list[Event] = []
    a1.server.bus.subscribe(lambda e: got1.append(e) if e.kind == "posted" else None)
    a2.server.bus.subscribe(lambda e: got2.append(e) if e.kind == "posted" else None)
    ann = await person(a1)
    r = await ann.http.post("/api/v4/channels", json={"team_id": a1.team_id, "name": "busroom",
                                                      "display_name": "Bus", "type": "O"})
    assert r.status_code == 201, r.text
    ch = r.json()["id"]
    long_text = "x" * 12_000  # more than a NOTIFY payload can hold
    for message in ("small", long_text):
        r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": message})
        assert r.status_code == 201, r.text

    async def both_arrived() -> bool:
        return len(got2) == 2
    await eventually(both_arrived)
    assert [e.channel_id for e in got2] == [ch, ch]
    assert '"small"' in got2[0].data["post"] and long_text in got2[1].data["post"]
    assert len(got1) == 2  # delivered once here; the bus echo of our own events is dropped

    # a session revoked through process 1 is refused by process 2 (which had it cached)
    other = _client(a2, ann.http.headers["Authorization"])
    assert (await other.get("/api/v4/users/me")).status_code == 200
    assert (await ann.http.post("/api/v4/users/logout")).status_code == 200

    async def refused() -> bool:
        return (await other.get("/api/v4/users/me")).status_code == 401
    await eventually(refused, within=5)
    await other.aclose()

    # a status set through process 2 is what process 1 reports (process 1 had it cached)
    bob = await person(a1)
    bob2 = _client(a2, bob.http.headers["Authorization"])
    assert (await bob.http.get(f"/api/v4/users/{bob.user_id}/status")).json()["status"] == "offline"
    r = await bob2.put(f"/api/v4/users/{bob.user_id}/status", json={"user_id": bob.user_id, "status": "dnd"})
    assert r.status_code == 200, r.text

    async def dnd_on_1() -> bool:
        body: dict[str, Any] = (await bob.http.get(f"/api/v4/users/{bob.user_id}/status")).json()
        return body["status"] == "dnd"
    await eventually(dnd_on_1, within=5)
    await bob2.aclose()

    # a permission taken away through process 1 is enforced by process 2 (its roles are reloaded)
    carl = await person(a1)
    carl2 = _client(a2, carl.http.headers["Authorization"])
    role = (await a1.http.get("/api/v4/roles/name/system_user")).json()
    assert "create_team" in role["permissions"]
    r = await a1.http.put(f"/api/v4/roles/{role['id']}/patch",
                          json={"permissions": [p for p in role["permissions"] if p != "create_team"]})
    assert r.status_code == 200, r.text

    async def refused_on_2() -> bool:
        r = await carl2.post("/api/v4/teams", json={"name": f"t{carl.user_id[:8]}", "display_name": "T", "type": "O"})
        return r.status_code == 403
    await eventually(refused_on_2, within=5)
    await carl2.aclose()

    # config saved through process 1 is in effect in process 2
    r = await a1.http.put("/api/v4/config/patch", json={"TeamSettings": {"SiteName": "Bus works"}})
    assert r.status_code == 200, r.text

    async def same_config() -> bool:
        return bool(a2.server.config.TeamSettings.SiteName == "Bus works")
    await eventually(same_config, within=5)


async def test_events_caches_and_config_cross_processes_over_postgresql(cluster: Cluster) -> None:
    await _check_bus(cluster, "")


async def test_events_caches_and_config_cross_processes_over_redis(cluster: Cluster, redis_url: str) -> None:
    await _check_bus(cluster, redis_url)


async def test_a_stale_status_cache_never_overwrites_a_status_chosen_through_another_process(cluster: Cluster) -> None:
    """Process 1 cached bob as online; before it hears of it (its bus is stopped here: the propagation window),
    bob chooses Do Not Disturb through process 2; then bob's last socket on process 1 closes. The automatic offline
    must start from the database, not from the stale cache, so the chosen status stays."""
    from isthmus.domain import statuses

    a1, a2 = await _pair(cluster, "")
    bob = await person(a1)
    await statuses.set_online(a1.server.domain, bob.user_id)
    assert a1.server.cluster.relay is not None
    await a1.server.cluster.relay.stop()
    bob2 = _client(a2, bob.http.headers["Authorization"])
    r = await bob2.put(f"/api/v4/users/{bob.user_id}/status", json={"user_id": bob.user_id, "status": "dnd"})
    assert r.status_code == 200, r.text
    await bob2.aclose()
    await statuses.set_offline(a1.server.domain, bob.user_id)  # the last socket on process 1 closed
    from isthmus.store.repo import statuses as statuses_repo

    async with a2.server.db.read() as conn:  # the database, not a process's cache
        row = await statuses_repo.select_status(conn, bob.user_id)
    assert row is not None and (row["status"], row["manual"]) == ("dnd", True), row
    a1.server.cluster.relay = None  # stopped already
