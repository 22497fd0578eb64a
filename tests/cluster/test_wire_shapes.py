"""Frames a Mattermost peer can decode (issue 14, points 1 and 2; ``mattermost-protocol.md`` §1.9).

Every sync frame alpha sends to beta is recorded in front of beta and checked against the types Go's decoder
enforces (``tests.testlib.wire_check``); frames shaped the way Mattermost sends them must apply here.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from isthmus.core.ids import new_id
from isthmus.store.repo import users as users_repo
from tests.cluster.test_shared_hostile import post_obj
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import eventually, person, posts_of, share_node, shared_pair, wait_converged
from tests.testlib.wire_check import FrameRecorder, go_type_errors, send


async def test_thread_roots_travel_without_id_string_participants(cluster: Cluster) -> None:
    """A reply sends its root as context; the root's ``participants`` must be null or User objects, never a
    list of ids (Go decodes ``[]*User`` and refuses the whole message)."""
    a, b, _ab, ch = await shared_pair(cluster)
    rec = FrameRecorder.install(cluster, b)
    ann = await person(a, channel_id=ch)
    root = await ann.post(ch, "root")
    await wait_converged([a, b], ch, min_posts=1)
    await ann.post(ch, "reply 1", root_id=root["id"])
    await wait_converged([a, b], ch, min_posts=2)
    await ann.edit(root["id"], "root, edited")  # the root itself, now with a participant list
    await ann.post(ch, "reply 2", root_id=root["id"])
    await wait_converged([a, b], ch, min_posts=3)
    sent = [p for s in rec.syncs() for p in s.get("posts") or []]
    assert any(p["id"] == root["id"] and p["reply_count"] >= 1 for p in sent)
    assert [e for s in rec.syncs() for e in go_type_errors(s)] == []


async def test_mattermost_shaped_participants_are_accepted(cluster: Cluster) -> None:
    """Receipt takes either shape: User objects (Mattermost), id strings (older Isthmus) or null."""
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "hello")
    await wait_converged([a, b], ch, min_posts=1)
    user = {"id": ann.user_id, "username": ann.username, "props": {}, "timezone": {}, "notify_props": {}}
    posts = [post_obj(new_id(), ch, ann.user_id, "objects", participants=[user], reply_count=1),
             post_obj(new_id(), ch, ann.user_id, "strings", participants=[ann.user_id]),
             post_obj(new_id(), ch, ann.user_id, "null", participants=None)]
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "posts": posts})
    assert r.status == "OK" and r.payload["post_errors"] == [], r
    live = await posts_of(b, ch)
    assert {"objects", "strings", "null"} <= {p["message"] for p in live.values()}


async def test_user_maps_with_non_string_values(cluster: Cluster) -> None:
    """props / timezone are string→string maps in Go. Local REST refuses other values with a 400 AppError; a
    peer's odd values are converted or dropped per user (the message still applies); sent users carry strings
    only, even for a row written before the check existed."""
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)

    for body in ({"props": {"n": 1}}, {"timezone": {"useAutomaticTimezone": True}},
                 {"notify_props": {"desktop": None}}, {"props": {"nested": {"x": "y"}}}):
        r = await ann.http.put(f"/api/v4/users/{ann.user_id}/patch", json=body)
        assert r.status_code == 400, (body, r.text)
        err = r.json()
        assert err["id"] == "api.context.invalid_body_param.app_error" and err["status_code"] == 400
        assert err["request_id"]
    r = await a.http.post("/api/v4/users", json={"username": "oddprops", "email": "odd@alpha.test",
                                                  "password": "Passw0rd!x", "props": {"k": 3}})
    assert r.status_code == 400 and r.json()["id"] == "api.context.invalid_body_param.app_error"
    r = await ann.http.put(f"/api/v4/users/{ann.user_id}/patch", json={"props": {"k": "v"}})
    assert r.status_code == 200 and r.json()["props"] == {"k": "v"}

    # receipt: one user with odd maps, one plain; both are created, the odd values are made strings or dropped
    odd, plain = new_id(), new_id()
    users: dict[str, Any] = {
        odd: {"id": odd, "username": "odd", "email": "odd@alpha.test",
              "props": {"n": 1, "f": 1.5, "b": True, "s": "x", "nul": None, "obj": {"a": 1}},
              "timezone": {"useAutomaticTimezone": True, "manualTimezone": "Europe/Paris", "x": [1]}},
        plain: {"id": plain, "username": "plain", "email": "plain@alpha.test", "props": {}, "timezone": {}}}
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": ch, "users": users})
    assert r.status == "OK" and sorted(r.payload["users_syncd"]) == sorted([odd, plain]), r
    got = (await b.http.get(f"/api/v4/users/{odd}")).json()
    assert {k: v for k, v in got["props"].items() if k in ("n", "f", "b", "s", "nul", "obj")} == \
        {"n": "1", "f": "1.5", "b": "true", "s": "x"}
    assert got["timezone"] == {"useAutomaticTimezone": "true", "manualTimezone": "Europe/Paris"}

    # send: a row written before the check (non-string values) still goes out as strings
    async with a.server.domain.db.write() as conn:
        await users_repo.update_user(conn, ann.user_id, {
            "props": {"legacy": 7, "ok": "y"}, "timezone": {"useAutomaticTimezone": False},
            "update_at": a.server.domain.now() + 1})
    rec = FrameRecorder.install(cluster, b)
    await ann.post(ch, "after legacy props")
    await eventually(lambda: _has_message(b, ch, "after legacy props"))
    sent_users = [u for s in rec.syncs() for u in (s.get("users") or {}).values()]
    assert any(u["id"] == ann.user_id for u in sent_users)
    assert [e for s in rec.syncs() for e in go_type_errors(s)] == []
    mine = next(u for u in sent_users if u["id"] == ann.user_id)
    assert mine["props"]["legacy"] == "7" and mine["timezone"] == {"useAutomaticTimezone": "false"}


async def _has_message(node: Any, channel_id: str, message: str) -> bool:
    return any(p["message"] == message for p in (await posts_of(node, channel_id)).values())


async def test_a_reaction_travels_once_per_change(cluster: Cluster) -> None:
    """A Mattermost receiver deletes a reaction it is sent again (§1.9), so each reaction may travel only when
    it changed: not when another reaction is added to its post, not when the post is edited or pinned."""
    a, b, _ab, ch = await shared_pair(cluster)
    rec = FrameRecorder.install(cluster, b)
    ann = await person(a, channel_id=ch)
    cid = await person(a, channel_id=ch)
    p = await ann.post(ch, "react to me")
    await wait_converged([a, b], ch, min_posts=1)
    steps = [lambda: ann.react(p["id"], "thumbsup"), lambda: ann.react(p["id"], "smile"),
             lambda: cid.react(p["id"], "thumbsup"), lambda: ann.edit(p["id"], "react to me, edited"),
             lambda: ann.pin(p["id"]), lambda: ann.unreact(p["id"], "smile")]
    for step in steps:
        await step()
        await wait_converged([a, b], ch, min_posts=1)

    def count(user_id: str, emoji: str) -> list[int]:
        return [r["delete_at"] for s in rec.syncs() for r in s.get("reactions") or []
                if r["user_id"] == user_id and r["post_id"] == p["id"] and r["emoji_name"] == emoji]

    assert [d == 0 for d in count(ann.user_id, "thumbsup")] == [True]
    assert [d == 0 for d in count(ann.user_id, "smile")] == [True, False]  # added, then removed
    assert [d == 0 for d in count(cid.user_id, "thumbsup")] == [True]
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert snap["posts"]


def _dm_invite(channel_id: str, type_: str, ids: list[str], users: list[dict[str, Any]] | None) -> dict[str, Any]:
    """channelInviteMsg as Mattermost's Go encoder writes it for a DM/GM (``team_id`` empty, no omitempty)."""
    return {"channel_id": channel_id, "team_id": "", "read_only": False, "name": "__".join(sorted(ids[:2])),
            "display_name": "", "header": "", "purpose": "", "type": type_, "creator_id": ids[0],
            "direct_participant_ids": ids, "direct_participants": users}


