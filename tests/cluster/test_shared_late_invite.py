"""A server invited to a channel later gets what changes after its invite, not the history before it.

The cursor rule (``domain/shares.py``; ``mattermost-protocol.md`` §5: "history before the invite is not
synced"): a new remote row starts at the end of the outbox. A post written before the invite reaches the new
server only when something changes it afterwards (a deletion, a pin: the post travels in its current state,
without the reactions from before the invite, §5 "reactions changed since the cursor"). The
model-based test (tests/testlib/model_state.py ``before_invite``) follows this rule; it used to expect every
earlier post on a server invited later (tests/model/test_model_regressions.py, the mesh replay).
"""

from __future__ import annotations

from typing import Any

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, posts_of, share, share_node, snapshot, wait_converged


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


def _ids(snap: dict[str, Any]) -> set[str]:
    return {p["id"] for p in snap["posts"]}


async def test_a_server_invited_later_gets_the_changes_after_its_invite_only(cluster: Cluster) -> None:
    # A full mesh; beta's channel is shared with alpha first, gamma is invited after people wrote in it.
    a, b, c = (await share_node(cluster, "alpha"), await share_node(cluster, "beta"),
               await share_node(cluster, "gamma"))
    ab, _ac, bc = await cluster.connect(a, b), await cluster.connect(a, c), await cluster.connect(b, c)
    x = await channel(b)
    await share(b, x, (a, ab))
    bob = await person(b, channel_id=x)
    al = await person(a, channel_id=x)
    early_bob = await bob.post(x, "before gamma: bob")
    early_al = await al.post(x, "before gamma: al")  # reaches the home, beta, before gamma's invite
    doomed = await bob.post(x, "before gamma: deleted after its invite")
    pinned = await bob.post(x, "before gamma: pinned after its invite")
    assert (await bob.react(pinned["id"], "wave")).status_code == 200
    await wait_converged([b, a], x, min_posts=4)

    await share(b, x, (c, bc))
    await bob.delete(doomed["id"])
    await bob.pin(pinned["id"])
    late_al = await al.post(x, "after gamma's invite: al")  # relayed by the home to gamma
    late_bob = await bob.post(x, "after gamma's invite: bob")
    for post in (late_al, late_bob):
        await eventually(lambda p=post: _has(c, x, p["id"]))  # type: ignore[misc]

    # Everything after the invite, the deletion and the pin included (each travels as the post, without the
    # reactions from before the invite), and nothing older
    await eventually(lambda: _gamma_holds(c, x, {doomed["id"], pinned["id"], late_al["id"], late_bob["id"]}))
    gamma = {p["id"]: p for p in (await snapshot(c, x))["posts"]}
    assert gamma[doomed["id"]]["deleted"]
    assert gamma[pinned["id"]]["is_pinned"] and gamma[pinned["id"]]["reactions"] == []
    # The servers that shared the channel all along hold all six, the reaction too
    home = await wait_converged([b, a], x, min_posts=6)
    assert {early_bob["id"], early_al["id"], doomed["id"], late_al["id"], late_bob["id"]} <= _ids(home)
    assert next(p for p in home["posts"] if p["id"] == pinned["id"])["reactions"] == [[bob.user_id, "wave"]]


async def _gamma_holds(node: Node, channel_id: str, expected: set[str]) -> bool:
    return _ids(await snapshot(node, channel_id)) == expected
