"""Per-connection leases spread the sending over the processes (issue 17: Mattermost sends only from its
cluster leader). Two processes of alpha on one PostgreSQL database, connected to beta and gamma: the process that
started first holds both leases, then hands one over, so each sends to one peer; posts still reach both."""

from __future__ import annotations

import os

import pytest

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import SHARE_ENV, channel, eventually, person, posts_of, share, share_node

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")
CLUSTER = {**SHARE_ENV, "MM_CLUSTERSETTINGS_ENABLE": "true"}


def _held(node: Node, names: set[str]) -> set[str]:
    return {n for n in names if node.server.cluster.leases.holds(n)}


async def test_two_processes_split_two_connections(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISTHMUS_CLUSTER_LEASE_MS", "1500")  # renew every 0.5 s: the test runs in seconds
    a1 = await cluster.add("alpha", env=CLUSTER)
    b, c = await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, ac = await cluster.connect(a1, b), await cluster.connect(a1, c)
    ch_b, ch_c = await channel(a1), await channel(a1)
    await share(a1, ch_b, (b, ab))
    await share(a1, ch_c, (c, ac))
    names = {f"remote:{ab}", f"remote:{ac}"}
    await eventually(lambda: _async(_held(a1, names) == names))

    a2 = await cluster.add("alpha2", env={**CLUSTER, "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                          "MM_SQLSETTINGS_DATASOURCE": a1.server.config.SqlSettings.DataSource,
                                          "MM_SERVICESETTINGS_SITEURL": "http://alpha.test"})
    ann = await person(a1)
    for ch in (ch_b, ch_c):
        r = await a1.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": ann.user_id})
        assert r.status_code == 201, r.text

    async def split() -> bool:
        await ann.post(ch_b, "tick")  # passes run after work; the hand-over follows a pass
        one, two = _held(a1, names), _held(a2, names)
        return len(one) == 1 and len(two) == 1 and one | two == names
    await eventually(split, within=30, interval=0.3)

    last_b = await ann.post(ch_b, "to beta after the split")
    last_c = await ann.post(ch_c, "to gamma after the split")

    async def arrived() -> bool:
        return last_b["id"] in await posts_of(b, ch_b) and last_c["id"] in await posts_of(c, ch_c)
    await eventually(arrived)


async def _async(value: bool) -> bool:
    return value
