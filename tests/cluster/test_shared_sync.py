"""Shared channels between complete in-process servers: share/invite, posts both ways, edits, deletes, pins,
threads, reactions, users and mentions, with the convergence oracle as the assertion of every test."""

from __future__ import annotations

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import (
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    shared_trio,
    wait_converged,
)


async def test_post_on_home_reaches_remote(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    post = await ann.post(ch, "hello beta")
    await eventually(lambda: _has_post(b, ch, post["id"]))
    got = (await posts_of(b, ch))[post["id"]]
    assert got["message"] == "hello beta" and got["user_id"] == ann.user_id and got["remote_id"] == rid
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert [p["id"] for p in snap["posts"]] == [post["id"]]


async def _has_post(node: object, channel_id: str, post_id: str) -> bool:
    from tests.testlib.cluster import Node

    assert isinstance(node, Node)
    return post_id in await posts_of(node, channel_id)


async def _pair(cluster: Cluster) -> tuple[object, object, str, str]:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    return a, b, rid, ch


async def test_everything_syncs_both_ways(cluster: Cluster) -> None:
    """Posts, edits, deletes, pins, thread replies and reactions (add, remove, re-add), written on both sides."""
    from tests.testlib.cluster import Node

    a, b, _rid, ch = await _pair(cluster)
    assert isinstance(a, Node) and isinstance(b, Node)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    root = await ann.post(ch, "root from alpha")
    await eventually(lambda: _has_post(b, ch, root["id"]))
    reply_b = await bob.post(ch, "reply from beta", root_id=root["id"])
    reply_a = await ann.post(ch, "reply from alpha", root_id=root["id"])
    from_b = await bob.post(ch, "root from beta")
    await wait_converged([a, b], ch, min_posts=4)

    await bob.edit(from_b["id"], "root from beta, edited")
    await ann.edit(reply_a["id"], "reply from alpha, edited")
    await ann.pin(from_b["id"])
    assert (await ann.react(from_b["id"], "smile")).status_code == 200
    assert (await bob.react(root["id"], "thumbsup")).status_code == 200
    assert (await bob.react(root["id"], "tada")).status_code == 200
    snap = await wait_converged([a, b], ch, min_posts=4)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[root["id"]]["reply_count"] == 2
    assert by_id[from_b["id"]]["message"] == "root from beta, edited" and by_id[from_b["id"]]["is_pinned"]
    assert by_id[from_b["id"]]["edit_at"] > 0
    assert sorted(by_id[root["id"]]["reactions"]) == [[bob.user_id, "tada"], [bob.user_id, "thumbsup"]]
    assert by_id[from_b["id"]]["reactions"] == [[ann.user_id, "smile"]]

    await bob.unreact(root["id"], "tada")  # remove …
    await ann.unreact(from_b["id"], "smile")
    snap = await wait_converged([a, b], ch, min_posts=4)
    assert {p["id"]: p for p in snap["posts"]}[root["id"]]["reactions"] == [[bob.user_id, "thumbsup"]]
    assert (await bob.react(root["id"], "tada")).status_code == 200  # … and re-add: must stay (no MM re-add bug)
    await bob.delete(reply_b["id"])
    snap = await wait_converged([a, b], ch, min_posts=4)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert sorted(by_id[root["id"]]["reactions"]) == [[bob.user_id, "tada"], [bob.user_id, "thumbsup"]]
    assert by_id[reply_b["id"]]["deleted"] and by_id[root["id"]]["reply_count"] == 1
    await ann.pin(from_b["id"], False)
    await ann.delete(root["id"])  # deleting a root deletes its replies everywhere
    snap = await wait_converged([a, b], ch, min_posts=4)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[root["id"]]["deleted"] and by_id[reply_a["id"]]["deleted"]
    assert not by_id[from_b["id"]]["is_pinned"]
    live_b = await posts_of(b, ch)
    assert set(live_b) == {from_b["id"]}


async def test_synthetic_users_mentions_and_collisions(cluster: Cluster) -> None:
    """Remote authors appear as ``name:connection``; a clash gets ``-2``; @mentions notify the right person."""
    from tests.testlib.cluster import Node

    a, b, rid, ch = await _pair(cluster)
    assert isinstance(a, Node) and isinstance(b, Node)
    ann = await person(a, "ann", channel_id=ch)
    bob = await person(b, "bob", channel_id=ch)
    # a local user on alpha already called "bob:beta" would clash with the synthetic one
    r = await a.http.post("/api/v4/users", json={"username": "carl", "email": "carl@x.test", "password": "Passw0rd!x1"})
    assert r.status_code == 201
    from isthmus.store.repo import users as users_repo

    async with a.server.db.write() as conn:
        await users_repo.update_user(conn, r.json()["id"], {"username": "bob:beta"})
    first = await ann.post(ch, "hello")  # so that beta knows ann (as ann:alpha)
    await wait_converged([a, b], ch, min_posts=1)
    hello = await bob.post(ch, "hi @ann:alpha, I am @bob")
    snap = await wait_converged([a, b], ch, min_posts=2)
    assert snap["posts"][0]["id"] == first["id"]
    assert snap["posts"][1]["message"] == f"hi @<{ann.user_id}>, I am @<{bob.user_id}>"
    r = await a.http.get(f"/api/v4/users/{bob.user_id}")
    assert r.status_code == 200
    synthetic = r.json()
    assert synthetic["username"] == "bob-2:beta" and synthetic["remote_id"] == rid
    assert synthetic["props"]["RemoteUsername"] == "bob" and "@" not in synthetic["email"]
    got = (await posts_of(a, ch))[hello["id"]]
    assert got["message"] == "hi @ann, I am @bob-2:beta"  # on alpha Bob is bob-2:beta, Ann is local
    reply = await ann.post(ch, "welcome @bob-2:beta")
    await wait_converged([a, b], ch, min_posts=3)
    assert (await posts_of(b, ch))[reply["id"]]["message"] == "welcome @bob"  # Bob is local on beta
    r = await b.http.get(f"/api/v4/users/{ann.user_id}")
    assert r.json()["username"] == "ann:alpha"
    # Bob got a mention on beta
    r = await bob.http.get(f"/api/v4/channels/{ch}/members/{bob.user_id}")
    assert r.status_code == 200 and r.json()["mention_count"] >= 1, r.text


async def test_profile_changes_follow_the_user(cluster: Cluster) -> None:
    """A profile edit reaches every server the user was synced to, relayed by the home, without a new post."""
    from tests.testlib.cluster import Node

    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    bob = await person(b, "bobby", channel_id=ch)
    await bob.post(ch, "hi")
    await wait_converged([a, b, c], ch, min_posts=1)
    r = await bob.http.put(f"/api/v4/users/{bob.user_id}/patch", json={"nickname": "Bobby B", "position": "Chef"})
    assert r.status_code == 200, r.text

    async def updated(node: Node) -> bool:
        got = (await node.http.get(f"/api/v4/users/{bob.user_id}")).json()
        return bool(got["nickname"] == "Bobby B" and got["position"] == "Chef")

    await eventually(lambda: updated(a))
    await eventually(lambda: updated(c))
    assert (await c.http.get(f"/api/v4/users/{bob.user_id}")).json()["username"] == "bobby:beta"

    # the picture travels too (§6.5), relayed by alpha to gamma
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 240)).save(out, "PNG")
    r = await bob.http.post(f"/api/v4/users/{bob.user_id}/image", files={"image": ("me.png", out.getvalue(),
                                                                                    "image/png")})
    assert r.status_code == 200, r.text
    original = (await b.http.get(f"/api/v4/users/{bob.user_id}/image")).content

    async def same_picture(node: Node) -> bool:
        got = await node.http.get(f"/api/v4/users/{bob.user_id}/image")
        if got.status_code != 200 or (await node.http.get(f"/api/v4/users/{bob.user_id}")).json()[
                "last_picture_update"] == 0:
            return False
        return list(Image.open(io.BytesIO(got.content)).getdata()) == list(Image.open(io.BytesIO(original)).getdata())

    await eventually(lambda: same_picture(a))
    await eventually(lambda: same_picture(c))


async def test_permalinks_and_search(cluster: Cluster) -> None:
    """A permalink to a post of the channel is rewritten for each side; synced posts are searchable."""
    from tests.testlib.cluster import Node

    a, b, _rid, ch = await _pair(cluster)
    assert isinstance(a, Node) and isinstance(b, Node)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    first = await ann.post(ch, "the quarterly flamingo report")
    team_a = (await a.http.get(f"/api/v4/teams/{a.team_id}")).json()["name"]
    team_b = (await b.http.get(f"/api/v4/teams/{b.team_id}")).json()["name"]
    link = await ann.post(ch, f"see http://alpha.test/{team_a}/pl/{first['id']} again")
    await wait_converged([a, b], ch, min_posts=2)
    assert (await posts_of(b, ch))[link["id"]]["message"] == f"see http://beta.test/{team_b}/pl/{first['id']} again"
    r = await bob.http.post(f"/api/v4/teams/{b.team_id}/posts/search", json={"terms": "flamingo"})
    assert r.status_code == 200, r.text
    assert first["id"] in r.json()["order"]
