"""Who may change what in a shared channel, across a mesh (issue 13, defects 2, 3, 4, 7; domain/sharing/ownership.py).

* A mesh: a channel's home relays content of users we know directly from their own server (defect 2).
* A reaction removed by the home's admin disappears on the reactor's server too (defect 3).
* Only the author's server edits a post; deletion also from the channel's home; pins from anyone (defect 4).
* A reply racing its root's deletion ends deleted on every server (defect 7).
"""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.core.ids import new_id
from tests.cluster.test_shared_hostile import post_obj, send
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    admin_of,
    channel,
    eventually,
    invite,
    person,
    posts_of,
    share,
    share_node,
    shared_pair,
    shared_trio,
    snapshot,
    uninvite_and_wait,
    wait_converged,
)

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true"}


async def _mesh(cluster: Cluster, **env: str) -> tuple[Node, Node, Node, str, str, str]:
    """alpha, beta, gamma, every pair connected: (a, b, c, ab, ac, bc)."""
    a, b, c = (await share_node(cluster, "alpha", **env), await share_node(cluster, "beta", **env),
               await share_node(cluster, "gamma", **env))
    ab, ac, bc = await cluster.connect(a, b), await cluster.connect(a, c), await cluster.connect(b, c)
    return a, b, c, ab, ac, bc


async def _owner(node: Node, user_id: str) -> Any:
    r = await node.http.get(f"/api/v4/users/{user_id}")
    assert r.status_code == 200, r.text
    return r.json().get("remote_id")


async def _join(node: Node, channel_id: str, user_id: str) -> None:
    r = await node.http.post(f"/api/v4/channels/{channel_id}/members", json={"user_id": user_id})
    assert r.status_code == 201, r.text


def _post(snap: dict[str, Any], post_id: str) -> dict[str, Any]:
    return next(p for p in snap["posts"] if p["id"] == post_id)


@pytest.mark.parametrize("member_sync", [False, True], ids=["members-off", "members-on"])
async def test_mesh_home_relays_content_of_a_user_known_directly(cluster: Cluster, member_sync: bool) -> None:
    a, b, c, ab, ac, bc = await _mesh(cluster, **(MEMBER_SYNC if member_sync else {}))
    x = await channel(a)
    await share(a, x, (b, ab))
    bob = await person(b, channel_id=x)
    await bob.post(x, "bob in X")
    await wait_converged([a, b], x, min_posts=1)
    assert await _owner(a, bob.user_id) == ab  # alpha knows bob from beta itself

    y = await channel(c)
    await share(c, y, (a, ac), (b, bc))
    await _join(b, y, bob.user_id)
    cat = await person(c, channel_id=y)
    root = await cat.post(y, "root from gamma")
    await eventually(lambda: _has(b, y, root["id"]))
    mine = await bob.post(y, "bob in Y")
    reply = await bob.post(y, "bob replies", root_id=root["id"])
    assert (await bob.react(root["id"], "wave")).status_code == 200
    await bob.edit(mine["id"], "bob in Y, edited")
    # gamma (Y's home) relays bob's content to alpha; before, alpha refused it ("not owned by the sender")
    snap = await wait_converged([c, a, b], y, min_posts=3)
    assert _post(snap, mine["id"])["message"] == "bob in Y, edited"
    assert _post(snap, reply["id"])["root_id"] == root["id"]
    assert _post(snap, root["id"])["reactions"] == [[bob.user_id, "wave"]]
    assert await _owner(a, bob.user_id) == ab  # the relay did not change who owns bob on alpha
    # and beta's own channel with alpha still takes bob's posts
    await bob.post(x, "bob in X again")
    await wait_converged([a, b], x, min_posts=2)


