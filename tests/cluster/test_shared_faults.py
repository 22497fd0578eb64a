"""Faults the loopback fault proxy found (tests/loopback/test_fault_modes.py), pinned down in-process.

A network that delivers a request twice (a retrying proxy, a client that resent after a lost answer) must
not change the outcome: the receiver treats the replayed upload session as the same session, so the file still
arrives. Before the fix the replay answered "Invalid upload session", the sender took that as the peer
refusing the file, and the post was delivered for good without it.
"""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp

from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import person, shared_pair, wait_converged


def _duplicating(app: ASGIApp, hits: list[str]) -> object:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        transport = httpx.ASGITransport(app=app)
        if b"sharedchannel_upload" in body or "/remotecluster/upload/" in request.url.path:
            hits.append(request.url.path)
            await transport.handle_async_request(httpx.Request(request.method, request.url,
                                                               headers=request.headers, content=body))
        answer = await transport.handle_async_request(httpx.Request(request.method, request.url,
                                                                    headers=request.headers, content=body))
        await answer.aread()
        return answer

    return handler


async def test_a_duplicated_upload_session_still_delivers_the_file(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    hits: list[str] = []
    cluster.net.handlers[b.host] = _duplicating(cluster.net.apps[b.host], hits)  # type: ignore[assignment]
    text = b"twice delivered\n" * 40
    doc = await upload(ann, ch, "twice.txt", text, "text/plain")
    post = await ann.post(ch, "with a file", file_ids=[doc["id"]])
    await wait_converged([a, b], ch, min_posts=1)
    assert len(hits) >= 2  # both the session and the bytes were delivered twice
    r = await b.http.get(f"/api/v4/posts/{post['id']}")
    assert r.status_code == 200 and r.json()["file_ids"] == [doc["id"]]
    assert (await b.http.get(f"/api/v4/files/{doc['id']}")).content == text
    nd = (await a.http.get(f"/api/v4/remotecluster/{ab}")).json()["isthmus_not_delivered"]
    assert nd["count"] == 0, nd
