"""A backlog is sent as a pipeline: batch N+1 is read while the peer applies batch N, yet only one request
is ever in flight per connection and only acknowledged batches move the cursor."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from isthmus.federation.sync import service
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import channel, person, share, share_node, wait_converged


async def test_backlog_pipeline_keeps_one_request_in_flight_and_loses_nothing_on_a_failed_batch(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "warm-up")
    await wait_converged([a, b], ch, min_posts=1)

    app = cluster.net.apps[b.host]
    in_flight, peak, sync_msgs = 0, 0, 0
    fail_at = 3  # the third sync message of the backlog is answered 503 once

    async def beta(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak, sync_msgs
        is_sync = request.url.path.endswith("/remotecluster/msg") and b"sharedchannel_sync" in request.content
        if is_sync:
            sync_msgs += 1
            if sync_msgs == fail_at:
                return httpx.Response(503, request=request, content=b"unavailable")
        if request.url.path.endswith("/remotecluster/ping"):  # the pinger is not the sender: it may overlap
            return await httpx.ASGITransport(app=app).handle_async_request(request)
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)  # the peer takes a moment: a second request would overlap here
            return await httpx.ASGITransport(app=app).handle_async_request(request)
        finally:
            in_flight -= 1

    read_ahead = 0
    real_collect = service.collect

    async def collect(*args: Any, **kwargs: Any) -> Any:
        nonlocal read_ahead
        read_ahead += in_flight  # a batch read while the peer still works on the previous one
        return await real_collect(*args, **kwargs)

    monkeypatch.setattr(service, "collect", collect)
    cluster.net.down.add(b.host)
    total = 50 * (service.PIPELINE_BATCHES // 2) + 17  # several batches of MaxPostsPerSync, one pass
    written = [await ann.post(ch, f"backlog {i}") for i in range(total)]
    cluster.net.down.discard(b.host)
    cluster.net.handlers[b.host] = beta
    a.server.shared_channels.outbound.poke(rid)
    snap = await wait_converged([a, b], ch, min_posts=total + 1, within=60)
    assert peak == 1 and read_ahead > 0
    assert sync_msgs > fail_at  # the failed batch was sent again after the 503
    messages = [p["message"] for p in snap["posts"]]
    assert sorted(messages) == sorted(["warm-up"] + [p["message"] for p in written])  # none lost, none twice