async def test_mesh_user_first_relayed_then_met_directly(cluster: Cluster) -> None:
    """The other order: alpha first learns bob through gamma's relay, then beta shares a channel with alpha."""
    a, b, c, ab, ac, bc = await _mesh(cluster)
    y = await channel(c)
    await share(c, y, (a, ac), (b, bc))
    bob = await person(b, channel_id=y)
    await bob.post(y, "bob in Y")
    await wait_converged([c, a, b], y, min_posts=1)
    assert await _owner(a, bob.user_id) == ac  # relayed by gamma

    x = await channel(a)
    await share(a, x, (b, ab))
    await _join(b, x, bob.user_id)
    await bob.post(x, "bob in X")
    await wait_converged([a, b], x, min_posts=1)  # before: refused, bob "not owned by" beta
    assert await _owner(a, bob.user_id) == ab  # his own server's record made him beta's
    await bob.post(y, "bob in Y again")  # gamma still relays him in its channel
    await wait_converged([c, a, b], y, min_posts=2)


async def test_home_admin_removes_a_remote_users_reaction_everywhere(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    post = await ann.post(ch, "react to me")
    await eventually(lambda: _has(b, ch, post["id"]))
    assert (await bob.react(post["id"], "spam")).status_code == 200
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    assert snap["posts"][0]["reactions"] == [[bob.user_id, "spam"]]

    # a non-home admin may not remove another workspace's user's reaction: it would not stick anywhere else
    r = await c.http.delete(f"/api/v4/users/{bob.user_id}/posts/{post['id']}/reactions/spam")
    assert r.status_code == 403 and r.json()["id"] == "api.reaction.delete.remote_user.app_error", r.text
    assert "beta" in r.json()["message"]
    # the home's admin may (moderation), and the removal reaches beta (the reactor's server) and gamma
    r = await a.http.delete(f"/api/v4/users/{bob.user_id}/posts/{post['id']}/reactions/spam")
    assert r.status_code == 200, r.text
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    assert snap["posts"][0]["reactions"] == []
    # bob can react again on his own server, and that wins everywhere
    assert (await bob.react(post["id"], "spam")).status_code == 200
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    assert snap["posts"][0]["reactions"] == [[bob.user_id, "spam"]]


async def test_remote_admin_cannot_rewrite_or_delete_a_post_from_another_workspace(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    post = await ann.post(ch, "ann's words")
    theirs = await bob.post(ch, "bob's words")
    await wait_converged([a, b], ch, min_posts=2)

    for body in ({"message": "rewritten by beta"}, {"props": {"override_username": "ceo"}}):
        r = await b.http.put(f"/api/v4/posts/{post['id']}/patch", json=body)
        assert r.status_code == 403, r.text
        assert r.json()["id"] == "api.post.update_post.remote_author.app_error"
        assert "alpha" in r.json()["message"] and r.json()["request_id"]
    r = await b.http.put(f"/api/v4/posts/{post['id']}", json={"id": post["id"], "message": "again"})
    assert r.status_code == 403, r.text
    r = await b.http.delete(f"/api/v4/posts/{post['id']}")
    assert r.status_code == 403 and r.json()["id"] == "api.post.delete_post.remote_author.app_error", r.text
    # pins are channel moderation: any participant
    await admin_of(b).pin(post["id"])
    # the home may edit nothing of bob's, but may delete it (moderation)
    r = await a.http.put(f"/api/v4/posts/{theirs['id']}/patch", json={"message": "alpha rewrites bob"})
    assert r.status_code == 403 and "beta" in r.json()["message"], r.text
    await admin_of(a).delete(theirs["id"])
    snap = await wait_converged([a, b], ch, min_posts=2)
    assert _post(snap, post["id"])["message"] == "ann's words" and _post(snap, post["id"])["is_pinned"]
    assert _post(snap, theirs["id"])["deleted"]


async def test_a_copy_no_longer_shared_cannot_delete_or_pin_the_homes_posts_but_the_former_home_can_moderate(
        cluster: Cluster) -> None:
    # What the uninvited copy changes in a post that came from the home, the next re-invite's replay does not
    # send (the home has the post), so it would stay that copy's alone (the model-based test's run z1).
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    post = await ann.post(ch, "ann's words")
    theirs = await bob.post(ch, "bob's words")
    own = await bob.post(ch, "bob's other words")
    await wait_converged([a, b], ch, min_posts=3)
    await uninvite_and_wait(a, b, ch, ab)

    r = await b.http.delete(f"/api/v4/posts/{post['id']}")
    assert r.status_code == 403 and r.json()["id"] == "api.post.delete_post.remote_author.app_error", r.text
    assert "alpha" in r.json()["message"]
    r = await b.http.post(f"/api/v4/posts/{post['id']}/pin")
    assert r.status_code == 403 and r.json()["id"] == "api.post.pin.remote_author.app_error", r.text
    assert "alpha" in r.json()["message"] and "shared again" in r.json()["message"]
    await admin_of(b).pin(own["id"])  # beta's own post: the re-accept replays it, pin included
    await admin_of(a).delete(theirs["id"])  # no longer shared on alpha either: it was the home, it moderates
    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text
    snap = await wait_converged([a, b], ch, min_posts=3)
    assert not _post(snap, post["id"])["deleted"] and not _post(snap, post["id"])["is_pinned"]
    assert _post(snap, theirs["id"])["deleted"] and _post(snap, own["id"])["is_pinned"]


async def test_a_copy_whose_connection_is_gone_is_its_own(cluster: Cluster) -> None:
    # Nothing can share the channel with beta again (a new connection has a new id): its admins moderate it.
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    post = await ann.post(ch, "ann's words")
    await wait_converged([a, b], ch, min_posts=1)
    r = await b.http.delete(f"/api/v4/remotecluster/{ab}")
    assert r.status_code == 200, r.text
    await eventually(lambda: _not_shared(b, ch))
    assert (await b.http.post(f"/api/v4/posts/{post['id']}/pin")).status_code == 200
    assert (await b.http.delete(f"/api/v4/posts/{post['id']}")).status_code == 200


async def _not_shared(node: Node, channel_id: str) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}")
    return r.status_code == 200 and not r.json()["shared"]


async def test_receivers_refuse_changes_not_from_the_authors_server(cluster: Cluster) -> None:
    """What an old or hostile peer sends anyway is refused item by item (``post_errors``)."""
    a, b, c, ab, _ac, ch = await shared_trio(cluster)
    ann, bob, cat = await person(a, channel_id=ch), await person(b, channel_id=ch), await person(c, channel_id=ch)
    p_ann, p_bob, p_cat = await ann.post(ch, "ann"), await bob.post(ch, "bob"), await cat.post(ch, "cat")
    await wait_converged([a, b, c], ch, min_posts=3)

    def edit(p: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return post_obj(p["id"], ch, p["user_id"], str(extra.pop("message", p["message"])),
                        create_at=p["create_at"], update_at=p["update_at"] + 10, **extra)

    # beta (a spoke) to alpha (the home): ann's and cat's posts are not beta's to change or delete
    refused = [edit(p_ann, message="ann, rewritten", edit_at=p_ann["create_at"] + 5),
               edit(p_ann, props={"override_username": "ceo"}, edit_at=p_ann["create_at"] + 5),
               edit(p_cat, message="cat, rewritten", edit_at=p_cat["create_at"] + 5),
               edit(p_cat, delete_at=p_cat["create_at"] + 5)]
    for item in refused:
        r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": [item]})
        assert r.status == "OK" and r.payload["post_errors"] == [item["id"]], (item, r.payload)
    # a pin is anyone's; bob's own edit is beta's
    pin = edit(p_ann, is_pinned=True, isthmus_changes=["pin"], isthmus_pin_at=p_ann["create_at"] + 7)
    own = edit(p_bob, message="bob, edited", edit_at=p_bob["create_at"] + 5)
    r = await send(b, a, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": [pin, own]})
    assert r.status == "OK" and not r.payload.get("post_errors"), r.payload
    # the home (alpha) to beta: not bob's message either, but it may delete it
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": [
        edit(p_bob, message="alpha's words for bob", edit_at=p_bob["create_at"] + 99)]})
    assert r.payload["post_errors"] == [p_bob["id"]]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": [
        edit(p_cat, message="cat, relayed edit", edit_at=p_cat["create_at"] + 9)]})
    assert not r.payload.get("post_errors")  # the home relays cat's edit: vouched
    snap = await snapshot(a, ch)
    assert [_post(snap, p["id"]).get("message") for p in (p_ann, p_bob, p_cat)] == ["ann", "bob, edited", "cat"]
    assert _post(snap, p_ann["id"])["is_pinned"] and not _post(snap, p_cat["id"])["deleted"]
    assert (await posts_of(a, ch))[p_ann["id"]]["props"].get("override_username") is None
    assert _post(await snapshot(b, ch), p_bob["id"])["message"] == "bob"  # alpha's words for bob were refused


