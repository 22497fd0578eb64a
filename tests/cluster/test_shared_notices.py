"""System messages when a channel is shared with or unshared from a workspace (issue 15 item 7b): each server
writes its own, naming the other workspace by the connection's name (home "Beta", copy "Alpha")."""

from __future__ import annotations

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import eventually, shared_trio, wait_converged

SHARED, UNSHARED = "system_shared_with_workspace", "system_unshared_from_workspace"


async def notices(node: Node, channel_id: str) -> list[tuple[str, str]]:
    r = await node.http.get(f"/api/v4/channels/{channel_id}/posts", params={"per_page": 200})
    posts = sorted(r.json()["posts"].values(), key=lambda p: p["create_at"])
    return [(p["type"], p["message"]) for p in posts if p["type"] in (SHARED, UNSHARED)]


async def test_share_and_unshare_notices_name_the_workspace_on_home_and_copies(cluster: Cluster) -> None:
    a, b, c, ab, ac, ch = await shared_trio(cluster)
    assert await notices(a, ch) == [(SHARED, "This channel is now shared with Beta."),
                                    (SHARED, "This channel is now shared with Gamma.")]
    assert await notices(b, ch) == [(SHARED, "This channel is now shared with Alpha.")]
    assert await notices(c, ch) == [(SHARED, "This channel is now shared with Alpha.")]
    await wait_converged([a, b, c], ch)  # local notices are not synced: the copies' timelines still agree

    r = await a.http.post(f"/api/v4/remotecluster/{ac}/channels/{ch}/uninvite")
    assert r.status_code == 200, r.text
    assert (await notices(a, ch))[-1] == (UNSHARED, "This channel is no longer shared with Gamma.")

    async def gamma_told() -> bool:
        return (await notices(c, ch))[-1:] == [(UNSHARED, "This channel is no longer shared with Alpha.")]
    await eventually(gamma_told)
    assert await notices(b, ch) == [(SHARED, "This channel is now shared with Alpha.")]  # beta still shares it

    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert r.status_code == 200, r.text
    assert (await notices(a, ch))[-1] == (UNSHARED, "This channel is no longer shared with Beta.")

    async def beta_told() -> bool:
        return (await notices(b, ch))[-1:] == [(UNSHARED, "This channel is no longer shared with Alpha.")]
    await eventually(beta_told)
