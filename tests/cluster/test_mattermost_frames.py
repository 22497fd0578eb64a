"""Frames encoded by Go the way a Mattermost server encodes them (``tests/conformance/go/encode.go``: nil slices as
``null``, omitempty fields absent, zero ints, ``<>&`` escaped) are accepted and applied by an Isthmus node.

The "Mattermost" side here is only the Go encoder and a stub that answers our pings; the Isthmus node under test
goes through the real handshake (it issues the invite, the Go frame confirms it), then receives a channel invite,
users, posts (one thread root with participants as User objects, a reply, a post with priority metadata),
a reaction, a status and a topic it does not know."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from isthmus.core.ids import new_id
from isthmus.federation.invite import decrypt_invite
from tests.conformance import harness
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import eventually, has_channel, person, posts_of, share_node

MM_HOST = "mm.test"


async def _mattermost_stub(request: httpx.Request) -> httpx.Response:
    """Answers like Mattermost: pings echo ``sent_at``; any message is OK with an empty SyncResponse."""
    frame = json.loads(await request.aread())
    now = int(time.time() * 1000)
    if request.url.path.endswith("/ping"):
        return httpx.Response(200, json={"sent_at": frame["msg"]["payload"]["sent_at"], "recv_at": now})
    return httpx.Response(200, json={"status": "OK", "err": "", "payload": None})


async def _post_frame(node: Node, frame: dict[str, str], remote_id: str, token: str) -> httpx.Response:
    return await node.http.post(f"/api/v4/remotecluster/{frame['path']}", content=frame["body"].encode(), headers={
        "Content-Type": "application/json", "X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": token,
        "Authorization": ""})


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "OK", body
    return body.get("payload")


@dataclass
class Connected:
    node: Node
    remote_id: str
    token: str  # what the "Mattermost" side presents after the handshake
    ids: dict[str, Any]
    frames: dict[str, dict[str, str]]

    async def send(self, name: str) -> httpx.Response:
        return await _post_frame(self.node, self.frames[name], self.remote_id, self.token)


async def _connected(cluster: Cluster, **env: str) -> Connected:
    """An Isthmus node "beta" connected to a Go-speaking Mattermost stub over the real handshake, the channel of
    the Go frames shared with it by the stub, and the Go frames for it."""
    beta = await share_node(cluster, "beta", **env)
    cluster.net.handlers[MM_HOST] = _mattermost_stub
    remote_id, code = await cluster.invite(beta, "mattermost")
    invite = decrypt_invite(code, "s3cret-pw")
    local = await person(beta)
    ids: dict[str, Any] = {
        "remote_id": remote_id, "site_url": f"http://{MM_HOST}", "token": new_id(), "refreshed_token": new_id(),
        "channel_id": new_id(), "channel_name": "go-room", "creator_id": new_id(),
        "users": [new_id(), new_id(), new_id()], "posts": [new_id(), new_id(), new_id()],
        "local_user": local.user_id, "dm_channel_id": new_id(), "now": int(time.time() * 1000)}
    frames = harness.encode(ids)
    # Handshake: the invite token authenticates the confirmation, the refreshed token everything after.
    _ok(await _post_frame(beta, frames["confirm_invite"], remote_id, invite.token))
    conn = Connected(beta, remote_id, ids["refreshed_token"], ids, frames)
    conn.ids["local_client"] = local
    return conn


async def test_isthmus_accepts_and_applies_frames_encoded_by_go(cluster: Cluster) -> None:
    conn = await _connected(cluster)
    beta, remote_id, refreshed, ids, frames = conn.node, conn.remote_id, conn.token, conn.ids, conn.frames
    # Go's choices really are in these frames (the point of encoding them in Go):
    assert '"participants":null' in frames["sync_posts"]["body"]
    assert '"timezone":null' in frames["sync_users"]["body"]
    assert "\\u003cb\\u003e\\u0026" in frames["sync_posts"]["body"]
    assert '"direct_participant_ids":null' in frames["channel_invite"]["body"]

    row = await beta.row(remote_id)
    assert row.site_url == f"http://{MM_HOST}"
    await eventually(lambda: beta.is_online(remote_id))
    r = await conn.send("ping")
    assert r.status_code == 200, r.text
    assert r.json()["sent_at"] == ids["now"] and r.json()["recv_at"] > 0

    channel_id = ids["channel_id"]
    _ok(await conn.send("channel_invite"))
    assert await has_channel(beta, channel_id)
    r = await beta.http.get(f"/api/v4/channels/{channel_id}")
    assert r.json()["name"] == "go-room" and r.json()["display_name"] == "Go <&> room"

    synced = _ok(await _post_frame(beta, frames["sync_users"], remote_id, refreshed))
    assert sorted(synced["users_syncd"]) == sorted(ids["users"][:2]) and not synced["user_errors"]
    u0, u1 = ids["users"][:2]
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


# Issue 14's mismatches: each test below failed before its fix (points 1-7).


async def _channel_with_users(conn: Connected) -> None:
    _ok(await conn.send("channel_invite"))
    synced = _ok(await conn.send("sync_users"))
    assert sorted(synced["users_syncd"]) == sorted(conn.ids["users"][:2])


async def test_global_user_sync_from_mattermost_creates_the_users(cluster: Cluster) -> None:
    conn = await _connected(cluster, MM_CONNECTEDWORKSPACESSETTINGS_SYNCUSERSONCONNECTIONOPEN="true")
    user_id = conn.ids["users"][2]
    answer = _ok(await conn.send("global_user_sync"))
    assert answer is not None and answer["users_syncd"] == [user_id], answer
    r = await conn.node.http.get(f"/api/v4/users/{user_id}")
    assert r.status_code == 200 and r.json()["username"] == "gopher2:mattermost"


async def test_legacy_membership_message_from_mattermost_adds_the_member(cluster: Cluster) -> None:
    conn = await _connected(cluster, MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC="true")
    await _channel_with_users(conn)
    user_id, channel_id = conn.ids["users"][1], conn.ids["channel_id"]
    answer = _ok(await conn.send("membership"))
    assert answer is not None and user_id in answer["users_syncd"], answer
    r = await conn.node.http.get(f"/api/v4/channels/{channel_id}/members/{user_id}")
    assert r.status_code == 200, r.text


async def test_dm_invite_from_mattermost_creates_the_dm(cluster: Cluster) -> None:
    conn = await _connected(cluster, MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS="true")
    await _channel_with_users(conn)
    _ok(await conn.send("dm_invite"))
    local = conn.ids["local_client"]
    r = await local.http.get(f"/api/v4/channels/{conn.ids['dm_channel_id']}")
    assert r.status_code == 200 and r.json()["type"] == "D", r.text


async def test_acknowledgements_from_mattermost_are_never_silently_dropped(cluster: Cluster) -> None:
    """Issue 14 point 4 (the receiving half): an acknowledgement is applied, or listed in acknowledgement_errors;
    an empty list while dropping it would tell the Mattermost sender it was applied."""
    conn = await _connected(cluster)
    await _channel_with_users(conn)
    _ok(await conn.send("sync_posts"))
    answer = _ok(await conn.send("sync_acknowledgements"))
    flagged = conn.ids["posts"][2]
    if answer["acknowledgement_errors"] == [flagged]:
        return  # refused, and said so
    r = await conn.node.http.get(f"/api/v4/posts/{flagged}")
    acks = r.json().get("metadata", {}).get("acknowledgements") or []
    assert [a["user_id"] for a in acks] == [conn.ids["users"][1]], (answer, r.json())
