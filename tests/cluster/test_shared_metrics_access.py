"""``GET /metrics`` (issue 13.11): system admins only, and a scrape reads a bounded number of outbox rows.

Before, anyone who could reach the port could scrape it, and each scrape ran an aggregate over every unsent
row of every connection.
"""

from __future__ import annotations

import httpx
import pytest

from isthmus.federation import outbound as outbound_module
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import eventually, person, share_node, shared_pair, wait_converged


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics")


async def _failed(node: Node, remote_id: str) -> bool:
    value: float = node.server.shared_channels.metrics.failures.labels(remote_id)._value.get()
    return value >= 1


async def test_metrics_refuse_anonymous_callers_and_non_admins(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha")
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=a.app), base_url=a.url)
    r = await anonymous.get("/metrics")
    assert r.status_code == 401 and r.json()["status_code"] == 401 and r.json()["request_id"]
    ann = await person(a)
    r = await ann.http.get("/metrics")
    assert r.status_code == 403 and r.json()["id"] == "api.context.permissions.app_error"
    r = await a.http.get("/metrics")  # the node's system admin
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


async def test_queue_depth_looks_at_a_bounded_window_of_the_backlog(cluster: Cluster,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound_module, "METRICS_DEPTH_CAP", 4)
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "one")
    await wait_converged([a, b], ch, min_posts=1)
    cluster.net.down.add("beta.test")
    for i in range(7):
        await ann.post(ch, f"queued {i}")
    await eventually(lambda: _failed(a, ab))
    text = (await a.http.get("/metrics")).text
    assert _value(text, f'isthmus_sync_queue_depth{{remote_id="{ab}"}}') == 4  # saturated: 7 pending
    assert _value(text, f'isthmus_sync_oldest_unsent_age_seconds{{remote_id="{ab}"}}') >= 0
    cluster.net.down.clear()
    await wait_converged([a, b], ch, min_posts=8)
    await eventually(lambda: _depth_zero(a, ab))


async def _depth_zero(node: Node, remote_id: str) -> bool:
    return _value((await node.http.get("/metrics")).text, f'isthmus_sync_queue_depth{{remote_id="{remote_id}"}}') == 0
