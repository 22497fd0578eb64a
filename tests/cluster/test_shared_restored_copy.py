"""A copy that was not shared for a while and is shared again (the home re-invited it) sends its home what was
written in it meanwhile: those writes made no outbox row, since the copy was not shared when they were made (the
model-based test found a post written just before the re-invite arrived, lost for good). What came from the
home is not sent back to it."""

from __future__ import annotations

import json

import httpx

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
