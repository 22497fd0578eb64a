"""Shared DMs and GMs, the sending side (issue 15 item 3, ``mattermost-protocol.md`` §8.1): a user opens a DM or GM
with remote users through the ordinary REST calls; the channel reaches their servers with the same id and syncs
both ways like any shared channel (the convergence oracle); read state stays local; with
``EnableSharedChannelsDMs`` off the call is refused in words; ``can_dm`` answers per §8.1."""

from __future__ import annotations

from typing import Any

from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    has_channel,
    person,
    posts_of,
    share,
    share_node,
    wait_converged,
)

DMS = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS": "true"}


async def _knows(node: Node, user_id: str) -> bool:
    return (await node.http.get(f"/api/v4/users/{user_id}")).status_code == 200


async def _introduce(home: Node, ch: str, *people: Person) -> None:
    """Each person posts in the shared channel ``ch``, so every server of it knows them (no global user sync)."""
    for p in people:
        await p.post(ch, f"hello from {p.username}")
    await wait_converged([p.node for p in people] + [home], ch, min_posts=len(people))


async def _open_dm(p: Person, other_id: str) -> dict[str, Any]:
    r = await p.http.post("/api/v4/channels/direct", json=[p.user_id, other_id])
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _can_dm(p: Person, other_id: str) -> bool:
    r = await p.http.get(f"/api/v4/sharedchannels/users/{p.user_id}/can_dm/{other_id}")
    assert r.status_code == 200, r.text
    return bool(r.json()["can_dm"])


async def _viewed(node: Node, channel_id: str, user_id: str) -> int:
    r = await node.http.get(f"/api/v4/channels/{channel_id}/members/{user_id}")
    assert r.status_code == 200, r.text
    return int(r.json()["last_viewed_at"])


async def test_dm_both_directions(cluster: Cluster) -> None:
    """ann (alpha) opens a DM with bob (beta), and bob opens one with cat (alpha): each reaches the other server
    with the same id; posts, replies, a file, reactions, an edit and a delete converge; a view stays local."""
    a, b = await share_node(cluster, "alpha", **DMS), await share_node(cluster, "beta", **DMS)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, cat, bob = await person(a, channel_id=ch), await person(a, channel_id=ch), await person(b, channel_id=ch)
    await _introduce(a, ch, ann, cat, bob)

    dm = await _open_dm(ann, bob.user_id)
    assert dm["type"] == "D" and dm["shared"] is True
    await eventually(lambda: has_channel(b, dm["id"]))
    got = (await bob.http.get(f"/api/v4/channels/{dm['id']}")).json()
    assert got["type"] == "D" and got["name"] == dm["name"] and got["shared"] is True
    assert (await _open_dm(bob, ann.user_id))["id"] == dm["id"]  # bob opening it finds the same conversation

    hello = await ann.post(dm["id"], "hi bob")
    await eventually(lambda: _has(b, dm["id"], hello["id"]))
    answer = await bob.post(dm["id"], "hi ann", root_id=hello["id"])
    doc = await upload(bob, dm["id"], "notes.txt", b"the notes\n" * 20, "text/plain")
    with_file = await bob.post(dm["id"], "the notes", file_ids=[doc["id"]])
    oops = await ann.post(dm["id"], "wrong window")
    assert (await bob.react(hello["id"], "wave")).status_code in (200, 201)
    await eventually(lambda: _has(a, dm["id"], answer["id"]))
    assert (await ann.react(answer["id"], "+1")).status_code in (200, 201)
    await ann.edit(hello["id"], "hi bob (edited)")
    await eventually(lambda: _has(b, dm["id"], oops["id"]))
    await ann.delete(oops["id"])
    snap = await wait_converged([a, b], dm["id"], min_posts=3, members=True)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[hello["id"]]["message"] == "hi bob (edited)" and by_id[oops["id"]]["deleted"]
    assert by_id[with_file["id"]]["file_ids"] == [doc["id"]]
    assert (await ann.http.get(f"/api/v4/files/{doc['id']}")).content == b"the notes\n" * 20

    # read state stays local: bob reading on beta moves nothing on alpha
    before = await _viewed(a, dm["id"], bob.user_id)
    r = await bob.http.post("/api/v4/channels/members/me/view", json={"channel_id": dm["id"]})
    assert r.status_code == 200, r.text
    assert await _viewed(b, dm["id"], bob.user_id) > before
    last = await bob.post(dm["id"], "after reading")
    await eventually(lambda: _has(a, dm["id"], last["id"]))
    assert await _viewed(a, dm["id"], bob.user_id) == before

    # the other direction: beta homes a DM with alpha's cat
    back = await _open_dm(bob, cat.user_id)
    assert back["shared"] is True and back["id"] != dm["id"]
    await eventually(lambda: has_channel(a, back["id"]))
    first = await bob.post(back["id"], "hi cat")
    reply = await cat.post(back["id"], "hi bob, from alpha")
    await wait_converged([a, b], back["id"], min_posts=2)
    assert {first["id"], reply["id"]} <= set(await posts_of(b, back["id"]))


