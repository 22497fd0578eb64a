"""``/share-channel`` through the real slash-command endpoint, and an invite to an offline connection."""

from __future__ import annotations

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    has_channel,
    person,
    share_node,
    wait_converged,
)


async def run(node: Node, channel_id: str, command: str, who: Person | None = None) -> str:
    client = who.http if who is not None else node.http
    r = await client.post("/api/v4/commands/execute", json={"channel_id": channel_id, "command": command})
    assert r.status_code == 200, r.text
    text: str = r.json()["text"]
    return text


async def test_share_channel_command(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    assert await run(a, ch, "/share-channel") == "Missing action. Available actions: invite, uninvite, unshare, status"
    assert await run(a, ch, "/share-channel status") == "No secure connections have been invited to this channel."
    assert await run(a, ch, "/share-channel invite") == "Must specify a valid secure connection ID to invite."
    text = await run(a, ch, f"/share-channel invite --connectionID {ab}")
    assert text == ("##### This channel is now shared.\n"
                    "##### Shared channel invitation has been sent to `Beta http://beta.test`.")
    await eventually(lambda: has_channel(b, ch))
    assert await run(a, ch, f"/share-channel invite --connectionID {ab}") == \
        "The secure connection has already been invited."
    status = await run(a, ch, "/share-channel status")
    assert status.startswith(f"Status for channel ID `{ch}`") and "| Beta | http://beta.test | False | True | True |" \
        in status, status
    # the copy on beta cannot be shared onward
    assert await run(b, ch, f"/share-channel invite --connectionID {ab}") == \
        "The secure connection has already been invited."
    plain = await person(a, channel_id=ch)
    assert await run(a, ch, "/share-channel status", plain) == \
        "You require `manage_shared_channels` permission to manage shared channels."
    assert (await run(a, ch, "/share-channel nope")).startswith("Unknown action `nope`")
    assert await run(a, ch, f"/share-channel uninvite --connectionID {'x' * 26}") == \
        f"Shared channel secure connection `{'x' * 26}` does not exist for this channel."
    assert await run(a, ch, f"/share-channel uninvite --connectionID {ab}") == \
        f"##### Secure connection `{ab}` uninvited."
    assert await run(a, ch, "/share-channel unshare") == "Cannot unshare a channel that is not shared."
    r = await a.http.get("/api/v4/teams/" + a.team_id + "/commands/autocomplete_suggestions",
                         params={"user_input": "/share-channel invite --connectionID ", "channel_id": ch})
    assert r.status_code == 200 and [x["Complete"].split()[-1] for x in r.json()] == [ab], r.text


async def test_invite_to_offline_connection_is_delivered_when_it_comes_back(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    cluster.net.down.add("beta.test")
    await eventually(lambda: _offline(a, ab))
    text = await run(a, ch, f"/share-channel invite --connectionID {ab} --readonly Y")
    assert "will be delivered when it is back online" in text
    ann = await person(a, channel_id=ch)
    early = await ann.post(ch, "written while the invite was pending")
    r = await a.http.get(f"/api/v4/remotecluster/{ab}/sharedchannelremotes", params={"include_unconfirmed": "true"})
    assert [x["is_invite_confirmed"] for x in r.json()] == [False]
    assert not await has_channel(b, ch)
    cluster.net.down.clear()
    await eventually(lambda: has_channel(b, ch))
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert [p["id"] for p in snap["posts"]] == [early["id"]]
    r = await b.http.get(f"/api/v4/sharedchannels/{b.team_id}")
    assert [x["readonly"] for x in r.json() if x["id"] == ch] == [True]


async def _offline(node: Node, remote_id: str) -> bool:
    return not await node.is_online(remote_id)
