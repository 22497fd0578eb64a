"""Files on synced posts: a receiver's websocket events carry ``metadata.files`` like a local post's, and a remote
delete deletes the post's files as a local delete does (no longer downloadable)."""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.events import Event
from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import channel, eventually, person, share, share_node, wait_converged


def _post(e: Event) -> dict[str, Any]:
    post: dict[str, Any] = json.loads(e.data["post"])
    return post


async def test_synced_post_events_carry_files_and_a_remote_delete_deletes_them(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    seen: list[Event] = []
    b.server.bus.subscribe(lambda e: seen.append(e) if e.kind.startswith("post") and e.origin == ab else None)
    text = b"the agenda\n" * 50
    doc = await upload(ann, ch, "agenda.txt", text, "text/plain")
    root = await ann.post(ch, "the agenda", file_ids=[doc["id"]])
    reply = await ann.post(ch, "and the minutes", root_id=root["id"],
                           file_ids=[(await upload(ann, ch, "minutes.txt", b"minutes", "text/plain"))["id"]])
    await wait_converged([a, b], ch, min_posts=2)

    def events(kind: str, post_id: str) -> list[dict[str, Any]]:
        return [_post(e) for e in seen if e.kind == kind and _post(e)["id"] == post_id]

    [posted] = events("posted", root["id"])
    assert [(f["id"], f["name"], f["size"]) for f in posted["metadata"]["files"]] == [(doc["id"], "agenda.txt",
                                                                                       len(text))]
    assert [f["name"] for f in events("posted", reply["id"])[0]["metadata"]["files"]] == ["minutes.txt"]
    r = await bob.http.get(f"/api/v4/files/{doc['id']}")
    assert r.status_code == 200 and r.content == text

    await ann.edit(root["id"], "the agenda, v2")
    await eventually(lambda: _has(seen, "post_edited", root["id"]))
    assert [f["id"] for f in events("post_edited", root["id"])[0]["metadata"]["files"]] == [doc["id"]]

    await ann.delete(root["id"])  # a root's delete takes its replies and all their files with it
    await eventually(lambda: _has(seen, "post_deleted", root["id"]))
    [deleted] = events("post_deleted", root["id"])
    assert [f["id"] for f in deleted["metadata"]["files"]] == [doc["id"]]
    assert deleted["metadata"]["files"][0]["delete_at"] > 0
    for file_id in (doc["id"], reply["file_ids"][0]):
        for node, who in ((b, bob.http), (b, b.http), (a, ann.http)):
            r = await who.get(f"/api/v4/files/{file_id}/info")
            assert r.status_code == 404, (node.name, file_id, r.status_code)
        assert (await bob.http.get(f"/api/v4/files/{file_id}")).status_code == 404
    await wait_converged([a, b], ch, min_posts=2)


async def _has(seen: list[Event], kind: str, post_id: str) -> bool:
    return any(e.kind == kind and _post(e)["id"] == post_id for e in seen)
