"""Catch-up starts when the peer is back, not when a backoff timer happens to fire (found by bench/sync)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from isthmus.federation.settings import Timings
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, posts_of, restart, share, share_node

# Pings once an hour and a ten-minute first backoff: nothing but the restarted peer's hello can make the
# sender retry within this test.
SLOW_PINGS = Timings(ping_interval_s=3600, ping_timeout_s=2.0, send_timeout_s=2.0, offline_after_ms=3_600_000,
                     accept_attempts_per_minute=1000)
LONG_BACKOFF = {"ISTHMUS_SYNC_BACKOFF_BASE_MS": "600000", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "600000",
                "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "3600"}


@pytest.fixture
async def slow_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    for key, value in LONG_BACKOFF.items():
        monkeypatch.setenv(key, value)
    c = Cluster(tmp_path, timings=SLOW_PINGS)
    try:
        yield c
    finally:
        await c.close()


def _failures(node: Node, remote_id: str) -> float:
    value: float = node.server.shared_channels.metrics.failures.labels(remote_id)._value.get()
    return value


async def test_restarted_receiver_says_hello_and_the_backed_off_sender_delivers_at_once(
        slow_cluster: Cluster) -> None:
    cluster = slow_cluster
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    first = await ann.post(ch, "before the outage")
    await eventually(lambda: _on(b, ch, first["id"]))

    cluster.net.down.add("beta.test")
    missed = [await ann.post(ch, f"while beta is down {i}") for i in range(3)]

    async def backed_off() -> bool:
        return _failures(a, rid) >= 1

    await eventually(backed_off)
    q = a.server.shared_channels.outbound.queues[rid]
    assert q.backoff.wait_ms() > 60_000  # alpha would not try again for minutes on its own

    async def not_probing() -> bool:  # a post during the outage pings beta; let that ping fail before the heal
        return not q.probing

    await eventually(not_probing)
    cluster.net.down.clear()
    await restart(cluster, b)

    for post in missed:
        await eventually(lambda p=post: _on(b, ch, p["id"]))  # type: ignore[misc]
    hellos = [r for r in cluster.net.log if r.url.host == "alpha.test" and b"isthmus_sync_hello" in r.content]
    assert len(hellos) == 1
    assert q.backoff.failures == 0
    live = await posts_of(b, ch)
    assert sorted(live) == sorted([first["id"], *(p["id"] for p in missed)])


async def test_hello_from_a_peer_that_is_not_backed_off_changes_nothing(slow_cluster: Cluster) -> None:
    cluster = slow_cluster
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    post = await ann.post(ch, "steady state")
    await eventually(lambda: _on(b, ch, post["id"]))
    sends_before = [r for r in cluster.net.log if r.url.host == "beta.test" and b"sharedchannel_sync" in r.content]
    await restart(cluster, b)  # beta says hello; alpha has nothing pending and no backoff
    hellos = [r for r in cluster.net.log if r.url.host == "alpha.test" and b"isthmus_sync_hello" in r.content]
    await eventually(lambda: _count_is(hellos, cluster, 1))
    later = await ann.post(ch, "after the restart")
    await eventually(lambda: _on(b, ch, later["id"]))
    sends_after = [r for r in cluster.net.log if r.url.host == "beta.test" and b"sharedchannel_sync" in r.content]
    assert len(sends_after) == len(sends_before) + 1  # only the new post travelled; nothing was resent
    assert sorted(await posts_of(b, ch)) == sorted([post["id"], later["id"]])


async def _count_is(_old: object, cluster: Cluster, n: int) -> bool:
    got = [r for r in cluster.net.log if r.url.host == "alpha.test" and b"isthmus_sync_hello" in r.content]
    return len(got) == n


async def _on(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def test_pending_channels_lists_channels_with_unsent_rows_oldest_first(slow_cluster: Cluster) -> None:
    from isthmus.federation.sync.send import pending_channels

    cluster = slow_cluster
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    first, second, quiet = await channel(a), await channel(a), await channel(a)
    for ch in (first, second, quiet):
        await share(a, ch, (b, rid))
    ann = await person(a)
    for ch in (first, second):
        r = await a.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": ann.user_id})
        assert r.status_code == 201, r.text
    cluster.net.down.add("beta.test")
    await ann.post(second, "older")
    await ann.post(first, "newer")
    await ann.post(second, "newest")
    async with a.server.db.read() as conn:
        rows = await pending_channels(conn, rid)
    assert [r["channel_id"] for r in rows] == [second, first]  # quiet has nothing past its cursor
    assert rows[0]["next_seq"] < rows[1]["next_seq"]
    cluster.net.down.clear()
    await restart(cluster, b)  # its hello makes alpha deliver now
    for ch, n in ((first, 1), (second, 2)):
        await eventually(lambda c=ch, k=n: _count(b, c, k))  # type: ignore[misc]

    async def drained() -> bool:
        async with a.server.db.read() as conn:
            return await pending_channels(conn, rid) == []

    await eventually(drained)


async def _count(node: Node, channel_id: str, n: int) -> bool:
    return len(await posts_of(node, channel_id)) == n
