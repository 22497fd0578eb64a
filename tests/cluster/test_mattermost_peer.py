"""Our sender against a peer with Mattermost's semantics (``tests/testlib/mattermost_peer.py``): reactions toggle
on any re-send, unshare is learned lazily, Isthmus-only topics and keys are ignored. The state must converge as
a real Mattermost server would show it."""

from __future__ import annotations

from isthmus.domain.context import transaction
from isthmus.domain.models import Actor
from isthmus.store.repo import users as users_repo
from tests.testlib.cluster import Cluster, Node
from tests.testlib.mattermost_peer import MattermostPeer, add_mattermost_peer
from tests.testlib.sharing import (
    SHARE_ENV,
    channel,
    eventually,
    not_shared,
    person,
    posts_of,
    share,
    share_node,
    shared_flag,
    wait_converged,
)

# Issue 14's mismatches: each test below failed before its fix (points 1-7).


async def _pair(cluster: Cluster, *, mattermost_home: bool = False) -> tuple[Node, Node, MattermostPeer, str]:
    """alpha (Isthmus) and mm (Mattermost semantics) connected, one channel shared from the home."""
    alpha = await share_node(cluster, "alpha")
    mm, peer = await add_mattermost_peer(cluster, "mm", env=SHARE_ENV)
    rid = await cluster.connect(alpha, mm)
    home, remote = (mm, alpha) if mattermost_home else (alpha, mm)
    ch = await channel(home)
    await share(home, ch, (remote, rid))
    return alpha, mm, peer, ch


def _admin(node: Node) -> Actor:
    return Actor(node.admin_id, "system_admin system_user")


async def _emojis(node: Node, post_id: str) -> list[tuple[str, str]]:
    r = await node.http.get(f"/api/v4/posts/{post_id}/reactions")
    assert r.status_code == 200, r.text
    return sorted((x["user_id"], x["emoji_name"]) for x in r.json())


async def test_posts_edits_and_deletes_converge_with_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, peer, ch = await _pair(cluster)
    ann = await person(alpha, channel_id=ch)
    mia = await person(mm, channel_id=ch)
    first = await ann.post(ch, "hello Mattermost")
    second = await ann.post(ch, "soon gone")
    from_mm = await mia.post(ch, "hello Isthmus")
    await wait_converged([alpha, mm], ch, min_posts=3)
    await ann.edit(first["id"], "hello Mattermost (edited)")
    await ann.delete(second["id"])
    await mia.edit(from_mm["id"], "hello Isthmus (edited)")
    snap = await wait_converged([alpha, mm], ch, min_posts=2)
    assert {p["message"] for p in snap["posts"] if not p["deleted"]} >= {
        "hello Mattermost (edited)", "hello Isthmus (edited)"}
    assert second["id"] not in await posts_of(mm, ch)
    assert not peer.toggled


async def test_a_reaction_added_and_removed_converges_with_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, _peer, ch = await _pair(cluster)
    ann = await person(alpha, channel_id=ch)
    post = await ann.post(ch, "react to me")
    await wait_converged([alpha, mm], ch, min_posts=1)
    r = await ann.react(post["id"], "tada")
    assert r.status_code == 200, r.text
    await eventually(lambda: _has(mm, post["id"], [(ann.user_id, "tada")]))
    await ann.unreact(post["id"], "tada")
    await eventually(lambda: _has(mm, post["id"], []))
    await wait_converged([alpha, mm], ch, min_posts=1)


