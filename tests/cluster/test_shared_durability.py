"""Nothing lost, nothing duplicated: partitions, restarts of either side mid-sync, batches and backoff."""

from __future__ import annotations

import asyncio

import pytest

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    channel,
    eventually,
    person,
    posts_of,
    restart,
    share,
    share_node,
    wait_converged,
)


def _failures(node: Node, remote_id: str) -> float:
    value: float = node.server.shared_channels.metrics.failures.labels(remote_id)._value.get()
    return value


async def _pair(cluster: Cluster) -> tuple[Node, Node, str, str]:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    return a, b, rid, ch


async def test_partition_then_heal_converges_without_new_traffic(cluster: Cluster) -> None:
    a, b, rid, ch = await _pair(cluster)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    seed = await ann.post(ch, "before the partition")
    await wait_converged([a, b], ch, min_posts=1)
    cluster.net.down.update({"alpha.test", "beta.test"})
    written = [await ann.post(ch, f"alpha during partition {i}") for i in range(5)]
    written += [await bob.post(ch, f"beta during partition {i}") for i in range(5)]
    assert (await ann.react(seed["id"], "hourglass")).status_code == 200
    await bob.edit(written[-1]["id"], "edited while cut off")
    await eventually(lambda: _failed(a, rid, 2))
    await eventually(lambda: _failed(b, rid, 2))
    assert len(await posts_of(a, ch)) == 6 and len(await posts_of(b, ch)) == 6  # nothing crossed
    cluster.net.down.clear()  # heal: no new writes from here on
    snap = await wait_converged([a, b], ch, min_posts=11)
    assert len(snap["posts"]) == 11
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[written[-1]["id"]]["message"] == "edited while cut off"
    assert by_id[seed["id"]]["reactions"] == [[ann.user_id, "hourglass"]]


async def _failed(node: Node, remote_id: str, n: int) -> bool:
    return _failures(node, remote_id) >= n


async def test_backlog_larger_than_a_batch_arrives_in_order_once(cluster: Cluster) -> None:
    a, b, rid, ch = await _pair(cluster)
    ann = await person(a, channel_id=ch)
    cluster.net.down.add("beta.test")
    ids = [(await ann.post(ch, f"backlog {i}"))["id"] for i in range(120)]  # > 2 batches of 50
    await eventually(lambda: _failed(a, rid, 1))
    cluster.net.down.clear()
    snap = await wait_converged([a, b], ch, min_posts=120, within=60)
    assert [p["id"] for p in snap["posts"]] == ids
    sync_msgs = [r for r in cluster.net.log if r.url.host == "beta.test" and b"sharedchannel_sync" in r.content]
    assert len(sync_msgs) >= 3  # batched by MaxPostsPerSync
    # acknowledged outbox rows are housekeeping material; the newest row always stays
    assert await a.server.shared_channels.outbound.prune() >= 119
    from sqlalchemy import func, select

    from isthmus.store.schema.shared import sync_outbox

    async with a.server.db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(sync_outbox))).scalar_one() <= 2


@pytest.mark.parametrize("which", ["receiver", "sender"])
async def test_restart_mid_sync_loses_and_duplicates_nothing(cluster: Cluster, which: str) -> None:
    a, b, _rid, ch = await _pair(cluster)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    written = []
    for i in range(150):
        written.append((await ann.post(ch, f"alpha {i}"))["id"])
        if i % 10 == 0:
            written.append((await bob.post(ch, f"beta {i}"))["id"])
    # restart while batches are in flight in both directions
    await asyncio.sleep(0.01)
    await restart(cluster, b if which == "receiver" else a)
    more = [(await ann.post(ch, "after restart"))["id"]] if which == "receiver" else []
    snap = await wait_converged([a, b], ch, min_posts=len(written) + len(more), within=60)
    got = [p["id"] for p in snap["posts"]]
    assert sorted(got) == sorted(written + more) and len(got) == len(set(got))
    live_b = await posts_of(b, ch)
    assert len(live_b) == len(written) + len(more)


async def test_large_posts_are_split_into_messages_that_fit(cluster: Cluster) -> None:
    a, b, _rid, ch = await _pair(cluster)
    ann = await person(a, channel_id=ch)
    # Bodies this big are over the default MaximumPayloadSizeBytes (300,000): this workspace allows them.
    r = await a.http.put("/api/v4/config/patch", json={"ServiceSettings": {"MaximumPayloadSizeBytes": 1_000_000}})
    assert r.status_code == 200, r.text
    cluster.net.down.add("beta.test")
    big = [await ann.post(ch, f"big {i}", props={"blob": "x" * 600_000}) for i in range(8)]  # ~4.8 MB in all
    cluster.net.down.clear()
    snap = await wait_converged([a, b], ch, min_posts=8, within=60)
    assert [p["id"] for p in snap["posts"]] == [p["id"] for p in big]
    sizes = [len(r.content) for r in cluster.net.log
             if r.url.host == "beta.test" and b"sharedchannel_sync" in r.content]
    assert len(sizes) >= 2 and max(sizes) < 4 * 1024 * 1024
