"""One lock order for every writer of a shared channel (issue 13.6).

The sync receiver locks the channel's ``shared_channels`` row early (a member change or an earlier edit in the
message records its outbox row first) and then bumps the ``channels`` row for a new post. ``POST /posts`` used
to bump the ``channels`` row first and lock the share last: on PostgreSQL the two crossed, the database
aborted the client's transaction to break the deadlock and the user got a 500. The test holds the receiver's
side of the crossing open in a real transaction on the same database, lets a client post block behind it,
then finishes the receiver's write: both land and the client gets 201. (SQLite has one writer at a time, so
there the client simply waits its turn.)
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from isthmus.domain.changes import lock_share, record_change
from isthmus.domain.channels import insert_member
from isthmus.domain.context import transaction
from isthmus.domain.models import Channel
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import posts as posts_repo
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, share, share_node


async def _someone_waits_on_a_lock(node: Node) -> bool:
    async with node.server.domain.db.read() as conn:
        waiting = await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
        return int(waiting.scalar() or 0) > 0


async def test_a_post_crossing_a_received_sync_message_lands_and_answers_201(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    d = a.server.domain
    receiver_holds_share = asyncio.Event()
    client: asyncio.Task[object] | None = None

    async with transaction(d) as tx:  # the receiver's transaction, as recv.py runs it
        row = await access_repo.select_channel(tx.conn, ch)
        assert row is not None
        shared = Channel(**row)
        assert await lock_share(tx, shared) is not None  # its first outbox row takes the share lock
        await record_change(tx, shared, "member", ann.user_id, rid, now=d.now())
        receiver_holds_share.set()
        client = asyncio.create_task(ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": "crossing"}))
        if d.db.is_sqlite:
            for _ in range(20):  # the client queues on the process's write lock
                await asyncio.sleep(0)
        else:
            await eventually(lambda: _someone_waits_on_a_lock(a))  # the client is blocked on a row we hold
        # Then the received post bumps the channel row (synced.apply_post -> update_channel_for_post).
        await posts_repo.update_channel_for_post(tx.conn, ch, d.now(), True)
    assert receiver_holds_share.is_set() and client is not None
    response = await client
    assert getattr(response, "status_code", None) == 201, getattr(response, "text", response)
    posted = response.json()  # type: ignore[attr-defined]
    async with d.db.read() as conn:
        assert (await posts_repo.select_post(conn, posted["id"])) is not None
        kinds = (await conn.execute(text("SELECT kind FROM sync_outbox WHERE channel_id = :c ORDER BY seq"),
                                    {"c": ch})).scalars().all()
    assert "member" in kinds and kinds[-1] == "post"  # the receiver's row, then the client's after it


async def test_a_member_add_crossing_a_received_membership_change_answers_201(cluster: Cluster) -> None:
    """Member writes lock the member row, then the share; the receiver's membership change the other way round
    (share first). PostgreSQL aborts the client's side of the cycle: the route runs it again (``retrying``)."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    joiner = await person(a)  # in the team, not yet in the channel
    d = a.server.domain
    client: asyncio.Task[object] | None = None
    async with transaction(d) as tx:  # the receiver applying a membership change for the same user
        row = await access_repo.select_channel(tx.conn, ch)
        assert row is not None
        assert await lock_share(tx, Channel(**row)) is not None
        client = asyncio.create_task(a.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": joiner.user_id}))
        if d.db.is_sqlite:
            for _ in range(20):
                await asyncio.sleep(0)
        else:
            await eventually(lambda: _someone_waits_on_a_lock(a))  # the client holds the new row, waits on the share
        await insert_member(d, tx.conn, ch, joiner.user_id)  # and now we wait on the client's row: a cycle
    assert client is not None
    response = await client
    assert getattr(response, "status_code", None) == 201, getattr(response, "text", response)
    assert response.json()["user_id"] == joiner.user_id  # type: ignore[attr-defined]
