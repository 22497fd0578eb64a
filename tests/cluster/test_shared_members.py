"""Membership sync (EnableSharedChannelsMemberSync) across three servers, and the verify report."""

from __future__ import annotations

import asyncio

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, person, share, share_node, wait_converged

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true"}


async def _verify_statuses(node: Node, channel_id: str, tries: int = 5) -> dict[str, str]:
    """The verify report's status per workspace; a peer "unreachable" for one call (its snapshot request timed
    out on a loaded machine) is asked again, a few times."""
    statuses: dict[str, str] = {}
    for _ in range(tries):
        r = await node.http.get(f"/api/v4/sharedchannels/{channel_id}/verify")
        assert r.status_code == 200, r.text
        statuses = {x["name"]: x["status"] for x in r.json()["remotes"]}
        if "unreachable" not in statuses.values():
            break
        await asyncio.sleep(1)
    return statuses


async def test_members_converge_on_three_servers(cluster: Cluster) -> None:
    a, b, c = (await share_node(cluster, "alpha", **MEMBER_SYNC), await share_node(cluster, "beta", **MEMBER_SYNC),
               await share_node(cluster, "gamma", **MEMBER_SYNC))
    ab, ac = await cluster.connect(a, b), await cluster.connect(a, c)
    ch = await channel(a)
    early = await person(a, channel_id=ch)  # a member before the channel is shared: part of the initial list
    await share(a, ch, (b, ab), (c, ac))
    ann = await person(a, channel_id=ch)
    leaver = await person(a, channel_id=ch)
    bob = await person(b, channel_id=ch)
    cat = await person(c, channel_id=ch)
    snap = await wait_converged([a, b, c], ch, members=True)
    assert {early.user_id, ann.user_id, leaver.user_id, bob.user_id, cat.user_id, a.admin_id, b.admin_id,
            c.admin_id} == set(snap["members"])
    r = await a.http.delete(f"/api/v4/channels/{ch}/members/{leaver.user_id}")
    assert r.status_code == 200
    r = await bob.http.delete(f"/api/v4/channels/{ch}/members/{bob.user_id}")  # bob leaves on beta
    assert r.status_code == 200
    await cat.post(ch, "hello from gamma")
    snap = await wait_converged([a, b, c], ch, members=True, min_posts=1)
    assert leaver.user_id not in snap["members"] and bob.user_id not in snap["members"]
    assert cat.user_id in snap["members"]
    # the verify report agrees (members compared because membership sync is on)
    assert await _verify_statuses(a, ch) == {"beta": "ok", "gamma": "ok"}
    # tamper with beta's copy behind the engine's back: verify notices
    from isthmus.store.repo import channels as channels_repo

    async with b.server.db.write() as conn:
        await channels_repo.delete_channel_member(conn, ch, cat.user_id)
    assert await _verify_statuses(a, ch) == {"beta": "differs", "gamma": "ok"}
    r = await a.http.get(f"/api/v4/sharedchannels/{ch}/verify")
    report = {x["name"]: x for x in r.json()["remotes"]}
    assert any("members differ" in line for line in report["beta"]["differences"])
