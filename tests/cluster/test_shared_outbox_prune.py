"""Outbox housekeeping (issue 13.10): the floor is per channel and the deletes go in bounded batches.

Before, the floor was the minimum of all cursors; a cursor moves only when its own channel has rows, so one
idle shared channel kept every later row of every other channel forever. And the eventual DELETE was one
statement over the whole backlog.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from isthmus.federation import outbound as outbound_module
from isthmus.store.repo import outbox as outbox_repo
from isthmus.store.schema.shared import shared_channel_remotes as scr
from isthmus.store.schema.shared import sync_outbox as out
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, share, share_node, wait_converged


async def _rows(node: Node, channel_id: str) -> list[int]:
    async with node.server.db.read() as conn:
        return [int(s) for s in (await conn.execute(
            select(out.c.seq).where(out.c.channel_id == channel_id).order_by(out.c.seq))).scalars().all()]


async def _cursor(node: Node, channel_id: str, remote_id: str) -> int:
    async with node.server.db.read() as conn:
        return int((await conn.execute(select(scr.c.outbox_cursor).where(
            (scr.c.channel_id == channel_id) & (scr.c.remote_id == remote_id)))).scalar_one())


async def _acknowledged(node: Node, channel_id: str, remote_id: str) -> bool:
    rows = await _rows(node, channel_id)
    return not rows or await _cursor(node, channel_id, remote_id) >= rows[-1]


async def test_rows_past_an_idle_channels_cursor_are_pruned_and_unacknowledged_ones_kept(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound_module, "PRUNE_BATCH", 5)
    batches: list[int] = []
    real_delete = outbox_repo.delete_channel_rows_upto

    async def counted(conn: Any, channel_id: str, upto_seq: int, limit: int) -> int:
        n = await real_delete(conn, channel_id, upto_seq, limit)
        batches.append(n)
        return n

    monkeypatch.setattr(outbox_repo, "delete_channel_rows_upto", counted)
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    busy, idle = await channel(a), await channel(a)
    await share(a, busy, (b, rid))
    await share(a, idle, (b, rid))
    ann = await person(a, channel_id=busy)
    r = await ann.http.post(f"/api/v4/channels/{idle}/members", json={"user_id": ann.user_id})
    assert r.status_code == 201, r.text
    await ann.post(idle, "the idle channel's only post")
    await wait_converged([a, b], idle, min_posts=1)
    await eventually(lambda: _acknowledged(a, idle, rid))
    idle_cursor = await _cursor(a, idle, rid)
    for i in range(14):
        await ann.post(busy, f"busy {i}")
    await wait_converged([a, b], busy, min_posts=14)
    await eventually(lambda: _acknowledged(a, busy, rid))
    acknowledged = await _rows(a, busy)
    assert len([s for s in acknowledged if s > idle_cursor]) >= 14  # past the idle cursor: the old floor kept them

    await a.server.shared_channels.outbound.prune()
    left = await _rows(a, busy)
    async with a.server.db.read() as conn:
        newest = int((await conn.execute(select(func.max(out.c.seq)))).scalar_one())
    assert [s for s in left if s != newest] == []  # acknowledged by beta: gone (the newest row always stays)
    assert batches and max(batches) <= 5 and len(batches) >= 3  # 14+ rows, 5 per transaction

    cluster.net.down.add("beta.test")  # beta stops acknowledging
    unsent = [await ann.post(busy, f"unsent {i}") for i in range(3)]
    pending = [s for s in await _rows(a, busy) if s > await _cursor(a, busy, rid)]
    assert len(pending) >= 3
    await a.server.shared_channels.outbound.prune()
    assert [s for s in await _rows(a, busy) if s > await _cursor(a, busy, rid)] == pending  # nothing unsent pruned
    cluster.net.down.clear()
    snap = await wait_converged([a, b], busy, min_posts=17)
    assert {p["id"] for p in unsent} <= {p["id"] for p in snap["posts"]}
