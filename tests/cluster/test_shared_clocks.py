"""Durable profile changes and last-writer-wins clocks for profiles, statuses and memberships (issue 13, defects
8 and 9): a profile change is recorded with the change itself, and a late older message never overwrites a
newer state on the receiver."""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.core.ids import new_id
from tests.cluster.test_shared_hostile import send
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    person,
    restart,
    share,
    share_node,
    wait_converged,
)

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true"}


async def _pair(cluster: Cluster, **env: str) -> tuple[Node, Node, str, str, Person]:
    """alpha homes a channel shared with beta; bob (beta) posted there, so alpha has bob as a synthetic user."""
    a, b = await share_node(cluster, "alpha", **env), await share_node(cluster, "beta", **env)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    bob = await person(b, channel_id=ch)
    await bob.post(ch, "hi from bob")
    await wait_converged([a, b], ch, min_posts=1)
    return a, b, ab, ch, bob


async def _user(node: Node, user_id: str) -> dict[str, Any]:
    r = await node.http.get(f"/api/v4/users/{user_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- 13.8: a profile change is durable --------------------------------------------------------------------

async def test_profile_change_and_deactivation_survive_a_crash_after_commit(cluster: Cluster,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """beta dies right after bob's patch and deactivation commit, before any after-commit listener ran: the
    outbox rows were written in the changes' own transactions, so the restarted beta still tells alpha."""
    a, b, _ab, _ch, bob = await _pair(cluster)
    cluster.net.down.add("alpha.test")

    async def lost(_events: object) -> None:  # the crash: committed, nothing published
        return None

    monkeypatch.setattr(b.server.bus, "publish", lost)
    r = await b.http.put(f"/api/v4/users/{bob.user_id}/patch", json={"nickname": "Bobby"})
    assert r.status_code == 200, r.text
    r = await b.http.delete(f"/api/v4/users/{bob.user_id}")
    assert r.status_code == 200, r.text
    monkeypatch.undo()
    b = await restart(cluster, b)
    cluster.net.down.clear()

    async def deactivated_on_alpha() -> bool:
        got = await _user(a, bob.user_id)
        return bool(got["delete_at"] > 0 and got["nickname"] == "Bobby")

    await eventually(deactivated_on_alpha)


# --- 13.9: last writer wins for profiles, statuses and memberships ------------------------------------------

async def test_a_late_older_profile_does_not_overwrite_a_newer_one(cluster: Cluster) -> None:
    a, b, ab, ch, bob = await _pair(cluster)
    base = (await _user(b, bob.user_id))["update_at"]

    def profile(nickname: str, update_at: int) -> dict[str, Any]:
        return {"id": bob.user_id, "username": bob.username, "nickname": nickname, "update_at": update_at,
                "create_at": 1, "delete_at": 0}

    for nickname, at in (("newer", base + 20_000), ("older", base + 10_000)):  # delivered out of order
        r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch,
                                                        "users": {bob.user_id: profile(nickname, at)}})
        assert r.status == "OK", r.err
        assert r.payload["users_syncd"] == [bob.user_id]  # the stale one is acknowledged, not an error
    assert (await _user(a, bob.user_id))["nickname"] == "newer"
    r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch,
                                                    "users": {bob.user_id: profile("newest", base + 30_000)}})
    assert r.status == "OK", r.err
    assert (await _user(a, bob.user_id))["nickname"] == "newest"


