"""``isthmus verify --repair``: a copy made to diverge behind the engine's back converges again, each side
re-sending only what it owns (the REST twin ``POST /api/v4/sharedchannels/{id}/verify/repair`` too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, update

from isthmus.federation.sync.verify import verify_channel
from isthmus.store.schema.posts import posts, reactions
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import person, shared_pair, shared_trio, wait_converged


async def _verify(node: Node, ch: str, *, repair: bool = False) -> dict[str, dict[str, Any]]:
    report = await verify_channel(node.server.domain, node.server.connections.client, None, ch, repair=repair)
    return {item["name"]: item for item in report["remotes"]}


async def test_repair_makes_a_tampered_copy_converge(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    cat = await person(c, channel_id=ch)
    p1 = await ann.post(ch, "first from alpha")
    p2 = await ann.post(ch, "second from alpha")
    p3 = await bob.post(ch, "from beta")
    p4 = await cat.post(ch, "from gamma")
    await wait_converged([a, b, c], ch, min_posts=4)
    assert (await bob.react(p2["id"], "wave")).status_code == 200
    await ann.edit(p2["id"], "second from alpha, edited")
    await wait_converged([a, b, c], ch, min_posts=4)
    # Behind the engine's back: beta loses alpha's p1 and the edit of p2; alpha loses beta's p3, gamma's p4
    # and beta's reaction.
    async with b.server.db.write() as conn:
        await conn.execute(delete(posts).where(posts.c.id == p1["id"]))
        await conn.execute(update(posts).where(posts.c.id == p2["id"]).values(message="second from alpha",
                                                                               edit_at=0))
    async with a.server.db.write() as conn:
        await conn.execute(delete(posts).where(posts.c.id.in_([p3["id"], p4["id"]])))
        await conn.execute(delete(reactions).where(and_(reactions.c.post_id == p2["id"],
                                                        reactions.c.user_id == bob.user_id)))
    before = await _verify(a, ch)
    assert before["beta"]["status"] == "differs" and before["gamma"]["status"] == "differs"
    # One repair from alpha: alpha re-sends what it owns (p1, p2), beta its p3 and its reaction, gamma its p4;
    # alpha relays them on. Nobody is sent back what it wrote itself.
    report = await _verify(a, ch, repair=True)
    assert report["beta"]["repair"]["resent_here"] == 2, report
    assert report["beta"]["repair"]["resent_there"] == 2, report  # p3, and p2 for the reaction
    assert report["gamma"]["repair"]["resent_there"] == 1, report
    snap = await wait_converged([a, b, c], ch, min_posts=4)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert {p1["id"], p2["id"], p3["id"], p4["id"]} <= by_id.keys()
    assert by_id[p2["id"]]["message"] == "second from alpha, edited"
    assert by_id[p2["id"]]["reactions"] == [[bob.user_id, "wave"]]
    after = await _verify(a, ch)
    assert {name: item["status"] for name, item in after.items()} == {"beta": "ok", "gamma": "ok"}
    # The REST twin, from beta's side: nothing differs any more, nothing is re-sent.
    r = await b.http.post(f"/api/v4/sharedchannels/{ch}/verify/repair")
    assert r.status_code == 200, r.text
    assert [(x["name"], x["status"]) for x in r.json()["remotes"]] == [("alpha", "ok")]


async def test_repair_needs_a_system_admin(cluster: Cluster) -> None:
    a, _b, _ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    r = await ann.http.post(f"/api/v4/sharedchannels/{ch}/verify/repair")
    assert r.status_code == 403 and r.json()["id"], r.text