@pytest.mark.parametrize("member_sync", [False, True], ids=["members-off", "members-on"])
async def test_a_user_removed_on_the_home_cannot_post_through_its_own_server(cluster: Cluster,
                                                                            member_sync: bool) -> None:
    env = MEMBER_SYNC if member_sync else {}
    a, b = await share_node(cluster, "alpha", **env), await share_node(cluster, "beta", **env)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    bob = await person(b, channel_id=ch)
    first = await bob.post(ch, "before")
    await eventually(lambda: _has(a, ch, first["id"]))
    r = await a.http.delete(f"/api/v4/channels/{ch}/members/{bob.user_id}")
    assert r.status_code == 200, r.text
    late: list[str] = []
    if member_sync:  # the home's removal reaches bob's own server: he is out of its copy too
        await eventually(lambda: _member(b, ch, bob.user_id, False))
        r = await bob.http.post("/api/v4/posts", json={"channel_id": ch, "message": "still here?"})
        assert r.status_code == 403, r.text
    else:  # nothing tells beta: alpha refuses his posts, even after a profile change re-sent him
        late.append((await bob.post(ch, "after removal"))["id"])
        r = await bob.http.put(f"/api/v4/users/{bob.user_id}/patch", json={"nickname": "back again"})
        assert r.status_code == 200, r.text
        late.append((await bob.post(ch, "after a profile change"))["id"])
        await eventually(lambda: _drained(b, ab))  # alpha answered them (before it takes bob back)
    r = await a.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": bob.user_id})  # the home adds him back
    assert r.status_code == 201, r.text
    if member_sync:
        await eventually(lambda: _member(b, ch, bob.user_id, True))
    back = await bob.post(ch, "welcome back")
    await eventually(lambda: _has(a, ch, back["id"]))  # beta sends in order: the earlier ones were answered
    assert not set(late) & set(await posts_of(a, ch))
    assert await _member(a, ch, bob.user_id, True)


async def _drained(node: Node, remote_id: str) -> bool:
    from isthmus.federation.sync.send import pending_channels

    async with node.server.domain.db.read() as conn:
        return not await pending_channels(conn, remote_id)


async def _member(node: Node, channel_id: str, user_id: str, expected: bool) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}/members/{user_id}")
    return (r.status_code == 200) == expected


async def test_reply_racing_its_roots_deletion_ends_deleted_everywhere(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    root = await ann.post(ch, "root")
    await wait_converged([a, b, c], ch, min_posts=1)
    cluster.net.down.add(b.host)  # alpha's deletion cannot reach beta yet; beta still reaches alpha
    await ann.delete(root["id"])
    reply = await bob.post(ch, "a reply to a root alpha just deleted", root_id=root["id"])
    await eventually(lambda: _known(a, ch, reply["id"]))
    cluster.net.down.discard(b.host)
    snap = await wait_converged([a, b, c], ch, min_posts=2)
    assert _post(snap, root["id"])["deleted"] and _post(snap, reply["id"])["deleted"]


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def _known(node: Node, channel_id: str, post_id: str) -> bool:
    return any(p["id"] == post_id for p in (await snapshot(node, channel_id))["posts"])