async def test_gm_across_three_servers(cluster: Cluster) -> None:
    """ann (alpha) opens a GM with bob (beta) and cy (gamma), connected only to alpha: alpha homes it and invites
    both; each one's posts reach the two others through alpha."""
    a = await share_node(cluster, "alpha", **DMS)
    b, c = await share_node(cluster, "beta", **DMS), await share_node(cluster, "gamma", **DMS)
    ab, ac = await cluster.connect(a, b), await cluster.connect(a, c)
    ch = await channel(a)
    await share(a, ch, (b, ab), (c, ac))
    ann, bob, cy = await person(a, channel_id=ch), await person(b, channel_id=ch), await person(c, channel_id=ch)
    await _introduce(a, ch, ann, bob, cy)
    await wait_converged([a, b, c], ch, min_posts=3)

    r = await ann.http.post("/api/v4/channels/group", json=[bob.user_id, cy.user_id])
    assert r.status_code == 201, r.text
    gm = r.json()
    assert gm["type"] == "G" and gm["shared"] is True
    for node in (b, c):
        await eventually(lambda n=node: has_channel(n, gm["id"]))  # type: ignore[misc]
    got = (await cy.http.get(f"/api/v4/channels/{gm['id']}/members")).json()
    assert sorted(m["user_id"] for m in got) == sorted([ann.user_id, bob.user_id, cy.user_id])

    p1 = await ann.post(gm["id"], "hello both")
    await eventually(lambda: _has(c, gm["id"], p1["id"]))
    p2 = await bob.post(gm["id"], "hello from beta", root_id=p1["id"])
    p3 = await cy.post(gm["id"], "hello from gamma")
    await eventually(lambda: _has(b, gm["id"], p3["id"]))
    assert (await bob.react(p3["id"], "tada")).status_code in (200, 201)
    await cy.edit(p3["id"], "hello from gamma (edited)")
    snap = await wait_converged([a, b, c], gm["id"], min_posts=3, members=True)
    assert {p["id"] for p in snap["posts"]} >= {p1["id"], p2["id"], p3["id"]}

    # beta knows cy only through alpha and is not connected to gamma: it cannot open a DM with cy
    assert await _can_dm(bob, cy.user_id) is False
    r = await bob.http.post("/api/v4/channels/direct", json=[bob.user_id, cy.user_id])
    assert r.status_code == 403 and "not connected to directly" in r.json()["message"], r.text
    assert await _can_dm(bob, ann.user_id) is True


async def test_flag_off_refuses_in_words_and_can_dm_says_no(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta", **DMS)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, cat = await person(a, channel_id=ch), await person(a, channel_id=ch)
    bob, bea = await person(b, channel_id=ch), await person(b, channel_id=ch)
    await _introduce(a, ch, ann, bob, bea)

    assert await _can_dm(ann, bob.user_id) is False
    assert await _can_dm(ann, cat.user_id) is True
    why = (await ann.http.get(f"/api/v4/sharedchannels/users/{ann.user_id}/can_dm/{bob.user_id}")).json()
    assert "EnableSharedChannelsDMs" in why["isthmus_reason"]  # what the web client shows by the button
    r = await ann.http.post("/api/v4/channels/direct", json=[ann.user_id, bob.user_id])
    assert r.status_code == 403, r.text
    err = r.json()
    assert set(err) >= {"id", "message", "status_code", "request_id"} and err["status_code"] == 403
    assert "EnableSharedChannelsDMs" in err["message"] and "beta" in err["message"].lower(), err
    r = await ann.http.post("/api/v4/channels/group", json=[cat.user_id, bob.user_id, bea.user_id])
    assert r.status_code == 403 and "EnableSharedChannelsDMs" in r.json()["message"], r.text
    town = (await ann.http.get(f"/api/v4/teams/{a.team_id}/channels/name/town-square")).json()["id"]
    remote_name = (await ann.http.get(f"/api/v4/users/{bob.user_id}")).json()["username"]
    r = await ann.http.post("/api/v4/commands/execute", json={"channel_id": town, "command": f"/msg @{remote_name} hi"})
    assert r.status_code == 200 and "EnableSharedChannelsDMs" in r.json()["text"], r.text  # /msg says it too
    assert (await _open_dm(ann, cat.user_id))["shared"] is False  # local DMs are untouched
    other = (await ann.http.get(f"/api/v4/users/{ann.user_id}/channels")).json()
    assert not [c for c in other if c["type"] in ("D", "G") and c["shared"]]

    # beta has it on: bob may DM ann (alpha is connected), but alpha refuses the invite, and says so
    assert await _can_dm(bob, ann.user_id) is True
    r = await bob.http.get(f"/api/v4/sharedchannels/users/{ann.user_id}/can_dm/{bob.user_id}")
    assert r.status_code == 403, r.text  # only for oneself


async def test_a_refused_dm_is_offered_again_when_reopened(cluster: Cluster) -> None:
    """beta has shared DMs off: it refuses alpha's DM invite, alpha withdraws it (ann's post stays on alpha).
    Once beta's admin turns the flag on, ann opening the DM again re-invites beta, which gets the earlier post."""
    a, b = await share_node(cluster, "alpha", **DMS), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    await _introduce(a, ch, ann, bob)

    dm = await _open_dm(ann, bob.user_id)
    await eventually(lambda: _withdrawn(a, dm["id"], ab))
    early = await ann.post(dm["id"], "are you there?")
    assert not await has_channel(b, dm["id"])

    r = await b.http.put("/api/v4/config/patch", json={"FeatureFlags": {"EnableSharedChannelsDMs": True}})
    assert r.status_code == 200, r.text
    assert (await _open_dm(ann, bob.user_id))["id"] == dm["id"]
    await eventually(lambda: has_channel(b, dm["id"]))
    await eventually(lambda: _has(b, dm["id"], early["id"]))
    reply = await bob.post(dm["id"], "now I am")
    await wait_converged([a, b], dm["id"], min_posts=2, members=True)
    assert reply["id"] in await posts_of(a, dm["id"])


async def _withdrawn(node: Node, channel_id: str, remote_id: str) -> bool:
    from isthmus.domain.sharing.shares import get_channel_remote

    row = await get_channel_remote(node.server.domain, channel_id, remote_id)
    return row is not None and row.delete_at > 0


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)
