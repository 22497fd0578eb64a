"""Frames encoded by Go the way a Mattermost server encodes them (``tests/conformance/go/encode.go``: nil slices as
``null``, omitempty fields absent, zero ints, ``<>&`` escaped) are accepted and applied by an Isthmus node.

The "Mattermost" side here is only the Go encoder and a stub that answers our pings; the Isthmus node under test
goes through the real handshake (it issues the invite, the Go frame confirms it), then receives a channel invite,
users, posts (one thread root with participants as User objects, a reply, a post with priority metadata),
a reaction, a status and a topic it does not know."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from isthmus.core.ids import new_id
from isthmus.federation.invite import decrypt_invite
from tests.conformance import harness
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import eventually, has_channel, posts_of, share_node

MM_HOST = "mm.test"


async def _mattermost_stub(request: httpx.Request) -> httpx.Response:
    """Answers like Mattermost: pings echo ``sent_at``; any message is OK with an empty SyncResponse."""
    frame = json.loads(await request.aread())
    now = int(time.time() * 1000)
    if request.url.path.endswith("/ping"):
        return httpx.Response(200, json={"sent_at": frame["msg"]["payload"]["sent_at"], "recv_at": now})
    return httpx.Response(200, json={"status": "OK", "err": "", "payload": None})


async def _post_frame(node: Any, frame: dict[str, str], remote_id: str, token: str) -> httpx.Response:
    return await node.http.post(f"/api/v4/remotecluster/{frame['path']}", content=frame["body"].encode(), headers={
        "Content-Type": "application/json", "X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": token,
        "Authorization": ""})


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "OK", body
    return body.get("payload")


async def test_isthmus_accepts_and_applies_frames_encoded_by_go(cluster: Cluster) -> None:
    beta = await share_node(cluster, "beta")
    cluster.net.handlers[MM_HOST] = _mattermost_stub
    remote_id, code = await cluster.invite(beta, "mattermost")
    invite = decrypt_invite(code, "s3cret-pw")
    refreshed = new_id()
    ids: dict[str, Any] = {
        "remote_id": remote_id, "site_url": f"http://{MM_HOST}", "token": new_id(), "refreshed_token": refreshed,
        "channel_id": new_id(), "channel_name": "go-room", "creator_id": new_id(),
        "users": [new_id(), new_id()], "posts": [new_id(), new_id(), new_id()],
        "msg_ids": [new_id() for _ in range(12)], "now": int(time.time() * 1000)}
    frames = harness.encode(ids)
    # Go's choices really are in these frames (the point of encoding them in Go):
    assert '"participants":null' in frames["sync_posts"]["body"]
    assert '"timezone":null' in frames["sync_users"]["body"]
    assert "\\u003cb\\u003e\\u0026" in frames["sync_posts"]["body"]
    assert '"direct_participant_ids":null' in frames["channel_invite"]["body"]

    # Handshake: the invite token authenticates the confirmation, the refreshed token everything after.
    _ok(await _post_frame(beta, frames["confirm_invite"], remote_id, invite.token))
    row = await beta.row(remote_id)
    assert row.site_url == f"http://{MM_HOST}"
    await eventually(lambda: beta.is_online(remote_id))
    r = await _post_frame(beta, frames["ping"], remote_id, refreshed)
    assert r.status_code == 200, r.text
    assert r.json()["sent_at"] == ids["now"] and r.json()["recv_at"] > 0

    channel_id = ids["channel_id"]
    _ok(await _post_frame(beta, frames["channel_invite"], remote_id, refreshed))
    assert await has_channel(beta, channel_id)
    r = await beta.http.get(f"/api/v4/channels/{channel_id}")
    assert r.json()["name"] == "go-room" and r.json()["display_name"] == "Go <&> room"

    synced = _ok(await _post_frame(beta, frames["sync_users"], remote_id, refreshed))
    assert sorted(synced["users_syncd"]) == sorted(ids["users"]) and not synced["user_errors"]
    u0, u1 = ids["users"]
    r = await beta.http.get(f"/api/v4/users/{u0}")
    assert r.status_code == 200 and r.json()["username"] == "gopher0:mattermost"
    assert r.json()["timezone"]["automaticTimezone"] == "Europe/Berlin"
    r = await beta.http.get(f"/api/v4/users/{u1}")
    assert r.status_code == 200 and r.json()["username"] == "gopher1:mattermost"

    answer = _ok(await _post_frame(beta, frames["sync_posts"], remote_id, refreshed))
    assert not answer["post_errors"], answer
    root_id, reply_id, flagged_id = ids["posts"]
    posts = await posts_of(beta, channel_id)
    assert posts[root_id]["message"] == "hello from Go <b>&</b>" and posts[root_id]["user_id"] == u0
    assert posts[reply_id]["root_id"] == root_id and posts[reply_id]["user_id"] == u1
    assert posts[flagged_id]["message"] == "important one"

    answer = _ok(await _post_frame(beta, frames["sync_reactions"], remote_id, refreshed))
    assert not answer["reaction_errors"], answer
    r = await beta.http.get(f"/api/v4/posts/{root_id}/reactions")
    assert [(x["user_id"], x["emoji_name"]) for x in r.json()] == [(u1, "tada")]

    answer = _ok(await _post_frame(beta, frames["sync_statuses"], remote_id, refreshed))
    assert not answer["status_errors"], answer
    r = await beta.http.get(f"/api/v4/users/{u0}/status")
    assert r.json()["status"] == "dnd"

    # A topic from a newer Mattermost: OK, nothing happens.
    assert _ok(await _post_frame(beta, frames["unknown_topic"], remote_id, refreshed)) is None
