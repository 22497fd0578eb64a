"""Bad input and attacks on the handshake and the server-to-server endpoints, between real in-process servers.

Every case checks the documented error and that nothing was half-written on either side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import httpx
import pytest

from isthmus.core.clock import FakeClock
from isthmus.core.ids import new_id
from isthmus.federation.invite import encrypt_invite
from isthmus.federation.wire import Frame, Invite, Msg
from tests.testlib.cluster import FAST, Cluster, Node, eventually


def remote_headers(remote_id: str, token: str) -> dict[str, str]:
    return {"X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": token}


async def post_remote(node: Node, path: str, body: bytes, remote_id: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url=node.url) as client:
        return await client.post(f"/api/v4/remotecluster/{path}", content=body,
                                 headers={**remote_headers(remote_id, token), "Content-Type": "application/json"})


def confirm_frame(frame_id: str, payload_id: str, site_url: str = "http://mallory.test",
                  token: str | None = None, refreshed: str | None = None) -> bytes:
    payload = Invite(remote_id=payload_id, site_url=site_url, token=token or new_id(),
                     refreshed_token=refreshed or new_id(), version=3)
    return Frame(remote_id=frame_id, msg=Msg.new("invitation", payload.to_obj(), 1)).to_json()


async def snapshot(node: Node, remote_id: str) -> tuple[str, str, str, int]:
    rc = await node.row(remote_id)
    return rc.site_url, rc.token, rc.remote_token, rc.delete_at


async def test_wrong_password_creates_nothing(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id, code = await cluster.invite(a, "beta")
    before = await snapshot(a, remote_id)
    r = await cluster.accept(b, "alpha", code, password="not the password")
    assert (r.status_code, r.json()["id"]) == (400, "api.remote_cluster.invite_decrypt_error")
    r = await cluster.accept(b, "alpha", "%%% not base64 %%%")
    assert (r.status_code, r.json()["id"]) == (400, "api.remote_cluster.base64_decode_error")
    assert await b.remotes(include_deleted=True) == []
    assert await snapshot(a, remote_id) == before


async def test_expired_invite_is_refused_and_nothing_stays(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_800_000_000_000)
    cluster = Cluster(tmp_path)
    try:
        a = await cluster.add("alpha", clock=clock)
        b = await cluster.add("beta")
        remote_id, code = await cluster.invite(a, "beta")
        before = await snapshot(a, remote_id)
        clock.advance(48 * 3600 * 1000 + 1)
        r = await cluster.accept(b, "alpha", code)
        assert r.status_code == 400, r.text
        assert r.json()["id"] == "api.remote_cluster.accept_invitation_error"
        assert "invitation_expired" in r.json()["message"]
        assert await b.remotes(include_deleted=True) == []
        assert await snapshot(a, remote_id) == before
    finally:
        await cluster.close()


async def test_replayed_invite_after_confirm_is_refused(cluster: Cluster) -> None:
    a, b, c = await cluster.add("alpha"), await cluster.add("beta"), await cluster.add("gamma")
    remote_id, code = await cluster.invite(a, "beta")
    invite_token = (await a.row(remote_id)).token
    r = await cluster.accept(b, "alpha", code)
    assert r.status_code == 201
    after = await snapshot(a, remote_id)
    # Someone else replays the same code: the invite token died at confirmation.
    r = await cluster.accept(c, "alpha", code)
    assert r.status_code == 400 and "invalid_token" in r.json()["message"]
    assert await c.remotes(include_deleted=True) == []
    # And the raw confirm with the dead token is a 401.
    r = await post_remote(a, "confirm_invite", confirm_frame(remote_id, remote_id), remote_id, invite_token)
    assert (r.status_code, r.json()["id"]) == (401, "api.context.invalid_token.error")
    assert await snapshot(a, remote_id) == after


async def test_confirm_for_an_already_confirmed_connection_is_refused(cluster: Cluster) -> None:
    """Mattermost #28943: even with the currently valid token, a confirmed connection is never re-bound."""
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    before = await snapshot(a, remote_id)
    token_b_presents = (await b.row(remote_id)).remote_token
    r = await post_remote(a, "confirm_invite", confirm_frame(remote_id, remote_id), remote_id, token_b_presents)
    assert (r.status_code, r.json()["id"]) == (400, "api.command_remote.confirm_invitation.error")
    assert await snapshot(a, remote_id) == before


