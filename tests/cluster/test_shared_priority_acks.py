"""Message priority and acknowledgements (issue 14 point 4, issue 15 item 4): the REST API Mattermost clients
use, the websocket events, and sync both ways through the home with Mattermost's wire shapes."""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.events import Event
from isthmus.core.ids import new_id
from tests.cluster.test_shared_hostile import post_obj
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    admin_of,
    channel,
    eventually,
    person,
    share,
    share_node,
    shared_trio,
    wait_converged,
)
from tests.testlib.wire_check import FrameRecorder, go_type_errors, send

URGENT_ACK = {"priority": "urgent", "requested_ack": True, "persistent_notifications": False}


async def _get(p: Person, post_id: str) -> dict[str, Any]:
    r = await p.http.get(f"/api/v4/posts/{post_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _acks(post: dict[str, Any]) -> list[str]:
    return sorted(a["user_id"] for a in post["metadata"].get("acknowledgements") or [])


async def test_priority_and_acknowledgements_over_rest(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha")
    ch = await channel(a)
    ann, bob = await person(a, channel_id=ch), await person(a, channel_id=ch)
    events: list[Event] = []
    a.server.bus.subscribe(events.append)

    post = await ann.post(ch, "please read", metadata={"priority": URGENT_ACK})
    assert post["metadata"]["priority"] == URGENT_ACK
    assert (await _get(bob, post["id"]))["metadata"]["priority"] == URGENT_ACK
    r = await bob.http.get(f"/api/v4/channels/{ch}/posts")
    assert r.json()["posts"][post["id"]]["metadata"]["priority"] == URGENT_ACK
    plain = await ann.post(ch, "plain")
    assert "priority" not in plain["metadata"]

    bad: list[tuple[dict[str, Any], str]] = [
        ({"priority": {"priority": "bogus"}}, "api.post.post_priority.invalid_priority.request_error"),
        ({"priority": {"priority": "important", "persistent_notifications": True}},
         "api.post.post_priority.urgent_persistent_notification_post.request_error"),
        ({"priority": {"priority": "urgent", "requested_ack": "yes"}}, "api.context.invalid_body_param.app_error"),
        ({"priority": "urgent"}, "api.context.invalid_body_param.app_error")]
    for metadata, err_id in bad:
        r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": "x", "metadata": metadata})
        assert r.status_code == 400 and r.json()["id"] == err_id and r.json()["request_id"], (metadata, r.text)
    r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": "reply", "root_id": post["id"],
                                                   "metadata": {"priority": URGENT_ACK}})
    assert r.status_code == 400
    assert r.json()["id"] == "api.post.post_priority.priority_post_only_allowed_for_root_post.request_error"

    r = await bob.http.post(f"/api/v4/users/me/posts/{post['id']}/ack")
    assert r.status_code == 200, r.text
    ack = r.json()
    assert ack["user_id"] == bob.user_id and ack["post_id"] == post["id"] and ack["channel_id"] == ch
    assert ack["acknowledged_at"] > 0 and "remote_id" not in ack
    again = await bob.http.post(f"/api/v4/users/{bob.user_id}/posts/{post['id']}/ack")
    assert again.json() == ack  # idempotent
    assert _acks(await _get(ann, post["id"])) == [bob.user_id]
    added = [e for e in events if e.kind == "post_acknowledgement_added"]
    assert len(added) == 1 and added[0].channel_id == ch and json.loads(added[0].data["acknowledgement"]) == ack

    r = await ann.http.post(f"/api/v4/users/{bob.user_id}/posts/{post['id']}/ack")
    assert r.status_code == 403 and r.json()["id"] == "api.context.permissions.app_error"
    r = await bob.http.post(f"/api/v4/users/me/posts/{new_id()}/ack")
    assert r.status_code == 404
    r = await bob.http.post("/api/v4/users/me/posts/not-an-id/ack")
    assert r.status_code == 400 and r.json()["id"] == "api.context.invalid_url_param.app_error"

    r = await bob.http.delete(f"/api/v4/users/me/posts/{post['id']}/ack")
    assert r.status_code == 200 and r.json() == {"status": "OK"}
    assert _acks(await _get(ann, post["id"])) == []
    removed = [e for e in events if e.kind == "post_acknowledgement_removed"]
    assert len(removed) == 1 and json.loads(removed[0].data["acknowledgement"])["user_id"] == bob.user_id


async def _acked_by(node: Node, viewer: Person, post_id: str, user_ids: list[str]) -> bool:
    r = await node.http.get(f"/api/v4/posts/{post_id}")
    return r.status_code == 200 and _acks(r.json()) == sorted(user_ids)


