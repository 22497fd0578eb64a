"""Files on synced posts: a receiver's websocket events carry ``metadata.files`` like a local post's, and a remote
delete deletes the post's files as a local delete does (no longer downloadable)."""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.events import Event
from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import channel, eventually, person, share, share_node, shared_pair, wait_converged


def _post(e: Event) -> dict[str, Any]:
    post: dict[str, Any] = json.loads(e.data["post"])
    return post


async def test_synced_post_events_carry_files_and_a_remote_delete_deletes_them(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)
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


async def test_a_file_reaches_a_server_that_knew_its_uploader_only_through_a_relay(cluster: Cluster) -> None:
    """gamma first knows bob through alpha's relay (owned by alpha there); bob's own server then sends gamma a
    file with bob's post in gamma's channel. The upload comes before the message whose profile makes beta bob's
    owner on gamma, so it was refused ("the uploader is not owned by the sender") and the post arrived without
    its file for good (found by the crash-loop test in CI)."""
    a, b, c = await share_node(cluster, "alpha"), await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, ac, bc = await cluster.connect(a, b), await cluster.connect(a, c), await cluster.connect(b, c)
    x = await channel(a)
    await share(a, x, (b, ab), (c, ac))
    bob = await person(b, channel_id=x)
    await bob.post(x, "bob in alpha's channel")
    await wait_converged([a, b, c], x, min_posts=1)
    assert (await c.http.get(f"/api/v4/users/{bob.user_id}")).json()["remote_id"] == ac  # through alpha's relay

    y = await channel(c)
    await share(c, y, (b, bc))
    r = await b.http.post(f"/api/v4/channels/{y}/members", json={"user_id": bob.user_id})
    assert r.status_code == 201, r.text
    data = b"minutes\n" * 100
    doc = await upload(bob, y, "minutes.txt", data, "text/plain")
    post = await bob.post(y, "the minutes", file_ids=[doc["id"]])

    async def gamma_serves_the_file() -> bool:
        got = await c.http.get(f"/api/v4/posts/{post['id']}")
        if got.status_code != 200:
            return False
        return (await c.http.get(f"/api/v4/files/{doc['id']}")).content == data
    await eventually(gamma_serves_the_file, within=20)
    assert (await c.http.get(f"/api/v4/users/{bob.user_id}")).json()["remote_id"] == bc  # beta took bob over
