"""Shared channels between complete in-process servers: share/invite, posts both ways, edits, deletes, pins,
threads, reactions, users and mentions, with the convergence oracle as the assertion of every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import (
    SYNC_ENV,
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    wait_converged,
)


@pytest.fixture(autouse=True)
def _fast_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in SYNC_ENV.items():
        monkeypatch.setenv(key, value)
    yield


async def test_post_on_home_reaches_remote(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    post = await ann.post(ch, "hello beta")
    await eventually(lambda: _has_post(b, ch, post["id"]))
    got = (await posts_of(b, ch))[post["id"]]
    assert got["message"] == "hello beta" and got["user_id"] == ann.user_id and got["remote_id"] == rid
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert [p["id"] for p in snap["posts"]] == [post["id"]]


async def _has_post(node: object, channel_id: str, post_id: str) -> bool:
    from tests.testlib.cluster import Node

    assert isinstance(node, Node)
    return post_id in await posts_of(node, channel_id)
