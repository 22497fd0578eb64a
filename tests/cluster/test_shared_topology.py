"""Three servers: the home relays, nothing echoes, re-sharing is refused; read-only shares are enforced."""

from __future__ import annotations

import json

import httpx

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    channel,
    eventually,
    invite,
    person,
    posts_of,
    share,
    share_node,
    shared_trio,
    wait_converged,
)


def _sync_posts(net_log: list[httpx.Request], host: str, post_id: str) -> int:
    """How many sync messages delivered to ``host`` carried the post ``post_id`` itself."""
    count = 0
    for req in net_log:
        if req.url.host != host or not req.url.path.endswith("/remotecluster/msg"):
            continue
        msg = json.loads(req.content)["msg"]
        if msg["topic"] == "sharedchannel_sync":
            count += sum(1 for p in msg["payload"].get("posts", []) if p["id"] == post_id)
    return count


async def test_home_relays_between_remotes_exactly_once(cluster: Cluster) -> None:
    a, b, c, ab, ac, ch = await shared_trio(cluster)
    bob = await person(b, channel_id=ch)
    cat = await person(c, channel_id=ch)
    from_b = await bob.post(ch, "from beta")
    await eventually(lambda: _has(c, ch, from_b["id"]))
    from_c = await cat.post(ch, "from gamma", root_id=from_b["id"])
    assert (await bob.react(from_b["id"], "wave")).status_code == 200
    snap = await wait_converged([a, b, c], ch, min_posts=2)
    assert [p["id"] for p in snap["posts"]] == [from_b["id"], from_c["id"]]
    assert snap["posts"][0]["reactions"] == [[bob.user_id, "wave"]] and snap["posts"][0]["reply_count"] == 1
    # gamma got beta's post through alpha only, once; nothing went back to its origin.
    assert _sync_posts(cluster.net.log, "gamma.test", from_b["id"]) >= 1
    assert _sync_posts(cluster.net.log, "beta.test", from_b["id"]) == 0
    assert _sync_posts(cluster.net.log, "gamma.test", from_c["id"]) == 0
    direct = [r for r in cluster.net.log if r.url.host == "gamma.test" and r.headers.get("X-RemoteCluster-Id") == ab]
    assert direct == []  # beta never talks to gamma
    # Beta's user on gamma is owned by alpha (the relay) and remembers where it came from.
    r = await c.http.get(f"/api/v4/users/{bob.user_id}")
    assert r.json()["remote_id"] == ac and r.json()["username"] == f"{bob.username}:beta"
    # On gamma, beta's post exists exactly once (one row, no duplicate events).
    assert list(await posts_of(c, ch)).count(from_b["id"]) == 1


async def test_resharing_a_remote_channel_is_refused(cluster: Cluster) -> None:
    a, b, c = await share_node(cluster, "alpha"), await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, bc = await cluster.connect(a, b), await cluster.connect(b, c)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    r = await invite(b, ch, bc)
    assert r.status_code == 400 and r.json()["id"] == "api.command_share.channel_invite_not_home.error", r.text
    assert not await _exists(c, ch)


async def test_read_only_share(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab), readonly=True)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    post = await ann.post(ch, "announcement")
    await eventually(lambda: _has(b, ch, post["id"]))
    # beta's own permissions refuse posting and reacting in the read-only copy
    r = await bob.http.post("/api/v4/posts", json={"channel_id": ch, "message": "may I?"})
    assert r.status_code == 403, r.text
    assert (await bob.react(post["id"], "+1")).status_code == 403
    r = await b.http.post("/api/v4/posts", json={"channel_id": ch, "message": "admins too"})
    assert r.status_code == 403, r.text
    # and alpha refuses such content even if a (misbehaving) beta sends it: beta "forgets" the flag
    from isthmus.store.repo import shared as shared_repo

    async with b.server.db.write() as conn:
        await shared_repo.update_shared_channel(conn, ch, {"readonly": False})
    sneaky = await bob.post(ch, "beta posts anyway")
    await eventually(lambda: _refused(a, ab))
    assert sneaky["id"] not in await posts_of(a, ch)
    assert [p["id"] for p in (await wait_converged([a], ch))["posts"]] == [post["id"]]


async def _refused(node: Node, remote_id: str) -> bool:
    counter = node.server.shared_channels.metrics.items_refused.labels(remote_id, "post")
    return bool(counter._value.get() >= 1)


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def _exists(node: Node, channel_id: str) -> bool:
    return (await node.http.get(f"/api/v4/channels/{channel_id}")).status_code == 200