async def test_confirm_naming_another_connection_is_refused(cluster: Cluster) -> None:
    """Mattermost #37576: the payload's remote_id must be the authenticated connection."""
    a = await cluster.add("alpha")
    r1, _ = await cluster.invite(a, "one")
    r2, _ = await cluster.invite(a, "two")
    t1 = (await a.row(r1)).token
    before = (await snapshot(a, r1), await snapshot(a, r2))
    r = await post_remote(a, "confirm_invite", confirm_frame(r1, r2), r1, t1)
    assert (r.status_code, r.json()["id"]) == (400, "api.command_remote.confirm_invitation.error")
    r = await post_remote(a, "confirm_invite", confirm_frame(r2, r2), r1, t1)  # frame id ≠ header id
    assert (r.status_code, r.json()["id"]) == (400, "api.context.remote_id_invalid.app_error")
    assert (await snapshot(a, r1), await snapshot(a, r2)) == before


async def test_endpoints_need_the_right_credentials(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    good = (await b.row(remote_id)).remote_token
    frame = Frame(remote_id=remote_id, msg=Msg.new("ping", {"sent_at": 1}, 1)).to_json()
    cases = {"no_token": {"X-RemoteCluster-Id": remote_id},
             "no_id": {"X-RemoteCluster-Token": good},
             "wrong_token": remote_headers(remote_id, good[:-1] + ("x" if good[-1] != "x" else "y")),
             "unknown_id": remote_headers(new_id(), good),
             "user_session": {**remote_headers(remote_id, good), "Authorization": f"Bearer {a.token}"}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=a.app), base_url=a.url) as client:
        for case, headers in cases.items():
            for path in ("ping", "msg", "confirm_invite"):
                r = await client.post(f"/api/v4/remotecluster/{path}", content=frame, headers=headers)
                assert r.status_code == 401, (case, path, r.text)
                assert good not in r.text
        r = await client.post("/api/v4/remotecluster/ping", content=frame, headers=remote_headers(remote_id, good))
        assert r.status_code == 200


