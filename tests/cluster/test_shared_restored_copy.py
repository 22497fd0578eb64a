"""A copy that was not shared for a while and is shared again (the home re-invited it) sends its home what was
written in it meanwhile: those writes made no outbox row, since the copy was not shared when they were made (the
model-based test found a post written just before the re-invite arrived, lost for good). What came from the
home is not sent back to it."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import pytest

from isthmus.domain import posts as posts_module
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import (
    SHARE_ENV,
    channel,
    eventually,
    invite,
    person,
    posts_of,
    share,
    share_node,
    shared_flag,
    shared_pair,
    uninvite_and_wait,
    wait_converged,
)


class Sent(httpx.AsyncBaseTransport):
    """beta's sync messages to alpha: the ids of the posts in them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.post_ids: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "alpha.test" and request.url.path.endswith("/remotecluster/msg"):
            msg = json.loads(await request.aread())["msg"]
            if msg["topic"] == "sharedchannel_sync":
                payload = msg["payload"]
                payload = json.loads(payload) if isinstance(payload, str) else payload
                self.post_ids += [p["id"] for p in payload.get("posts") or []]
        return await self.inner.handle_async_request(request)


async def test_what_a_copy_got_while_not_shared_reaches_the_home_once_it_is_shared_again(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha")
    sent = Sent(cluster.net)
    b = await cluster.add("beta", env=SHARE_ENV, transport=sent)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    from_alpha = await ann.post(ch, "from alpha before")
    await bob.post(ch, "from beta before")
    await wait_converged([a, b], ch, min_posts=2)

    await uninvite_and_wait(a, b, ch, ab)
    gap = [await bob.post(ch, f"beta while not shared {i}") for i in range(3)]
    assert (await bob.react(from_alpha["id"], "eyes")).status_code == 200
    sent.post_ids.clear()

    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text

    async def alpha_has_the_gap() -> bool:
        posts = await posts_of(a, ch)
        return all(p["id"] in posts for p in gap) and \
            any(x["emoji_name"] == "eyes" for x in posts[from_alpha["id"]].get("metadata", {}).get("reactions", []))
    await eventually(alpha_has_the_gap, within=20)
    await wait_converged([a, b], ch, min_posts=5)
    assert from_alpha["id"] not in sent.post_ids  # alpha's own post was not sent back to it
    assert sorted(p["id"] for p in gap) == sorted(set(sent.post_ids) & {p["id"] for p in gap})


@pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                    reason="PostgreSQL only: SQLite has one writer at a time, so a post cannot straddle the re-share")
async def test_a_post_whose_transaction_straddles_the_re_share_reaches_the_home(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """beta's post reads the copy as not shared, the re-share commits, then the post commits: it is after the
    re-share's replay and was written without an outbox row (run np of the model test, PostgreSQL)."""
    a, b, ab, ch = await shared_pair(cluster)
    bob = await person(b, channel_id=ch)
    await uninvite_and_wait(a, b, ch, ab)

    entered, release = asyncio.Event(), asyncio.Event()
    real_insert = posts_module.repo.insert_post

    async def held_insert(conn: Any, row: dict[str, Any]) -> None:
        if row["channel_id"] == ch and row["message"] == "straddles the re-share":
            entered.set()
            await release.wait()  # the transaction has read the channel (not shared) and holds no lock on it
        await real_insert(conn, row)

    monkeypatch.setattr(posts_module.repo, "insert_post", held_insert)
    posting = asyncio.create_task(bob.post(ch, "straddles the re-share"))
    await asyncio.wait_for(entered.wait(), 10)
    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text
    await eventually(lambda: shared_flag(b, ch))  # beta's copy is shared again, its replay marker written
    release.set()
    post = await posting

    async def alpha_has_it() -> bool:
        return post["id"] in await posts_of(a, ch)
    await eventually(alpha_has_it, within=20)
