"""User statuses across shared channels: a status set on a user's own server shows on every connected server
that knows the user (REST and the ``status_change`` event), survives a partition, relays through the home
without echo, honours ``DisableSharedChannelsStatusSync``, and hostile items land in ``status_errors``."""

from __future__ import annotations

import json
import time
from typing import Any

from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain import statuses
from tests.cluster.test_shared_hostile import send
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    person,
    posts_of,
    restart,
    share,
    share_node,
    wait_converged,
)


async def set_status(who: Person, status: str, **extra: Any) -> dict[str, Any]:
    r = await who.http.put(f"/api/v4/users/{who.user_id}/status",
                           json={"user_id": who.user_id, "status": status, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def status_on(node: Node, user_id: str) -> dict[str, Any]:
    r = await node.http.get(f"/api/v4/users/{user_id}/status")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def statuses_on(node: Node, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    r = await node.http.post("/api/v4/users/status/ids", json=user_ids)
    assert r.status_code == 200, r.text
    return {s["user_id"]: s for s in r.json()}


def status_events(node: Node) -> list[Event]:
    seen: list[Event] = []
    node.server.bus.subscribe(lambda e: seen.append(e) if e.kind == "status_change" else None)
    return seen


def sent_statuses(cluster: Cluster, to: Node) -> list[dict[str, Any]]:
    """Every status item of every ``sharedchannel_sync`` frame delivered to ``to`` so far."""
    out: list[dict[str, Any]] = []
    for req in cluster.net.log:
        if req.url.host != to.host or not req.url.path.endswith("/remotecluster/msg"):
            continue
        msg = json.loads(req.content)["msg"]
        if msg["topic"] == "sharedchannel_sync":
            out.extend(msg["payload"].get("statuses") or [])
    return out


async def _pair(cluster: Cluster, **env: str) -> tuple[Node, Node, str, str, Person, Person]:
    """alpha homes a channel shared with beta; ann (alpha) and bob (beta) posted, so each side knows the other."""
    a, b = await share_node(cluster, "alpha", **env), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    await ann.post(ch, "hi from ann")
    await bob.post(ch, "hi from bob")
    await wait_converged([a, b], ch, min_posts=2)
    return a, b, rid, ch, ann, bob


async def _shows(node: Node, user_id: str, **expected: Any) -> bool:
    got = await status_on(node, user_id)
    return all(got[k] == v for k, v in expected.items())


async def test_status_syncs_both_ways(cluster: Cluster) -> None:
    a, b, _rid, _ch, ann, bob = await _pair(cluster)
    on_a, on_b = status_events(a), status_events(b)

    await set_status(ann, "away")
    await eventually(lambda: _shows(b, ann.user_id, status="away", manual=True))
    assert (await statuses_on(b, [ann.user_id, bob.user_id]))[ann.user_id]["status"] == "away"
    await eventually(lambda: _announced(on_b, ann.user_id, "away"))
    assert on_b[-1].data == {"status": "away", "user_id": ann.user_id} and on_b[-1].user_id == ann.user_id

    end = int(time.time()) + 3600
    await set_status(bob, "dnd", dnd_end_time=end)
    await eventually(lambda: _shows(a, bob.user_id, status="dnd", manual=True, dnd_end_time=end - end % 60))
    assert (await status_on(b, bob.user_id))["dnd_end_time"] == end - end % 60
    await eventually(lambda: _announced(on_a, bob.user_id, "dnd"))

    sent = [s for s in sent_statuses(cluster, b) if s["user_id"] == ann.user_id]
    # Mattermost's Status keys, plus our status clock (its decoder ignores unknown keys)
    assert sent and all(list(s) == ["user_id", "status", "manual", "last_activity_at", "dnd_end_time",
                                    "isthmus_status_at"] for s in sent)
    await set_status(ann, "online")  # back to automatic presence: manual goes away on the other side too
    await eventually(lambda: _shows(b, ann.user_id, status="online", manual=False))
    # Never echoed: alpha never got its own user's status, beta never got bob's.
    assert all(s["user_id"] != ann.user_id for s in sent_statuses(cluster, a))
    assert all(s["user_id"] != bob.user_id for s in sent_statuses(cluster, b))


async def _announced(events: list[Event], user_id: str, status: str) -> bool:
    """The ``status_change`` the hub delivers (to the user's own sockets, as Mattermost's BroadcastStatus)."""
    return any(e.user_id == user_id and e.data.get("status") == status for e in events)


async def test_automatic_presence_reaches_the_peer_and_the_peer_leaves_it_alone(cluster: Cluster) -> None:
    a, b, _rid, _ch, ann, _bob = await _pair(cluster)
    await statuses.set_online(a.server.domain, ann.user_id)  # what the hub does when a socket connects
    await eventually(lambda: _shows(b, ann.user_id, status="online", manual=False))
    await statuses.set_away(a.server.domain, ann.user_id, away_after_ms=0)  # alpha's idle sweep
    await eventually(lambda: _shows(b, ann.user_id, status="away", manual=False))
    await statuses.set_online(a.server.domain, ann.user_id)
    await eventually(lambda: _shows(b, ann.user_id, status="online", manual=False))
    # beta's own presence rules never touch alpha's user: not its idle sweep, not its startup reset
    await statuses.sweep(b.server.domain, 0, lambda _uid: False)
    await statuses.reset_automatic(b.server.domain)
    assert (await status_on(b, ann.user_id))["status"] == "online"

    end = int(time.time()) - 120  # a timed DND that already ended: alpha's sweep restores presence
    await statuses.set_dnd(a.server.domain, ann.user_id, end)
    await eventually(lambda: _shows(b, ann.user_id, status="dnd", dnd_end_time=end - end % 60))
    await statuses.sweep(a.server.domain, 10**9, lambda _uid: False)
    await eventually(lambda: _shows(b, ann.user_id, status="offline", manual=False, dnd_end_time=0))

    await statuses.set_online(a.server.domain, ann.user_id)
    await eventually(lambda: _shows(b, ann.user_id, status="online"))
    await restart(cluster, a)  # alpha "crashed": at its start nobody is connected, and beta hears so
    await eventually(lambda: _shows(b, ann.user_id, status="offline", manual=False))


async def test_one_status_message_per_remote_for_a_user_in_several_channels(cluster: Cluster) -> None:
    a, b, rid, ch, ann, _bob = await _pair(cluster)
    ch2 = await channel(a)
    await share(a, ch2, (b, rid))
    r = await a.http.post(f"/api/v4/channels/{ch2}/members", json={"user_id": ann.user_id})
    assert r.status_code == 201, r.text
    await ann.post(ch2, "ann in the second channel too")
    await wait_converged([a, b], ch2, min_posts=1)
    await set_status(ann, "away")
    await eventually(lambda: _shows(b, ann.user_id, status="away"))
    markers = [await ann.post(c, "after the status") for c in (ch, ch2)]  # any other status row went before
    for c, m in zip((ch, ch2), markers, strict=True):
        await eventually(lambda c=c, m=m: _has(b, c, m["id"]))  # type: ignore[misc]
    assert [s["status"] for s in sent_statuses(cluster, b) if s["user_id"] == ann.user_id] == ["away"]


async def test_status_before_first_sync_travels_with_the_user(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    await set_status(ann, "dnd")  # beta does not know ann yet: nothing to send ...
    await ann.post(ch, "first post")  # ... until ann's profile goes, with her current status
    await eventually(lambda: _shows(b, ann.user_id, status="dnd", manual=True))


async def test_status_changed_during_partition_arrives_after_heal(cluster: Cluster) -> None:
    _a, b, _rid, ch, ann, _bob = await _pair(cluster)
    await set_status(ann, "away")
    await eventually(lambda: _shows(b, ann.user_id, status="away"))
    cluster.net.down.add(b.host)
    await set_status(ann, "dnd")
    await set_status(ann, "offline")  # only the latest matters
    unseen = await ann.post(ch, "written while beta is away")
    assert (await status_on(b, ann.user_id))["status"] == "away"
    cluster.net.down.discard(b.host)
    await eventually(lambda: _shows(b, ann.user_id, status="offline", manual=True))
    await eventually(lambda: _has(b, ch, unseen["id"]))


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def test_disabled_status_sync_sends_nothing(cluster: Cluster) -> None:
    a, b, _rid, ch, ann, _bob = await _pair(
        cluster, MM_CONNECTEDWORKSPACESSETTINGS_DISABLESHAREDCHANNELSSTATUSSYNC="true")
    await set_status(ann, "dnd")
    marker = await ann.post(ch, "after the status")  # sent after any status row of the same channel
    await eventually(lambda: _has(b, ch, marker["id"]))
    assert (await status_on(a, ann.user_id))["status"] == "dnd"
    assert (await status_on(b, ann.user_id))["status"] == "offline"
    assert sent_statuses(cluster, b) == []


async def test_home_relays_statuses_without_echo(cluster: Cluster) -> None:
    home, x, y = (await share_node(cluster, "home"), await share_node(cluster, "xray"),
                  await share_node(cluster, "yank"))
    hx, hy = await cluster.connect(home, x), await cluster.connect(home, y)
    ch = await channel(home)
    await share(home, ch, (x, hx), (y, hy))
    xena, yuri = await person(x, channel_id=ch), await person(y, channel_id=ch)
    await xena.post(ch, "from xray")
    await yuri.post(ch, "from yank")
    await wait_converged([home, x, y], ch, min_posts=2)
    await set_status(xena, "away")
    await eventually(lambda: _shows(y, xena.user_id, status="away", manual=True))
    assert (await status_on(home, xena.user_id))["status"] == "away"
    await set_status(yuri, "dnd")
    await eventually(lambda: _shows(x, yuri.user_id, status="dnd"))
    assert all(s["user_id"] != xena.user_id for s in sent_statuses(cluster, x))
    assert all(s["user_id"] != yuri.user_id for s in sent_statuses(cluster, y))


def _status(user_id: object, status: object = "away", **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "status": status, "manual": True, "last_activity_at": 1000, "dnd_end_time": 0,
            **extra}


async def test_hostile_statuses_land_in_status_errors(cluster: Cluster) -> None:
    a, b, c = await share_node(cluster, "alpha"), await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, cb = await cluster.connect(a, b), await cluster.connect(c, b)
    shared = await channel(a)
    await share(a, shared, (b, ab))
    other_on_c = await channel(c)
    await share(c, other_on_c, (b, cb))
    bob = await person(b, channel_id=shared)
    cat = await person(c, channel_id=other_on_c)
    await cat.post(other_on_c, "gives beta a synthetic user owned by gamma")
    await wait_converged([c, b], other_on_c, min_posts=1)
    ann = await person(a, channel_id=shared)
    await ann.post(shared, "gives beta ann")
    await wait_converged([a, b], shared, min_posts=1)
    await set_status(bob, "dnd")
    events = status_events(b)

    forged: list[Any] = [_status(bob.user_id, "online"),  # beta's own user
                          _status(cat.user_id),  # gamma's user
                          _status(new_id()),  # nobody
                          _status("not-an-id"),
                          _status(ann.user_id, "sleeping"),
                          _status(ann.user_id, manual="yes"),
                          _status(ann.user_id, last_activity_at="yesterday"),
                          _status(ann.user_id, "dnd", dnd_end_time=-5),
                          _status(ann.user_id, dnd_end_time=True),
                          _status(ann.user_id, ["online"]),
                          "not an object"]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared, "statuses": forged})
    assert r.status == "OK", r.err
    assert sorted(r.payload["status_errors"]) == sorted(
        [bob.user_id, cat.user_id, forged[2]["user_id"], "not-an-id"] + [ann.user_id] * 6)
    assert (await status_on(b, bob.user_id))["status"] == "dnd"
    assert (await status_on(b, cat.user_id))["status"] == "offline"
    assert (await status_on(b, ann.user_id))["status"] == "offline"

    # A Mattermost peer's Status (its own keys only, active_channel included) is accepted, once.
    mm = {"user_id": ann.user_id, "status": "dnd", "manual": True, "last_activity_at": 1718000000000,
          "active_channel": shared, "dnd_end_time": 1718003600}
    for _ in range(2):
        r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared, "statuses": [mm]})
        assert r.status == "OK" and r.payload["status_errors"] is None, r
    assert await status_on(b, ann.user_id) == {k: v for k, v in mm.items() if k != "active_channel"}
    assert [e.data for e in events] == [{"status": "dnd", "user_id": ann.user_id}]  # idempotent

    # A malformed list is no statuses at all, and the rest of the message still applies.
    post = {"id": new_id(), "channel_id": shared, "user_id": ann.user_id, "message": "still here",
            "create_at": 1000, "update_at": 1000, "edit_at": 0, "delete_at": 0, "root_id": "", "type": "",
            "props": {}}
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared, "statuses": "garbage",
                                                    "posts": [post]})
    assert r.status == "OK" and r.payload["post_errors"] == [], r
    assert post["id"] in await posts_of(b, shared)