async def test_ping_and_msg_wire_replies(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    token = (await b.row(remote_id)).remote_token
    r = await post_remote(a, "ping", Frame(remote_id, Msg.new("ping", {"sent_at": 42}, 1)).to_json(), remote_id, token)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.text.endswith("}\n") and r.json()["sent_at"] == 42 and r.json()["recv_at"] > 0

    seen: list[tuple[str, object]] = []

    async def echo(msg: Msg, rc: object) -> object:
        assert getattr(rc, "remote_id", "") == remote_id and getattr(rc, "token", "?") == ""
        seen.append((msg.topic, msg.payload))
        return {"echo": msg.payload}

    async def boom(msg: Msg, rc: object) -> object:
        raise ValueError("cannot process sync message; channel is no longer shared: x")

    a.connections.register_topic("test_echo", echo)
    a.connections.register_topic("test_boom", boom)
    r = await post_remote(a, "msg", Frame(remote_id, Msg.new("test_echo", {"n": 1}, 1)).to_json(), remote_id, token)
    assert r.content == b'{"status":"OK","err":"","payload":{"echo":{"n":1}}}'
    assert seen == [("test_echo", {"n": 1})]
    r = await post_remote(a, "msg", Frame(remote_id, Msg.new("no_such_topic", {}, 1)).to_json(), remote_id, token)
    assert r.content == b'{"status":"OK","err":"","payload":null}'
    r = await post_remote(a, "msg", Frame(remote_id, Msg.new("test_boom", {}, 1)).to_json(), remote_id, token)
    assert r.status_code == 200 and r.json()["status"] == "FAIL"
    assert "channel is no longer shared" in r.json()["err"]
    # The same message sent by the client side of the transport:
    rb = await b.row(remote_id)
    resp = await b.connections.client.send_msg(rb.site_url, Msg.new("test_echo", [1], 1), remote_id=remote_id,
                                               token=rb.remote_token)
    assert resp.ok and resp.payload == {"echo": [1]}


async def test_malformed_and_oversize_frames(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    token = (await b.row(remote_id)).remote_token
    for body, error_id in ((b"garbage", "api.unmarshal_error"), (b'{"remote_id":"' + remote_id.encode() + b'"}',
                                                                 "api.remote_cluster.invalid_id.app_error")):
        r = await post_remote(a, "msg", body, remote_id, token)
        assert (r.status_code, r.json()["id"]) == (400, error_id)
    big = Frame(remote_id, Msg.new("x", "y" * (9 * 1024 * 1024), 1)).to_json()
    r = await post_remote(a, "msg", big, remote_id, token)
    assert (r.status_code, r.json()["id"]) == (413, "api.context.request_body_too_large.app_error")
    r = await post_remote(a, "ping", Frame(remote_id, Msg.new("ping", "z" * 70_000, 1)).to_json(), remote_id, token)
    assert r.status_code == 413


def evil_invite(password: str = "pw") -> tuple[str, str]:
    remote_id = new_id()
    return remote_id, encrypt_invite(Invite(remote_id=remote_id, site_url="http://evil.test", token=new_id(),
                                            version=3), password)


async def test_accept_against_a_broken_peer_leaves_nothing(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, timings=dataclasses.replace(FAST, ping_timeout_s=0.3))
    behaviour = ""

    async def peer(request: httpx.Request) -> httpx.Response:
        if behaviour == "slow":
            await asyncio.sleep(3)
        body = {"garbage": b"<html>hello</html>", "fail_status": b'{"status":"FAIL","err":"nope"}',
                "http_500": b'{"id":"x.y","message":"boom"}', "huge": b"{" + b" " * (2 << 20) + b"}",
                "slow": b'{"status":"OK"}'}[behaviour]
        return httpx.Response(500 if behaviour == "http_500" else 200, content=body, request=request)

    try:
        b = await cluster.add("beta")
        cluster.net.handlers["evil.test"] = peer
        for behaviour in ("garbage", "fail_status", "http_500", "huge", "slow", "down"):
            if behaviour == "down":
                cluster.net.down.add("evil.test")
            _, code = evil_invite()
            r = await cluster.accept(b, "evil", code, password="pw")
            assert r.status_code in (400, 502), (behaviour, r.text)
            assert r.json()["id"] == "api.remote_cluster.accept_invitation_error"
            assert await b.remotes(include_deleted=True) == [], behaviour
    finally:
        await cluster.close()


async def test_accept_attempts_are_rate_limited(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, timings=dataclasses.replace(FAST, accept_attempts_per_minute=3))
    try:
        a, b = await cluster.add("alpha"), await cluster.add("beta")
        _, code = await cluster.invite(a, "beta", password="right")
        for _ in range(3):
            r = await cluster.accept(b, "alpha", code, password="guess")
            assert r.status_code == 400
        r = await cluster.accept(b, "alpha", code, password="right")
        assert (r.status_code, r.json()["id"]) == (429, "api.context.rate_limited.app_error")
        assert await b.remotes(include_deleted=True) == []
    finally:
        await cluster.close()


async def test_tokens_never_reach_the_logs(cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    # Our loggers and the HTTP stack at DEBUG. (aiosqlite's DEBUG log prints every SQL parameter, secrets
    # included, for every table; it stays at the default level like in production.)
    for name in ("isthmus", "httpx", "httpcore", "uvicorn", "fastapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id, code = await cluster.invite(a, "beta")
    invite_token = (await a.row(remote_id)).token
    r = await cluster.accept(b, "alpha", code)
    assert r.status_code == 201
    await eventually(lambda: cluster.both_online(a, b, remote_id))
    cluster.net.down.add("beta.test")

    async def failure_logged() -> bool:
        return "ping to secure connection" in caplog.text

    await eventually(failure_logged)  # a failed ping was logged (and so went through the logging path)
    cluster.net.down.clear()
    ra, rb = await a.row(remote_id), await b.row(remote_id)
    assert "ping to secure connection" in caplog.text  # the failures were logged…
    for secret in (invite_token, ra.token, ra.remote_token, rb.token, rb.remote_token):
        assert secret not in caplog.text  # …without a single token
