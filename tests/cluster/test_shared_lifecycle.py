"""Uninvite, unshare, channel deletion and connection removal: the other side is told (not just lazily)."""

from __future__ import annotations

from isthmus.domain.models import Actor
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    channel,
    eventually,
    not_shared,
    person,
    posts_of,
    share,
    share_node,
    shared_flag,
    shared_pair,
    shared_trio,
    unshared_notice,
    wait_converged,
)


async def test_uninvite_tells_the_remote_and_stops_sync(cluster: Cluster) -> None:
    a, b, c, ab, ac, ch = await shared_trio(cluster)
    assert await shared_flag(a, ch) and await shared_flag(b, ch)
    r = await a.http.get(f"/api/v4/sharedchannels/{ch}/remotes")
    assert sorted(x["name"] for x in r.json()) == ["beta", "gamma"]
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert (r.status_code, r.json()) == (200, {"status": "OK"})
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert r.status_code == 204  # not shared with beta any more
    await eventually(lambda: not_shared(b, ch))
    assert await shared_flag(a, ch)  # still shared with gamma
    ann = await person(a, channel_id=ch)
    after = await ann.post(ch, "only gamma sees this")
    await wait_converged([a, c], ch, min_posts=1)
    assert after["id"] not in await posts_of(b, ch)
    r = await a.http.post(f"/api/v4/remotecluster/{ac}/channels/{ch}/uninvite")
    assert r.status_code == 200
    await eventually(lambda: not_shared(c, ch))
    assert not await shared_flag(a, ch)  # the last remote left: unshared on the home too


async def test_unshare_tells_every_remote(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    await a.server.shared_channels.share.unshare(_admin(a), ch)
    await eventually(lambda: not_shared(b, ch))
    await eventually(lambda: not_shared(c, ch))
    assert not await shared_flag(a, ch)


async def test_mattermost_peer_learns_lazily(cluster: Cluster) -> None:
    """A peer that ignores sharedchannel_unshare (as Mattermost does) learns on its next sync."""
    a, b, _ab, ch = await shared_pair(cluster)
    b.connections.topics.pop("sharedchannel_unshare")  # beta now answers the notice OK and does nothing
    await a.server.shared_channels.share.unshare(_admin(a), ch)
    bob = await person(b, channel_id=ch)
    await eventually(lambda: _notice_sent(cluster))
    assert await shared_flag(b, ch)
    lost = await bob.post(ch, "hello?")
    await eventually(lambda: not_shared(b, ch))  # alpha answered FAIL "channel is no longer shared"
    assert lost["id"] not in await posts_of(a, ch)


async def _notice_sent(cluster: Cluster) -> bool:
    return any(b"sharedchannel_unshare" in r.content for r in cluster.net.log if r.url.host == "beta.test")


async def test_deleting_the_channel_on_its_home_deletes_it_everywhere(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    r = await a.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    await eventually(lambda: _archived(b, ch))
    # Archived first, then unshared (so a restart between the two cannot lose the archive): wait for both.
    await eventually(lambda: _unshared_with_notice(b, ch))


async def _unshared_with_notice(node: Node, channel_id: str) -> bool:
    return not await shared_flag(node, channel_id) and await unshared_notice(node, channel_id)


async def _archived(node: Node, channel_id: str) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}")
    return r.status_code == 200 and r.json()["delete_at"] > 0


async def test_removing_the_connection_unshares_on_both_sides(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    home_a = await channel(a)
    await share(a, home_a, (b, ab))
    home_b = await channel(b)
    await share(b, home_b, (a, ab))
    r = await a.http.delete(f"/api/v4/remotecluster/{ab}")
    assert r.status_code == 200
    assert not await shared_flag(a, home_a)
    await eventually(lambda: not_shared(a, home_b))  # our copy of beta's channel says so
    await eventually(lambda: not_shared(b, home_a))  # beta was told about alpha's channel
    await eventually(lambda: _flag_off(b, home_b))  # and dropped alpha from its own channel
    r = await b.http.get(f"/api/v4/sharedchannels/{home_b}/remotes")
    assert r.json() == []


async def _flag_off(node: Node, channel_id: str) -> bool:
    return not await shared_flag(node, channel_id)


def _admin(node: Node) -> Actor:
    return Actor(node.admin_id, "system_admin system_user")