async def _status(node: Node, user_id: str) -> dict[str, Any]:
    r = await node.http.get(f"/api/v4/users/{user_id}/status")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_late_older_status_does_not_overwrite_a_newer_one(cluster: Cluster) -> None:
    a, b, ab, ch, bob = await _pair(cluster)

    async def deliver(status: dict[str, Any]) -> None:
        r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch,
                                                        "statuses": [{"user_id": bob.user_id, **status}]})
        assert r.status == "OK" and r.payload["status_errors"] is None, r

    # An Isthmus peer's clock (isthmus_status_at) decides, whatever the activity says.
    await deliver({"status": "dnd", "manual": True, "last_activity_at": 5_000, "isthmus_status_at": 9_000_000})
    await deliver({"status": "away", "manual": True, "last_activity_at": 6_000, "isthmus_status_at": 8_000_000})
    assert (await _status(a, bob.user_id))["status"] == "dnd"
    await deliver({"status": "online", "manual": False, "last_activity_at": 7_000, "isthmus_status_at": 9_500_000})
    assert (await _status(a, bob.user_id))["status"] == "online"

    # A Mattermost peer sends no clock of ours: last_activity_at orders its statuses.
    c, d = await share_node(cluster, "gamma"), await share_node(cluster, "delta")
    cd = await cluster.connect(c, d)
    ch2 = await channel(c)
    await share(c, ch2, (d, cd))
    dan = await person(d, channel_id=ch2)
    await dan.post(ch2, "hi from dan")
    await wait_converged([c, d], ch2, min_posts=1)
    async def deliver_mm(status: str, activity: int) -> None:
        r = await send(d, c, cd, "sharedchannel_sync", {"id": new_id(), "channel_id": ch2, "statuses": [
            {"user_id": dan.user_id, "status": status, "manual": False, "last_activity_at": activity,
             "dnd_end_time": 0}]})
        assert r.status == "OK" and r.payload["status_errors"] is None, r

    await deliver_mm("away", 20_000_000_000)
    await deliver_mm("online", 10_000_000_000)
    assert (await _status(c, dan.user_id))["status"] == "away"
    await deliver_mm("offline", 0)  # no clock at all: applied, and the clock we have stays
    assert (await _status(c, dan.user_id))["status"] == "offline"
    await deliver_mm("online", 10_000_000_000)
    assert (await _status(c, dan.user_id))["status"] == "offline"


async def _members(node: Node, channel_id: str) -> set[str]:
    r = await node.http.get(f"/api/v4/channels/{channel_id}/members", params={"per_page": 200})
    assert r.status_code == 200, r.text
    return {m["user_id"] for m in r.json()}


async def test_a_late_older_membership_change_does_not_overwrite_a_newer_one(cluster: Cluster) -> None:
    a, b, ab, ch, bob = await _pair(cluster, **MEMBER_SYNC)
    await eventually(lambda: _has_member(a, ch, bob.user_id))
    now = int(__import__("time").time() * 1000)

    async def change(is_add: bool, at: int) -> None:
        r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "membership_changes": [
            {"channel_id": ch, "user_id": bob.user_id, "is_add": is_add, "remote_id": ab, "change_time": at}]})
        assert r.status == "OK" and not r.payload.get("membership_errors"), r

    await change(False, now + 20_000)  # bob left ...
    await change(True, now + 10_000)   # ... and an older "joined" arrives late
    assert bob.user_id not in await _members(a, ch)
    await change(True, now + 30_000)   # a newer join wins
    assert bob.user_id in await _members(a, ch)


async def _has_member(node: Node, channel_id: str, user_id: str) -> bool:
    return user_id in await _members(node, channel_id)


# --- issue 14 point 6: legacy membership messages -------------------------------------------------------------

async def test_legacy_membership_message_lists_its_users_in_users_syncd(cluster: Cluster) -> None:
    """A Mattermost sender counts a ``sharedchannel_membership`` change as delivered only for users listed in
    ``users_syncd`` (§1.9); refused ones are not listed."""
    a, b, ab, ch, bob = await _pair(cluster, **MEMBER_SYNC)
    ann = await person(a, channel_id=ch)
    now = int(__import__("time").time() * 1000)
    r = await send(b, a, ab, "sharedchannel_membership", {"id": new_id(), "channel_id": ch, "membership_changes": [
        {"channel_id": ch, "user_id": bob.user_id, "is_add": False, "remote_id": ab, "change_time": now},
        {"channel_id": ch, "user_id": ann.user_id, "is_add": False, "remote_id": ab, "change_time": now}]})
    assert r.status == "OK", r.err
    assert r.payload["users_syncd"] == [bob.user_id]  # ann is alpha's own user: refused
    assert len(r.payload["membership_errors"]) == 1
    assert bob.user_id not in await _members(a, ch) and ann.user_id in await _members(a, ch)


