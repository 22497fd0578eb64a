"""Hostile or broken peers (#27326): every inbound item is checked against what the sender owns."""

from __future__ import annotations

from typing import Any

import httpx

from isthmus.core.ids import new_id
from isthmus.federation.wire import Msg, Response
from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    wait_converged,
)


async def send(sender: Node, to: Node, remote_id: str, topic: str, payload: Any) -> Response:
    """A frame from ``sender`` to ``to`` over the real endpoint, with sender's real credentials."""
    rc = await sender.row(remote_id)
    msg = Msg.new(topic, payload, 1)
    with wirelog.hand_made():  # hostile on purpose: not for the Go harness (our answers to it are)
        return await sender.connections.client.send_msg(to.url, msg, remote_id=remote_id, token=rc.remote_token)


def post_obj(post_id: str, channel_id: str, user_id: str, message: str = "x", **extra: Any) -> dict[str, Any]:
    return {"id": post_id, "channel_id": channel_id, "user_id": user_id, "message": message, "create_at": 1000,
            "update_at": 1000, "edit_at": 0, "delete_at": 0, "root_id": "", "type": "", "props": {}, **extra}


async def test_hostile_frames_are_rejected(cluster: Cluster) -> None:
    a, b, c = await share_node(cluster, "alpha"), await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, cb = await cluster.connect(a, b), await cluster.connect(c, b)
    shared = await channel(a)
    await share(a, shared, (b, ab))
    other_on_c = await channel(c)
    await share(c, other_on_c, (b, cb))
    private_on_b = await channel(b)  # never shared
    bob = await person(b, channel_id=shared)  # beta's local user
    cat = await person(c, channel_id=other_on_c)
    from_c = await cat.post(other_on_c, "cat's post")  # gives beta a synthetic user owned by gamma
    await wait_converged([c, b], other_on_c, min_posts=1)
    ann = await person(a, channel_id=shared)
    legit = await ann.post(shared, "legit")
    await wait_converged([a, b], shared, min_posts=1)

    # 1. content for a channel not shared with the sender: the whole message fails
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": private_on_b,
                                                    "posts": [post_obj(new_id(), private_on_b, ann.user_id)]})
    assert r.status == "FAIL" and "channel is no longer shared" in r.err
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": other_on_c,
                                                    "posts": [post_obj(new_id(), other_on_c, ann.user_id)]})
    assert r.status == "FAIL" and "channel is no longer shared" in r.err

    # 2. authors: beta's own user, and gamma's user, cannot be impersonated by alpha
    forged = [post_obj(new_id(), shared, bob.user_id, "forged as bob"),
              post_obj(new_id(), shared, cat.user_id, "forged as cat"),
              post_obj(new_id(), other_on_c, ann.user_id, "post for another channel inside this message"),
              post_obj(from_c["id"], shared, ann.user_id, "steal gamma's post id"),
              {"id": "not-an-id", "channel_id": shared, "user_id": ann.user_id, "message": "bad id"},
              post_obj(new_id(), shared, ann.user_id, "ok from ann")]
    # 3. a user update that would take over beta's local user, and one for gamma's user
    users = {bob.user_id: {"id": bob.user_id, "username": "hijacked", "nickname": "pwned"},
             cat.user_id: {"id": cat.user_id, "username": "cat2", "nickname": "pwned"}}
    reactions = [{"user_id": bob.user_id, "post_id": legit["id"], "emoji_name": "smile", "create_at": 5,
                  "update_at": 5, "delete_at": 0},
                 {"user_id": ann.user_id, "post_id": from_c["id"], "emoji_name": "smile", "create_at": 5,
                  "update_at": 5, "delete_at": 0}]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared, "users": users,
                                                    "posts": forged, "reactions": reactions})
    assert r.status == "OK", r.err
    assert sorted(r.payload["user_errors"]) == sorted([bob.user_id, cat.user_id])
    assert len(r.payload["post_errors"]) == 5 and len(r.payload["reaction_errors"]) == 2
    live = await posts_of(b, shared)
    assert {p["message"] for p in live.values()} == {"legit", "ok from ann"}
    assert from_c["id"] not in live and (await posts_of(b, other_on_c))[from_c["id"]]["message"] == "cat's post"
    r2 = await b.http.get(f"/api/v4/users/{bob.user_id}")
    assert r2.json()["username"] == bob.username and r2.json()["nickname"] == ""

    # a new user's name is reduced to Mattermost's username alphabet before munging
    odd = new_id()
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared, "users": {
        odd: {"id": odd, "username": "Evil Name\u202e<b>", "email": "x@y"}}})
    assert r.payload["users_syncd"] == [odd]
    assert (await b.http.get(f"/api/v4/users/{odd}")).json()["username"] == "evilnameb:alpha"

    # 4. an edit of a post alpha's channel does not contain
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": shared,
                                                    "posts": [post_obj(from_c["id"], shared, cat.user_id,
                                                                       "edited by alpha", edit_at=99)]})
    assert r.payload["post_errors"] == [from_c["id"]]
    assert (await posts_of(b, other_on_c))[from_c["id"]]["message"] == "cat's post"

    # 5. malformed payloads fail cleanly; an upload for a channel not shared is refused
    for bad in ({"id": new_id(), "channel_id": shared, "posts": "nope"}, ["not", "an", "object"],
                {"channel_id": "x" * 26 + "!"}):
        r = await send(a, b, ab, "sharedchannel_sync", bad)
        assert r.status == "FAIL", bad
    r = await send(a, b, ab, "sharedchannel_upload", {"id": new_id(), "type": "attachment", "user_id": ann.user_id,
                                                      "channel_id": private_on_b, "filename": "x.txt",
                                                      "file_size": 3, "remote_id": ab, "req_file_id": new_id()})
    assert r.status == "FAIL"

    # 6. wrong token / unknown connection: 401 before anything is read
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=b.app), base_url=b.url) as raw:
        for headers in ({"X-RemoteCluster-Id": ab, "X-RemoteCluster-Token": "wrong"},
                        {"X-RemoteCluster-Id": new_id(), "X-RemoteCluster-Token": "whatever"}):
            resp = await raw.post("/api/v4/remotecluster/msg", headers=headers, content=b"{}")
            assert resp.status_code == 401
        resp = await raw.post(f"/api/v4/remotecluster/upload/{new_id()}", content=b"abc",
                              headers={"X-RemoteCluster-Id": ab, "X-RemoteCluster-Token": "wrong"})
        assert resp.status_code == 401
    # a legitimate sync still works afterwards
    fine = await ann.post(shared, "still fine")
    await eventually(lambda: _has(b, shared, fine["id"]))


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def test_unstorable_strings_from_a_peer_are_scrubbed_and_huge_numbers_refused(cluster: Cluster) -> None:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses both); Go's decoder turns invalid text
    into U+FFFD, so a peer's odd string is scrubbed and the rest of the message applies."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    shared = await channel(a)
    await share(a, shared, (b, ab))
    ann = await person(a, channel_id=shared)
    await ann.post(shared, "first")
    await wait_converged([a, b], shared, min_posts=1)
    rc = await a.row(ab)
    headers = {"X-RemoteCluster-Id": ab, "X-RemoteCluster-Token": rc.remote_token,
               "Content-Type": "application/json"}
    odd, fine = new_id(), new_id()
    # Written by hand: json.dumps cannot produce these escapes from valid Python text.
    posts = (f'[{{"id":"{odd}","channel_id":"{shared}","user_id":"{ann.user_id}","message":"a\\u0000b\\ud800c",'
             f'"create_at":2000,"update_at":2000,"props":{{"k\\udfff":"v"}}}},'
             f'{{"id":"{fine}","channel_id":"{shared}","user_id":"{ann.user_id}","message":"fine",'
             f'"create_at":2001,"update_at":2001}}]')
    frame = (f'{{"remote_id":"{ab}","msg":{{"id":"{new_id()}","topic":"sharedchannel_sync","create_at":1,'
             f'"payload":{{"id":"{new_id()}","channel_id":"{shared}","posts":{posts}}}}}}}').encode()
    peer = httpx.AsyncClient(transport=httpx.ASGITransport(app=b.app), base_url=b.url)  # no user session
    r = await peer.post("/api/v4/remotecluster/msg", content=frame, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "OK", r.text
    live = await posts_of(b, shared)
    assert live[odd]["message"] == "a\ufffdb\ufffdc" and live[fine]["message"] == "fine"
    assert live[odd]["props"] == {"k\ufffd": "v"}
    # Invalid UTF-8 bytes are replaced the same way.
    raw = frame.replace(b'"fine"', b'"fi\xff\xfene"').replace(fine.encode(), (other := new_id()).encode())
    r = await peer.post("/api/v4/remotecluster/msg", content=raw, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "OK", r.text
    assert (await posts_of(b, shared))[other]["message"] == "fi\ufffd\ufffdne"
    # A number no BIGINT column holds fails the frame with a clear 400, and nothing of it is written.
    huge = frame.replace(b'"create_at":2001', b'"create_at":123456789012345678901234567890').replace(
        fine.encode(), (never := new_id()).encode()).replace(odd.encode(), (never2 := new_id()).encode())
    r = await peer.post("/api/v4/remotecluster/msg", content=huge, headers=headers)
    await peer.aclose()
    assert r.status_code == 400 and r.json()["id"] == "api.unmarshal_error", r.text
    after = await posts_of(b, shared)
    assert never not in after and never2 not in after
