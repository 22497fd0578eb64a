"""A peer's ``isthmus_channel_snapshot`` request gets one bounded page (issue 13.11).

Before, any connected peer could make this server read and serialize a whole channel on its event loop with
one message. Now a request returns at most SNAPSHOT_PAGE posts and a ``next`` cursor; ``verify`` follows the
pages and still compares whole channels (replies counted on their root across pages).
"""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.domain import snapshot as snapshot_module
from isthmus.federation.sync.messages import TOPIC_SNAPSHOT
from isthmus.federation.wire import Msg
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import person, shared_pair, wait_converged


async def _ask(asker: Node, remote_id: str, payload: dict[str, Any]) -> Any:
    """Send one snapshot request as the peer's sender would, and return the page it answers."""
    rc = await asker.row(remote_id)
    reply = await asker.connections.client.send_msg(
        rc.site_url, Msg.new(TOPIC_SNAPSHOT, payload, asker.server.domain.now()), remote_id=rc.remote_id,
        token=rc.remote_token)
    assert reply.ok, reply.err
    return reply.payload


async def test_a_snapshot_request_returns_a_bounded_page_and_verify_follows_the_pages(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_module, "SNAPSHOT_PAGE", 3)
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    root = await ann.post(ch, "root")
    for i in range(6):
        await ann.post(ch, f"post {i}")
    for i in range(2):  # replies on later pages than their root
        await ann.post(ch, f"reply {i}", root_id=root["id"])
    await wait_converged([a, b], ch, min_posts=9)

    first = await _ask(b, ab, {"channel_id": ch, "since": 0})
    assert len(first["posts"]) == 3 and first["next"] is not None and first["members"]
    seen = [p["id"] for p in first["posts"]]
    page = first
    while page["next"] is not None:
        page = await _ask(b, ab, {"channel_id": ch, "since": 0, "after": page["next"]})
        assert len(page["posts"]) <= 3 and page["members"] == []
        seen += [p["id"] for p in page["posts"]]
    assert len(seen) == len(set(seen)) == 9
    by_id = {p["id"]: p for p in first["posts"]}
    assert by_id[root["id"]]["reply_count"] == 2  # counted in the database, not on the page

    r = await a.http.get(f"/api/v4/sharedchannels/{ch}/verify")
    assert r.status_code == 200, r.text
    [report] = r.json()["remotes"]
    assert report["status"] == "ok" and report["posts"] == 9, report
