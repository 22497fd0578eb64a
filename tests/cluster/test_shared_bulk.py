"""The receiver's bulk path (domain.synced_bulk): a sync message applied in bulk gives exactly what applying
its items one by one through ``synced.upsert_post`` gives (rows, events, outbox, counters), refuses the same
items, changes nothing on a replay, and bulk-inserted posts are relayed by the home like any other."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import and_, select

import isthmus.federation.sync.recv as recv_module
from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain.changes import EVENT_OUTBOX_APPENDED
from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Channel
from isthmus.domain.synced.posts import ItemRefused, upsert_post
from isthmus.federation.wire import Msg, Response
from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.posts import posts
from isthmus.store.schema.shared import sync_outbox
from tests.testlib import wirelog
from tests.testlib.clients import unique
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import person, posts_of, shared_trio, wait_converged

_COUNTERS = ("total_msg_count", "total_msg_count_root", "last_post_at", "last_root_post_at")


async def send(sender: Node, to: Node, remote_id: str, payload: Any) -> Response:
    rc = await sender.row(remote_id)
    with wirelog.hand_made():  # hand-made items, some invalid on purpose: not for the Go harness
        return await sender.connections.client.send_msg(to.url, Msg.new("sharedchannel_sync", payload, 1),
                                                        remote_id=remote_id, token=rc.remote_token)


def item(post_id: str, channel_id: str, user_id: str, message: str, at: int, **extra: Any) -> dict[str, Any]:
    return {"id": post_id, "channel_id": channel_id, "user_id": user_id, "message": message, "create_at": at,
            "update_at": at, "edit_at": 0, "delete_at": 0, "root_id": "", "type": "", "props": {},
            "isthmus_changes": ["content"], **extra}


async def one_by_one(d: Domain, tx: Tx, origin: str, channel: Channel,
                     items: list[tuple[dict[str, Any], str]]) -> list[Any]:
    """The reference: every item through the per-post path, as the receiver did before the bulk path."""
    out: list[Any] = []
    for p, message in items:
        try:
            out.append(await upsert_post(d, tx, origin, channel, p, message))
        except (ItemRefused, AppError) as err:
            out.append(err)
    return out


class Watch:
    """A node's events from one connection, its outbox rows, posts, counters and a member's mention counts."""

    def __init__(self, node: Node, channel_id: str, origin: str) -> None:
        self.node, self.channel_id, self.origin = node, channel_id, origin
        self.events: list[Event] = []
        node.server.bus.subscribe(lambda e: self.events.append(e) if e.origin == origin else None)

    def visible(self) -> list[Event]:
        """What websocket clients see of posts (background user/member traffic of the peers is left out)."""
        return [e for e in self.events if e.kind != EVENT_OUTBOX_APPENDED and e.kind.startswith(("post", "reaction"))]

    async def outbox(self) -> list[tuple[str, str, str | None]]:
        async with self.node.server.db.read() as conn:
            rows = (await conn.execute(select(sync_outbox.c.kind, sync_outbox.c.entity_id,
                                              sync_outbox.c.origin_remote_id)
                                       .where(sync_outbox.c.channel_id == self.channel_id)
                                       .order_by(sync_outbox.c.seq))).all()
        return [(r[0], r[1], r[2]) for r in rows]

    async def posts(self) -> dict[str, dict[str, Any]]:
        async with self.node.server.db.read() as conn:
            rows = (await conn.execute(select(posts).where(posts.c.channel_id == self.channel_id))).mappings().all()
        return {r["id"]: dict(r) for r in rows if not str(r["type"]).startswith("system_")}

    async def counters(self, user_id: str) -> dict[str, int]:
        async with self.node.server.db.read() as conn:
            ch = (await conn.execute(select(channels).where(channels.c.id == self.channel_id))).mappings().one()
            m = (await conn.execute(select(channel_members).where(and_(
                channel_members.c.channel_id == self.channel_id,
                channel_members.c.user_id == user_id)))).mappings().one()
        return {**{k: int(ch[k]) for k in _COUNTERS},
                **{k: int(m[k]) for k in ("mention_count", "mention_count_root", "last_update_at")}}


def normalized(events: list[Event], swap: dict[str, str], moving: set[str]) -> list[str]:
    """Events as comparable text: ``swap`` maps the other server's ids to this one's; ``update_at`` of posts
    edited or deleted now (``moving``) is left out (it is the receiver's clock)."""
    out = []
    for e in events:
        data = dict(e.data)
        if "post" in data:
            post = json.loads(data["post"])
            if post["id"] in moving:
                post.pop("update_at")
            data["post"] = json.dumps(post, sort_keys=True)
        text = json.dumps([e.kind, data, e.channel_id, e.team_id, e.user_id, e.origin], sort_keys=True)
        for old, new in swap.items():
            text = text.replace(old, new)
        out.append(text)
    return out


def comparable(rows: dict[str, dict[str, Any]], swap: dict[str, str], moving: set[str]) -> str:
    out = {pid: {k: v for k, v in row.items() if not (k == "update_at" and pid in moving)}
           for pid, row in sorted(rows.items())}
    text = json.dumps(out, sort_keys=True, default=str)
    for old, new in swap.items():
        text = text.replace(old, new)
    return text


async def test_bulk_message_equals_one_by_one_and_replays_to_nothing(cluster: Cluster,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c, ab, ac, ch = await shared_trio(cluster)
    ann, eve = await person(a, channel_id=ch), await person(a, channel_id=ch)  # eve never posts: unknown there
    name = unique("bulkbob")
    bob_b, bob_c = await person(b, name, channel_id=ch), await person(c, name, channel_id=ch)
    old_root, to_edit, to_delete = (await ann.post(ch, "old root"), await ann.post(ch, "to edit"),
                                    await ann.post(ch, "to delete"))
    await wait_converged([a, b, c], ch, min_posts=3)

    async def as_sent(post: dict[str, Any], **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await a.http.get(f"/api/v4/posts/{post['id']}")).json()
        return {**body, **changes}

    t = max(p["create_at"] for p in (old_root, to_edit, to_delete)) + 60_000
    n1, n2, n3, n4, n5, n6, n7 = (new_id() for _ in range(7))
    forged_eve, forged_bob, bad_root = new_id(), new_id(), new_id()
    first = item(n1, ch, ann.user_id, f"zeppelin hello @{name}", t + 1)
    items = [
        await as_sent(old_root, isthmus_changes=[]),  # a thread root sent as context: unchanged
        first,
        item(n2, ch, ann.user_id, f"@{name} a reply in the same message", t + 2, root_id=n1),
        item(n3, ch, ann.user_id, "a reply to a stored root", t + 3, root_id=old_root["id"]),
        await as_sent(to_edit, message="edited in bulk", edit_at=t + 4, update_at=t + 4, isthmus_changes=["content"]),
        await as_sent(to_delete, delete_at=t + 5, update_at=t + 5, isthmus_changes=["content"]),
        item(forged_eve, ch, eve.user_id, "an author the sender never synced", t + 6),
        item(forged_bob, ch, bob_b.user_id, "beta's own user, forged", t + 6),
        item(bad_root, ch, ann.user_id, "bad root", t + 6, root_id="not-an-id"),
        item(n4, ch, ann.user_id, "a second run after the per-post items", t + 7),
        item(n5, ch, ann.user_id, "a reply to a root of the first run", t + 8, root_id=n1),
        first,  # the same post twice in one message
        item(n6, ch, ann.user_id, "its file has not arrived", t + 9, file_ids=[new_id()]),
        item(n7, ch, ann.user_id, "created and deleted", t + 10, delete_at=t + 11),
    ]
    payload = {"id": new_id(), "channel_id": ch, "posts": items}
    wb, wc = Watch(b, ch, ab), Watch(c, ch, ac)
    before_b, before_c = await wb.counters(bob_b.user_id), await wc.counters(bob_c.user_id)
    outbox_b, outbox_c = len(await wb.outbox()), len(await wc.outbox())

    r_b = await send(a, b, ab, payload)  # bulk
    with monkeypatch.context() as m:
        m.setattr(recv_module, "upsert_posts", one_by_one)
        r_c = await send(a, c, ac, payload)  # the per-post reference
    assert r_b.status == r_c.status == "OK", (r_b.err, r_c.err)
    assert r_b.payload["post_errors"] == r_c.payload["post_errors"] == [forged_eve, forged_bob, bad_root]

    # exactly the expected effects on beta …
    kinds = [(e.kind, json.loads(e.data["post"])["id"]) for e in wb.visible()]
    assert kinds == [("posted", n1), ("posted", n2), ("posted", n3), ("post_edited", to_edit["id"]),
                     ("post_deleted", to_delete["id"]), ("posted", n4), ("posted", n5), ("posted", n6)]
    posted = {json.loads(e.data["post"])["id"]: e for e in wb.visible() if e.kind == "posted"}
    assert json.loads(posted[n1].data["mentions"]) == json.loads(posted[n2].data["mentions"]) == [bob_b.user_id]
    assert "mentions" not in posted[n3].data and json.loads(posted[n1].data["post"])["reply_count"] == 0
    assert posted[n1].data["sender_name"] == f"@{ann.username}:alpha"
    assert (await wb.outbox())[outbox_b:] == [("post", pid, ab) for pid in
                                              (n1, n2, n3, to_edit["id"], to_delete["id"], n4, n5, n6, n7)]
    rows = await wb.posts()
    assert rows[n1]["reply_count"] == 2 and rows[n1]["participants"] == [ann.user_id]
    assert rows[n1]["last_reply_at"] == t + 8 and rows[old_root["id"]]["reply_count"] == 1
    assert rows[to_edit["id"]]["message"] == "edited in bulk" and rows[to_delete["id"]]["delete_at"] == t + 5
    assert rows[n7]["delete_at"] == t + 11 and {forged_eve, forged_bob, bad_root}.isdisjoint(rows)
    after_b = await wb.counters(bob_b.user_id)
    assert after_b["total_msg_count"] - before_b["total_msg_count"] == 6  # n1..n6 (the tombstone is no message)
    assert after_b["total_msg_count_root"] - before_b["total_msg_count_root"] == 3  # n1, n4, n6
    assert after_b["last_post_at"] == t + 9 and after_b["last_root_post_at"] == t + 9
    assert after_b["mention_count"] - before_b["mention_count"] == 2
    assert after_b["mention_count_root"] - before_b["mention_count_root"] == 1 and after_b["last_update_at"] == t + 2
    found = await bob_b.http.post(f"/api/v4/teams/{b.team_id}/posts/search", json={"terms": "zeppelin"})
    assert found.status_code == 200 and found.json()["order"] == [n1]  # the search index has the bulk insert

    # … and the same as one by one on gamma
    swap = {ac: ab, c.team_id: b.team_id, bob_c.user_id: bob_b.user_id}
    moving = {to_edit["id"], to_delete["id"]}
    assert normalized(wc.visible(), swap, moving) == normalized(wb.visible(), {}, moving)
    assert [(k, e, ab if o == ac else o) for k, e, o in (await wc.outbox())[outbox_c:]] == \
        (await wb.outbox())[outbox_b:]
    assert comparable(await wc.posts(), swap, moving) == comparable(rows, {}, moving)
    after_c = await wc.counters(bob_c.user_id)
    assert {k: after_c[k] - before_c[k] if "count" in k else after_c[k] for k in after_c} == \
        {k: after_b[k] - before_b[k] if "count" in k else after_b[k] for k in after_b}

    # a replay of the same message changes nothing and says nothing
    seen, seen_all, outbox_now = len(wb.visible()), len(wb.events), await wb.outbox()
    again = await send(a, b, ab, {**payload, "id": new_id()})
    assert again.status == "OK" and again.payload["post_errors"] == [forged_eve, forged_bob, bad_root]
    assert wb.visible()[seen:] == [] and await wb.outbox() == outbox_now
    assert not [e for e in wb.events[seen_all:] if e.kind == EVENT_OUTBOX_APPENDED]  # no sender is woken
    assert await wb.posts() == rows and await wb.counters(bob_b.user_id) == after_b


async def test_bulk_received_posts_are_relayed_by_the_home_and_not_echoed(cluster: Cluster) -> None:
    """A backlog written on beta while alpha (the home) was unreachable arrives at alpha in bulk messages;
    alpha relays it to gamma with exact thread summaries, and never sends it back to beta."""
    a, b, c, ab, _ac, ch = await shared_trio(cluster)
    bob, cat = await person(b, channel_id=ch), await person(c, channel_id=ch)
    await cat.post(ch, "hello from gamma")  # so that beta knows cat and bob can mention it
    await wait_converged([a, b, c], ch, min_posts=1)
    cat_on_b = (await b.http.get(f"/api/v4/users/{cat.user_id}")).json()["username"]
    cat_before = (await cat.http.get(f"/api/v4/channels/{ch}/members/{cat.user_id}")).json()["mention_count"]
    cluster.net.down.add("alpha.test")
    written: list[dict[str, Any]] = []
    roots: dict[str, int] = {}
    for i in range(120):  # more than two sync messages of 50
        if i % 4 == 3:  # replies to a recent root (often in the same message) or to the first (a stored one)
            near = written[-1 - (i % 3)]
            root = written[0]["id"] if i % 8 == 7 else near["root_id"] or near["id"]
            written.append(await bob.post(ch, f"reply {i}", root_id=root))
            roots[root] += 1
        else:
            written.append(await bob.post(ch, f"root {i}" + (f" @{cat_on_b}" if i % 10 == 0 else "")))
            roots[written[-1]["id"]] = 0
    del cluster.net.log[:]
    cluster.net.down.clear()
    await wait_converged([a, b, c], ch, min_posts=121, within=60)
    for node in (a, c):  # the stored summaries (the snapshot counts live replies itself)
        got = await posts_of(node, ch)
        assert {pid: got[pid]["reply_count"] for pid in roots} == roots, node.name
    assert (await cat.http.get(f"/api/v4/channels/{ch}/members/{cat.user_id}")).json()["mention_count"] == \
        cat_before + 12  # i = 0, 10, …, 110
    ids = {p["id"] for p in written}
    async with a.server.db.read() as conn:
        rows = (await conn.execute(select(sync_outbox.c.entity_id, sync_outbox.c.origin_remote_id)
                                   .where(sync_outbox.c.entity_id.in_(ids)))).all()
    assert {r[0] for r in rows} == ids and {r[1] for r in rows} == {ab}  # recorded as coming from beta
    to_beta = [r.content for r in cluster.net.log if r.url.host == "beta.test" and b"sharedchannel_sync" in r.content]
    assert not any(pid.encode() in body for body in to_beta for pid in ids)  # never echoed back