def _membership_frames(cluster: Cluster, to: Node, since: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """(msg create_at, change) of every membership change sent to ``to`` (from the ``since``-th request on)."""
    import json

    out: list[tuple[int, dict[str, Any]]] = []
    for req in cluster.net.log[since:]:
        if req.url.host != to.host or not req.url.path.endswith("/remotecluster/msg"):
            continue
        msg = json.loads(req.content)["msg"]
        if msg["topic"] == "sharedchannel_sync":
            out.extend((msg["create_at"], c) for c in msg["payload"].get("membership_changes") or [])
    return out


async def test_membership_changes_carry_the_change_time_and_the_sender(cluster: Cluster) -> None:
    """``change_time`` is the time of the join itself, not of the send; ``remote_id`` names the sending side
    (the connection id, the same on both sides), never empty."""
    import asyncio
    import time

    a, b, ab, ch, _bob = await _pair(cluster, **MEMBER_SYNC)
    cluster.net.down.add("beta.test")
    ann = await person(a, channel_id=ch)  # joins while beta is unreachable
    joined_by = int(time.time() * 1000)
    await asyncio.sleep(0.3)
    healed = len(cluster.net.log)  # (the log also holds the attempts that failed during the partition)
    cluster.net.down.clear()
    await eventually(lambda: _has_member(b, ch, ann.user_id))
    changes = [(at, c) for at, c in _membership_frames(cluster, b, healed) if c["user_id"] == ann.user_id]
    assert changes
    for sent_at, c in changes:
        assert c["is_add"] is True and c["remote_id"] == ab
        assert 0 < c["change_time"] <= joined_by < sent_at


# --- issue 14 point 5: global user sync is applied on receipt ---------------------------------------------

async def test_global_user_sync_creates_the_senders_users(cluster: Cluster) -> None:
    """A SyncMsg without a channel (§8.3) upserts the sender's users, joins them nowhere and lists them in
    ``users_syncd``; users the sender does not own are refused; a late older profile is ignored."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ann = await person(a)
    gus, hal, relayed = new_id(), new_id(), new_id()

    def user(user_id: str, username: str, update_at: int, **extra: Any) -> dict[str, Any]:
        return {"id": user_id, "username": username, "nickname": f"{username} at {update_at}", "email": "x@y.z",
                "create_at": 1000, "update_at": update_at, "delete_at": 0, "props": {}, **extra}

    r = await send(b, a, ab, "sharedchannel_global_user_sync", {"id": new_id(), "channel_id": "", "users": {
        gus: user(gus, "gus", 5000), ann.user_id: user(ann.user_id, "ann", 5000),
        relayed: user(relayed, "rel", 5000, remote_id=new_id())}})
    assert r.status == "OK", r.err
    assert r.payload["users_syncd"] == [gus]
    assert sorted(r.payload["user_errors"]) == sorted([ann.user_id, relayed])
    assert r.payload["users_last_update_at"] == 5000
    got = await _user(a, gus)
    assert got["username"] == "gus:beta" and got["nickname"] == "gus at 5000"
    r2 = await a.http.get(f"/api/v4/users/{gus}/teams")
    assert r2.status_code == 200 and r2.json() == []
    assert (await a.http.get(f"/api/v4/users/{relayed}")).status_code == 404

    # the same on sharedchannel_sync with an empty channel id; an older profile changes nothing
    r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": "", "users": {
        hal: user(hal, "hal", 7000), gus: user(gus, "gus", 4000)}})
    assert r.status == "OK", r.err
    assert sorted(r.payload["users_syncd"]) == sorted([hal, gus])
    assert (await _user(a, hal))["username"] == "hal:beta"
    assert (await _user(a, gus))["nickname"] == "gus at 5000"

    # a channel-less message carries users only
    r = await send(b, a, ab, "sharedchannel_global_user_sync", {"id": new_id(), "channel_id": "", "posts": [
        {"id": new_id(), "user_id": gus, "channel_id": "", "message": "x"}]})
    assert r.status == "FAIL"
