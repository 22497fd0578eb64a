"""Membership sync, complete (issue 15 item 2, §8.2; Mattermost #35619, #35299, #32771, #33879): initial members
go on share to every server that gets the channel (a late-invited one included, through the home), in public and
private channels, and adds and removes made while a peer is offline reach it when it is back. Asserted with the
convergence oracle's members (``domain/snapshot.py``)."""

from __future__ import annotations

import json

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, person, share, share_node, wait_converged

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true",
               "MM_CONNECTEDWORKSPACESSETTINGS_MEMBERSYNCBATCHSIZE": "3"}


async def _three(cluster: Cluster) -> tuple[Node, Node, Node, str, str]:
    a, b, c = (await share_node(cluster, "alpha", **MEMBER_SYNC), await share_node(cluster, "beta", **MEMBER_SYNC),
               await share_node(cluster, "gamma", **MEMBER_SYNC))
    return a, b, c, await cluster.connect(a, b), await cluster.connect(a, c)


async def _remove(node: Node, channel_id: str, user_id: str) -> None:
    r = await node.http.delete(f"/api/v4/channels/{channel_id}/members/{user_id}")
    assert r.status_code == 200, r.text


async def test_a_server_invited_later_gets_every_member_through_the_home(cluster: Cluster) -> None:
    """gamma joins the share after beta: beta's people who are members already reach gamma through alpha."""
    a, b, c, ab, ac = await _three(cluster)
    for kind in ("O", "P"):
        ch = await channel(a, type_=kind)
        ann = await person(a, channel_id=ch)
        await share(a, ch, (b, ab))
        bob = await person(b, channel_id=ch)
        await wait_converged([a, b], ch, members=True)
        await share(a, ch, (c, ac))
        snap = await wait_converged([a, b, c], ch, members=True)
        assert {ann.user_id, bob.user_id} <= set(snap["members"]), kind


async def test_private_channel_members_go_both_ways(cluster: Cluster) -> None:
    a, b, c, ab, ac = await _three(cluster)
    ch = await channel(a, type_="P")
    early = [await person(a, channel_id=ch) for _ in range(4)]  # more than one batch of 3
    await share(a, ch, (b, ab), (c, ac))
    bob, cat = await person(b, channel_id=ch), await person(c, channel_id=ch)
    snap = await wait_converged([a, b, c], ch, members=True)
    assert {u.user_id for u in early} | {bob.user_id, cat.user_id} <= set(snap["members"])
    await _remove(b, ch, bob.user_id)
    await _remove(a, ch, early[0].user_id)
    snap = await wait_converged([a, b, c], ch, members=True)
    assert bob.user_id not in snap["members"] and early[0].user_id not in snap["members"]
    sizes = _membership_batch_sizes(cluster)
    assert max(sizes) == 3, sizes  # MemberSyncBatchSize: the initial list of 5 went in more than one message


def _membership_batch_sizes(cluster: Cluster) -> list[int]:
    sizes = []
    for request in cluster.net.log:
        if request.url.path.endswith("/remotecluster/msg"):
            frame = json.loads(request.content)
            changes = (frame.get("msg", {}).get("payload") or {}).get("membership_changes") or []
            if changes:
                sizes.append(len(changes))
    return sizes


async def test_adds_and_removes_while_a_peer_is_offline_are_not_lost(cluster: Cluster) -> None:
    a, b, c, ab, ac = await _three(cluster)
    ch = await channel(a)
    leaver = await person(a, channel_id=ch)
    await share(a, ch, (b, ab), (c, ac))
    bob, cat = await person(b, channel_id=ch), await person(c, channel_id=ch)
    await wait_converged([a, b, c], ch, members=True)

    cluster.net.down.add("gamma.test")  # gamma is cut off: alpha's and beta's changes wait in the outbox
    ann = await person(a, channel_id=ch)
    await _remove(a, ch, leaver.user_id)
    ben = await person(b, channel_id=ch)
    await _remove(b, ch, bob.user_id)
    await wait_converged([a, b], ch, members=True)
    cluster.net.down.clear()
    snap = await wait_converged([a, b, c], ch, members=True)
    assert {ann.user_id, ben.user_id, cat.user_id} <= set(snap["members"])
    assert not {leaver.user_id, bob.user_id} & set(snap["members"])

    cluster.net.down.add("alpha.test")  # now the home is away: gamma's changes wait for it
    cal = await person(c, channel_id=ch)
    await _remove(c, ch, cat.user_id)
    cluster.net.down.clear()
    snap = await wait_converged([a, b, c], ch, members=True)
    assert cal.user_id in snap["members"] and cat.user_id not in snap["members"]
