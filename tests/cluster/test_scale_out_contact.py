"""Inbound traffic from a peer resets the backoff of the process that sends to it, whichever process received it
(issue 17): alpha's process 1 holds the lease for beta and backs off (beta was away, a minute at first); beta comes
back and talks to alpha, but the balancer hands its request to process 2. Process 1 must hear of it and deliver at
once, not when its backoff or the next ping round (an hour here) comes around."""

from __future__ import annotations

import dataclasses
import os

import pytest

from tests.testlib.cluster import FAST, Cluster, Node
from tests.testlib.sharing import SHARE_ENV, channel, eventually, person, posts_of, share

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")
CLUSTER = {**SHARE_ENV, "MM_CLUSTERSETTINGS_ENABLE": "true"}


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def test_the_sender_hears_that_the_peer_is_back_through_another_process(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.setenv("ISTHMUS_SYNC_BACKOFF_BASE_MS", "60000")
    monkeypatch.setenv("ISTHMUS_SYNC_BACKOFF_MAX_MS", "600000")
    cluster = Cluster(Path(str(tmp_path)), timings=dataclasses.replace(FAST, ping_interval_s=3600))
    try:
        a1 = await cluster.add("alpha", env=CLUSTER)
        b = await cluster.add("beta", env=SHARE_ENV)
        ab = await cluster.connect(a1, b)
        ch = await channel(a1)
        await share(a1, ch, (b, ab))
        ann = await person(a1, channel_id=ch)
        bob = await person(b, channel_id=ch)
        await eventually(lambda: _has_lease(a1, ab))
        a2 = await cluster.add("alpha2", env={**CLUSTER, "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                              "MM_SQLSETTINGS_DATASOURCE": a1.server.config.SqlSettings.DataSource,
                                              "MM_SERVICESETTINGS_SITEURL": "http://alpha.test"})

        cluster.net.down.add(b.host)
        during = await ann.post(ch, "while beta is away")
        queue = a1.server.shared_channels.outbound.queues[ab]

        async def backing_off() -> bool:
            return queue.backoff.wait_ms() > 30_000
        await eventually(backing_off)

        cluster.net.down.discard(b.host)
        cluster.net.apps[a1.host] = a2.app  # the balancer: beta's requests to alpha now land on process 2
        await bob.post(ch, "beta is back")
        await eventually(lambda: _has(b, ch, during["id"]), within=10)  # a minute without the relay
    finally:
        await cluster.close()


async def _has_lease(node: Node, remote_id: str) -> bool:
    return node.server.cluster.leases.holds(f"remote:{remote_id}")