async def test_dm_invites_get_a_specific_answer(cluster: Cluster) -> None:
    """EnableSharedChannelsDMs off: Mattermost-shaped DM/GM invites are decoded exactly (null lists too) and
    answered with a FAIL that says why and what to turn on. A malformed participant list is a bad payload; a
    team-channel invite with Go's null lists still works."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ann, bob = await person(a), await person(b)
    ann_user = {"id": ann.user_id, "username": ann.username, "email": "", "props": {}, "timezone": {},
                "notify_props": {}, "create_at": 1, "update_at": 1, "delete_at": 0}
    dm = _dm_invite(new_id(), "D", [ann.user_id, bob.user_id], [ann_user])
    r = await send(a, b, ab, "sharedchannel_invite", dm)
    assert r.status == "FAIL" and "EnableSharedChannelsDMs" in r.err and "turned off" in r.err, r
    gm = _dm_invite(new_id(), "G", [ann.user_id, bob.user_id, new_id()], None)
    r = await send(a, b, ab, "sharedchannel_invite", gm)
    assert r.status == "FAIL" and "EnableSharedChannelsDMs" in r.err, r
    for bad in ({**dm, "direct_participant_ids": "nope"}, {**dm, "direct_participant_ids": [1, 2]},
                {**dm, "direct_participants": [{"id": "short"}]}):
        r = await send(a, b, ab, "sharedchannel_invite", bad)
        assert r.status == "FAIL" and "Invalid sync payload" in r.err, (bad, r)
    assert (await b.http.get(f"/api/v4/channels/{dm['channel_id']}")).status_code == 404

    # a team channel invite exactly as Go encodes it (nil slices are null) is accepted
    ch = new_id()
    r = await send(a, b, ab, "sharedchannel_invite", {
        "channel_id": ch, "team_id": "", "read_only": False, "name": "go-shaped", "display_name": "Go shaped",
        "header": "", "purpose": "", "type": "O", "creator_id": "", "direct_participant_ids": None,
        "direct_participants": None})
    assert r.status == "OK", r
    assert (await b.http.get(f"/api/v4/channels/{ch}")).status_code == 200


async def test_dm_and_gm_invites_with_the_flag_on(cluster: Cluster) -> None:
    """EnableSharedChannelsDMs on: a Mattermost-shaped DM invite creates our copy with the SAME id (the unknown
    remote participant created from direct_participants); the peer's posts land in it; our user's reply goes
    back to the peer as a Go-decodable sync message. A GM likewise; wrong participant sets are refused."""
    a = await share_node(cluster, "alpha")
    b = await share_node(cluster, "beta", MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS="true")
    ab = await cluster.connect(a, b)
    ann, bob, carl = await person(a), await person(b), await person(b)
    ann_user = {"id": ann.user_id, "username": ann.username, "email": f"{ann.username}@alpha.test",
                "props": {}, "timezone": {}, "notify_props": {}, "create_at": 1, "update_at": 1, "delete_at": 0}
    dm = _dm_invite(new_id(), "D", [ann.user_id, bob.user_id], [ann_user])
    r = await send(a, b, ab, "sharedchannel_invite", dm)
    assert r.status == "OK", r
    got = (await bob.http.get(f"/api/v4/channels/{dm['channel_id']}")).json()
    assert got["type"] == "D" and got["shared"] is True and got["name"] == "__".join(sorted([ann.user_id,
                                                                                               bob.user_id]))
    members = (await bob.http.get(f"/api/v4/channels/{dm['channel_id']}/members")).json()
    assert sorted(m["user_id"] for m in members) == sorted([ann.user_id, bob.user_id])
    assert (await send(a, b, ab, "sharedchannel_invite", dm)).status == "OK"  # idempotent

    # the peer's post arrives; the user it carries is not joined to anything else
    pid = new_id()
    r = await send(a, b, ab, "sharedchannel_sync", {"id": new_id(), "channel_id": dm["channel_id"],
                                                    "users": {ann.user_id: ann_user},
                                                    "posts": [post_obj(pid, dm["channel_id"], ann.user_id, "hi bob")]})
    assert r.status == "OK" and r.payload["post_errors"] == [], r
    assert (await posts_of(b, dm["channel_id"]))[pid]["message"] == "hi bob"
    members = (await bob.http.get(f"/api/v4/channels/{dm['channel_id']}/members")).json()
    assert len(members) == 2

    # bob's reply goes to alpha (answered here as a Mattermost home would: OK)
    seen: list[Any] = []
    forward = cluster.net.apps[a.host]

    async def mattermost_home(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/remotecluster/msg"):
            frame = json.loads(await request.aread())
            if frame["msg"]["topic"] == "sharedchannel_sync" and \
                    frame["msg"]["payload"].get("channel_id") == dm["channel_id"]:
                seen.append(frame["msg"]["payload"])
                return httpx.Response(200, json={"status": "OK", "err": "", "payload": {
                    "users_syncd": [], "post_errors": [], "reaction_errors": [], "acknowledgement_errors": []}})
        return await httpx.ASGITransport(app=forward).handle_async_request(request)

    cluster.net.handlers[a.host] = mattermost_home
    reply = await bob.post(dm["channel_id"], "hi ann")
    await eventually(lambda: _sent(seen, reply["id"]))
    assert [e for s in seen for e in go_type_errors(s)] == []
    del cluster.net.handlers[a.host]

    gm = _dm_invite(new_id(), "G", [ann.user_id, bob.user_id, carl.user_id], [ann_user])
    r = await send(a, b, ab, "sharedchannel_invite", gm)
    assert r.status == "OK", r
    got = (await carl.http.get(f"/api/v4/channels/{gm['channel_id']}")).json()
    assert got["type"] == "G" and got["shared"] is True

    refused = [_dm_invite(new_id(), "D", [bob.user_id, carl.user_id], None),  # nobody from alpha
               _dm_invite(new_id(), "D", [ann.user_id, bob.user_id, carl.user_id], None),  # 3 in a DM
               _dm_invite(new_id(), "D", [new_id(), bob.user_id], None),  # unknown user, no profile
               _dm_invite(new_id(), "D", [ann.user_id, bob.user_id], None),  # exists under another id
               _dm_invite(new_id(), "G", [ann.user_id, bob.user_id], None)]  # a GM of 2
    for invite_ in refused:
        r = await send(a, b, ab, "sharedchannel_invite", invite_)
        assert r.status == "FAIL" and "cannot create" in r.err, (invite_, r)
        assert (await b.http.get(f"/api/v4/channels/{invite_['channel_id']}")).status_code == 404


async def _sent(seen: list[Any], post_id: str) -> bool:
    return any(p["id"] == post_id for s in seen for p in s.get("posts") or [])


async def test_a_reinvite_sends_only_the_reactions_changed_meanwhile(cluster: Cluster) -> None:
    """The re-invite replays what the remote missed: a reaction it already had must not travel again (it would
    be deleted on a Mattermost peer), one added meanwhile must."""
    from tests.testlib.sharing import invite, not_shared

    a, b, ab, ch = await shared_pair(cluster)
    rec = FrameRecorder.install(cluster, b)
    ann = await person(a, channel_id=ch)
    p = await ann.post(ch, "react before and after")
    assert (await ann.react(p["id"], "old")).status_code == 200
    await wait_converged([a, b], ch, min_posts=1)
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert r.status_code == 200
    await eventually(lambda: not_shared(b, ch))
    assert (await ann.react(p["id"], "new")).status_code == 200
    await ann.edit(p["id"], "react before and after, edited")
    assert (await invite(a, ch, ab)).status_code == 200
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert sorted(e for _, e in snap["posts"][0]["reactions"]) == ["new", "old"]
    sent = [r["emoji_name"] for s in rec.syncs() for r in s.get("reactions") or []]
    assert sorted(sent) == ["new", "old"]
