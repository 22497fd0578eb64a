"""A re-invite's replay is queued in bounded chunks from one durable marker (issue 13.11).

Before, the re-invite's transaction wrote one outbox row per post changed while the remote was out: a channel
with a long history made one long write transaction on the event loop. Now the invite writes one ``replay``
marker; the sender stops before it, expands REPLAY_CHUNK posts per transaction and moves the marker after
them, so a crash resumes where it stood. Everything still arrives once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from isthmus.domain.sharing import resume as share_resume
from isthmus.federation.sync import service as service_module
from isthmus.store.schema.shared import shared_channel_remotes as scr
from isthmus.store.schema.shared import sync_outbox as out
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    eventually,
    invite,
    person,
    posts_of,
    shared_pair,
    shared_trio,
    uninvite_and_wait,
    wait_converged,
)


async def _unsent(node: Node, channel_id: str, remote_id: str) -> list[tuple[str, str]]:
    async with node.server.db.read() as conn:
        cursor = (await conn.execute(select(scr.c.outbox_cursor).where(
            (scr.c.channel_id == channel_id) & (scr.c.remote_id == remote_id)))).scalar_one()
        rows = await conn.execute(select(out.c.kind, out.c.entity_id).where(
            (out.c.channel_id == channel_id) & (out.c.seq > cursor)).order_by(out.c.seq))
        return [(r[0], r[1]) for r in rows.all()]


async def test_reinvite_replays_in_chunks_from_one_marker(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(share_resume, "REPLAY_CHUNK", 3)
    expansions: list[int] = []
    real_expand = share_resume.expand_replay

    async def counted(d: Any, channel_id: str, marker_seq: int) -> bool:
        expansions.append(marker_seq)
        return await real_expand(d, channel_id, marker_seq)

    monkeypatch.setattr(service_module, "expand_replay", counted)
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "before the uninvite")
    await wait_converged([a, b], ch, min_posts=1)
    await uninvite_and_wait(a, b, ch, ab)
    missed = [await ann.post(ch, f"while beta was out {i}") for i in range(7)]
    assert (await ann.react(missed[2]["id"], "eyes")).status_code == 200

    cluster.net.down.add("beta.test")  # the invite cannot be confirmed yet: nothing expands the marker
    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text
    unsent = await _unsent(a, ch, ab)
    assert [kind for kind, _ in unsent] == ["replay"], unsent  # the invite wrote the marker, not 7+1 rows

    cluster.net.down.clear()
    snap = await wait_converged([a, b], ch, min_posts=8)
    assert len(snap["posts"]) == 8  # nothing twice
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[missed[2]["id"]]["reactions"] == [[ann.user_id, "eyes"]]
    assert len(expansions) >= 3  # 7 posts, 3 per transaction
    await eventually(lambda: _no_marker_left(a, ch))


async def _no_marker_left(node: Node, channel_id: str) -> bool:
    async with node.server.db.read() as conn:
        rows = await conn.execute(select(out.c.seq).where((out.c.channel_id == channel_id) & (out.c.kind == "replay")))
        return rows.first() is None


async def test_a_replay_marker_survives_a_restart_and_resumes(cluster: Cluster,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The marker is the durable truth: expanded partly, then the home restarts; the rest still arrives."""
    from tests.testlib.sharing import restart

    monkeypatch.setattr(share_resume, "REPLAY_CHUNK", 2)
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await uninvite_and_wait(a, b, ch, ab)
    for i in range(5):
        await ann.post(ch, f"missed {i}")
    cluster.net.down.add("beta.test")
    assert (await invite(a, ch, ab)).status_code == 200
    marker = [seq for seq in await _marker_seqs(a, ch)]
    assert len(marker) == 1
    assert await share_resume.expand_replay(a.server.domain, ch, marker[0])  # one chunk queued, marker moved
    a = await restart(cluster, a)
    cluster.net.down.clear()
    snap = await wait_converged([a, b], ch, min_posts=5)
    assert len(snap["posts"]) == 5


async def _marker_seqs(node: Node, channel_id: str) -> list[int]:
    async with node.server.db.read() as conn:
        rows = await conn.execute(select(out.c.seq).where((out.c.channel_id == channel_id) & (out.c.kind == "replay")))
        return [int(r[0]) for r in rows.all()]


async def _has_reaction(node: Node, channel_id: str, post_id: str, emoji: str) -> bool:
    post = (await posts_of(node, channel_id)).get(post_id)
    return post is not None and any(r["emoji_name"] == emoji for r in post.get("metadata", {}).get("reactions", []))


async def test_a_post_of_the_gap_changed_again_before_the_replay_is_expanded_still_arrives(cluster: Cluster) -> None:
    """alpha writes a post while beta is out and re-invites beta while beta is unreachable; a reaction then
    bumps the post past the re-invite's time. The replay still carries the post (it was bounded by the posts'
    last change, so the post fell out of it and beta refused the reaction on a post it never got)."""
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await uninvite_and_wait(a, b, ch, ab)
    gap = await ann.post(ch, "written while beta was out")
    cluster.net.down.add("beta.test")  # the replay is not expanded before beta answers again
    assert (await invite(a, ch, ab)).status_code == 200
    assert (await ann.react(gap["id"], "wave")).status_code == 200  # the post changes after the re-invite
    cluster.net.down.discard("beta.test")
    await eventually(lambda: _has_reaction(b, ch, gap["id"], "wave"), within=20)
    await wait_converged([a, b], ch, min_posts=1)


async def test_a_relayed_reaction_older_than_the_gap_still_reaches_the_re_invited_server(cluster: Cluster) -> None:
    """gamma's reaction reaches alpha (the home) late, while beta is out: it keeps gamma's time, older than the
    moment beta stopped receiving, so the replay's "reactions changed since" missed it; the outbox row that
    queued it for beta names it, and the replay now sends it."""
    a, b, c, ab, _ac, ch = await shared_trio(cluster)
    ann, cat = await person(a, channel_id=ch), await person(c, channel_id=ch)
    root = await ann.post(ch, "react to me")
    await wait_converged([a, b, c], ch, min_posts=1)

    cluster.net.down.add("beta.test")
    cluster.net.down.add("alpha.test")  # gamma's reaction waits on gamma: it reaches alpha later than it was made
    assert (await cat.react(root["id"], "tada")).status_code == 200
    await asyncio.sleep(0.3)
    cluster.net.down.discard("alpha.test")
    await eventually(lambda: _has_reaction(a, ch, root["id"], "tada"))
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")  # beta is out: it stops here
    assert r.status_code == 200, r.text
    assert (await invite(a, ch, ab)).status_code == 200
    cluster.net.down.discard("beta.test")
    await eventually(lambda: _has_reaction(b, ch, root["id"], "tada"), within=20)