async def test_reactions_survive_more_reactions_and_edits_on_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, peer, ch = await _pair(cluster)
    ann = await person(alpha, channel_id=ch)
    bea = await person(alpha, channel_id=ch)
    post = await ann.post(ch, "react to me")
    await wait_converged([alpha, mm], ch, min_posts=1)
    assert (await ann.react(post["id"], "tada")).status_code == 200
    await eventually(lambda: _has(mm, post["id"], [(ann.user_id, "tada")]))
    assert (await bea.react(post["id"], "rocket")).status_code == 200  # a second reaction on the same post
    await ann.edit(post["id"], "react to me (edited)")  # and an edit of the post
    await eventually(lambda: _edited(mm, ch, post["id"]))
    await wait_converged([alpha, mm], ch, min_posts=1, within=5)
    assert await _emojis(mm, post["id"]) == sorted([(ann.user_id, "tada"), (bea.user_id, "rocket")])
    assert not peer.toggled, f"reactions re-sent unchanged, toggled on the Mattermost peer: {peer.toggled}"


async def test_thread_replies_reach_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, peer, ch = await _pair(cluster)
    ann = await person(alpha, channel_id=ch)
    bea = await person(alpha, channel_id=ch)
    root = await ann.post(ch, "a thread")
    await bea.post(ch, "a reply", root_id=root["id"])
    await ann.post(ch, "another reply", root_id=root["id"])
    try:
        await wait_converged([alpha, mm], ch, min_posts=3, within=5)
    finally:
        assert not peer.refused, peer.refused[0]


async def test_a_user_with_non_string_props_reaches_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, peer, ch = await _pair(cluster)
    ann = await person(alpha, channel_id=ch)
    r = await ann.http.put(f"/api/v4/users/{ann.user_id}/patch", json={
        "props": {"launches": 3}, "timezone": {"useAutomaticTimezone": True, "automaticTimezone": "UTC"}})
    assert r.status_code == 400, r.text  # refused as Mattermost's decoder would
    # A row saved before that check (or kept from a peer) still holds them: the sender must send strings only.
    async with transaction(alpha.server.domain) as tx:
        await users_repo.update_user(tx.conn, ann.user_id, {
            "props": {"launches": 3}, "timezone": {"useAutomaticTimezone": True, "automaticTimezone": "UTC"}})
    await ann.post(ch, "hello with odd props")
    try:
        await wait_converged([alpha, mm], ch, min_posts=1, within=5)
    finally:
        assert not peer.refused, peer.refused[0]


async def test_unshare_on_our_home_is_learned_lazily_by_a_mattermost_peer(cluster: Cluster) -> None:
    alpha, mm, peer, ch = await _pair(cluster)
    await alpha.server.shared_channels.share.unshare(_admin(alpha), ch)
    await eventually(lambda: _dropped(peer, "sharedchannel_unshare"))
    assert await shared_flag(mm, ch)  # Mattermost has no listener for the notice: still shared there
    mia = await person(mm, channel_id=ch)
    lost = await mia.post(ch, "anyone there?")
    await eventually(lambda: not_shared(mm, ch))  # FAIL "channel is no longer shared" on its next sync
    assert lost["id"] not in await posts_of(alpha, ch)


async def test_unshare_on_a_mattermost_home_is_learned_when_we_post(cluster: Cluster) -> None:
    """A Mattermost home sends nothing when it unshares (§5.4): our remote finds out from the FAIL answer."""
    alpha, mm, _peer, ch = await _pair(cluster, mattermost_home=True)
    await mm.server.shared_channels.share.unshare(_admin(mm), ch)
    assert await shared_flag(alpha, ch)
    ann = await person(alpha, channel_id=ch)
    lost = await ann.post(ch, "anyone there?")
    await eventually(lambda: not_shared(alpha, ch))
    assert lost["id"] not in await posts_of(mm, ch)


async def _has(node: Node, post_id: str, want: list[tuple[str, str]]) -> bool:
    return await _emojis(node, post_id) == sorted(want)


async def _edited(node: Node, channel_id: str, post_id: str) -> bool:
    post = (await posts_of(node, channel_id)).get(post_id)
    return post is not None and post["message"].endswith("(edited)")


async def _dropped(peer: MattermostPeer, topic: str) -> bool:
    return topic in peer.dropped_topics