async def test_priority_and_acknowledgements_sync_through_the_home(cluster: Cluster) -> None:
    """alpha is the home; beta and gamma each share the channel with it only. Priority travels with the post;
    an acknowledgement on beta reaches gamma through alpha and never goes back to beta; the frames decode as
    Go types and every answer says all acknowledgements were applied."""
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    to_b, to_c = FrameRecorder.install(cluster, b), FrameRecorder.install(cluster, c)
    to_a = FrameRecorder.install(cluster, a)
    ann = await person(a, channel_id=ch)
    bob, cat = await person(b, channel_id=ch), await person(c, channel_id=ch)
    post = await ann.post(ch, "urgent, please acknowledge", metadata={"priority": URGENT_ACK})
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    assert next(p for p in snap["posts"] if p["id"] == post["id"])["priority"] == URGENT_ACK
    assert (await _get(bob, post["id"]))["metadata"]["priority"] == URGENT_ACK

    r = await bob.http.post(f"/api/v4/users/me/posts/{post['id']}/ack")
    assert r.status_code == 200, r.text
    r = await cat.http.post(f"/api/v4/users/me/posts/{post['id']}/ack")
    assert r.status_code == 200, r.text
    for node in (a, b, c):
        await eventually(lambda n=node: _acked_by(n, ann, post["id"], [bob.user_id, cat.user_id]))  # type: ignore[misc]
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    assert [u for u, _ in next(p for p in snap["posts"] if p["id"] == post["id"])["acknowledgements"]] == \
        sorted([bob.user_id, cat.user_id])

    await bob.http.delete(f"/api/v4/users/me/posts/{post['id']}/ack")
    for node in (a, b, c):
        await eventually(lambda n=node: _acked_by(n, ann, post["id"], [cat.user_id]))  # type: ignore[misc]
    await wait_converged([a, b, c], ch, min_posts=1)

    def sent(rec: FrameRecorder, user_id: str) -> list[int]:
        return [x["acknowledged_at"] for s in rec.syncs() for x in s.get("acknowledgements") or []
                if x["user_id"] == user_id]

    assert sent(to_b, bob.user_id) == [] and sent(to_c, cat.user_id) == []  # never echoed to the owner
    assert [at > 0 for at in sent(to_a, bob.user_id)] == [True, False]  # beta's add, then its removal
    assert [at > 0 for at in sent(to_c, bob.user_id)] == [True, False]  # relayed by the home to gamma
    assert [at > 0 for at in sent(to_b, cat.user_id)] == [True]
    for rec in (to_a, to_b, to_c):
        assert [e for s in rec.syncs() for e in go_type_errors(s)] == []
        assert all(f.answer["acknowledgement_errors"] == [] for f in rec.frames
                   if f.topic == "sharedchannel_sync" and isinstance(f.answer, dict))
        posts = [p for s in rec.syncs() for p in s.get("posts") or []]
        assert all("acknowledgements" not in p["metadata"] for p in posts)


async def test_acknowledgements_from_a_peer_are_checked(cluster: Cluster) -> None:
    """Only the acknowledging user's own server may add or remove it, on a post of the synced channel; refused
    ones are listed in acknowledgement_errors (the rest applies). A Mattermost-shaped post carrying
    metadata.priority keeps it."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch, other = await channel(a), await channel(b)
    await share(a, ch, (b, ab))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    await ann.post(ch, "hello")
    await wait_converged([a, b], ch, min_posts=1)
    pid, elsewhere = new_id(), (await admin_of(b).post(other, "not shared"))["id"]
    shaped = post_obj(pid, ch, ann.user_id, "from a Mattermost peer",
                      metadata={"priority": {"priority": "important", "requested_ack": True,
                                             "persistent_notifications": False}, "embeds": None})
    acks = [{"user_id": bob.user_id, "post_id": pid, "acknowledged_at": 5, "channel_id": ch},  # beta's own user
            {"user_id": ann.user_id, "post_id": elsewhere, "acknowledged_at": 5, "channel_id": ch},
            {"user_id": ann.user_id, "post_id": pid, "acknowledged_at": "5", "channel_id": ch},
            {"user_id": ann.user_id, "post_id": pid, "acknowledged_at": 1234, "channel_id": ch}]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": [shaped],
                                                    "acknowledgements": acks})
    assert r.status == "OK" and r.payload["post_errors"] == [], r
    assert r.payload["acknowledgement_errors"] == [pid, elsewhere, pid]
    assert r.payload["acknowledgements_last_update_at"] == 1234
    got = await _get(bob, pid)
    assert got["metadata"]["priority"]["priority"] == "important"
    assert [(x["user_id"], x["acknowledged_at"], x.get("remote_id")) for x in got["metadata"]["acknowledgements"]] \
        == [(ann.user_id, 1234, ab)]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "acknowledgements": [
        {"user_id": ann.user_id, "post_id": pid, "acknowledged_at": 0, "channel_id": ch}]})
    assert r.status == "OK" and r.payload["acknowledgement_errors"] == []
    assert _acks(await _get(bob, pid)) == []
