"""The websocket handshake and client actions (mattermost-rest.md §5), over real sockets."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from isthmus import SERVER_VERSION
from tests.realtime.wsclient import WsClient, make_channel, make_team, ws_for
from tests.testlib.clients import PASSWORD, Person
from tests.testlib.live import LiveServer


def test_challenge_then_hello_with_exact_broadcast_shape(live: LiveServer, user: Person) -> None:
    client = WsClient(live)
    hello = client.authenticate(user.token)
    assert hello["seq"] == 0
    data = hello["data"]
    assert set(data) == {"server_version", "connection_id", "server_hostname"}
    assert data["server_version"].startswith(SERVER_VERSION + ".")
    assert len(data["connection_id"]) == 26
    assert hello["broadcast"] == {"omit_users": None, "user_id": user.id, "channel_id": "", "team_id": "",
                                  "connection_id": "", "omit_connection_id": ""}
    client.close()


def test_hello_is_the_first_frame_with_header_auth(live: LiveServer, user: Person) -> None:
    client = WsClient(live, headers={"Authorization": f"Bearer {user.token}"})
    first = client.recv()
    assert first["event"] == "hello" and first["seq"] == 0
    assert first["broadcast"]["user_id"] == user.id
    client.close()


def test_cookie_auth_on_upgrade(live: LiveServer, user: Person) -> None:
    r = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": user.username, "password": PASSWORD})
    cookie = r.cookies["MMAUTHTOKEN"]
    client = WsClient(live, headers={"Cookie": f"MMAUTHTOKEN={cookie}"})
    assert client.recv()["event"] == "hello"
    assert client.barrier() is not None
    client.close()


def test_cross_site_origin_is_refused(live: LiveServer, user: Person) -> None:
    with pytest.raises(InvalidStatus) as err:
        WsClient(live, headers={"Authorization": f"Bearer {user.token}", "Origin": "https://evil.example"})
    assert err.value.response.status_code == 403
    same = WsClient(live, headers={"Authorization": f"Bearer {user.token}", "Origin": live.url})
    assert same.recv()["event"] == "hello"
    same.close()


def test_bad_token_closes_the_socket(live: LiveServer) -> None:
    client = WsClient(live)
    client.send({"seq": 1, "action": "authentication_challenge", "data": {"token": "x" * 26}})
    with pytest.raises(ConnectionClosed):
        client.recv()
    assert client.events == []


def test_challenge_without_token_string_closes(live: LiveServer) -> None:
    client = WsClient(live)
    client.send({"seq": 1, "action": "authentication_challenge", "data": {"token": 5}})
    with pytest.raises(ConnectionClosed):
        client.recv()


def test_actions_before_auth_fail_but_keep_the_socket(live: LiveServer, user: Person) -> None:
    client = WsClient(live)
    reply = client.request("ping")
    assert reply["status"] == "FAIL"
    assert reply["error"]["id"] == "api.web_socket_router.not_authenticated.app_error"
    assert client.events == []
    client.authenticate(user.token)
    assert client.barrier() is not None
    client.close()


def test_ping_reply(live: LiveServer, user: Person) -> None:
    client = ws_for(live, user)
    reply = client.request("ping")
    assert reply["status"] == "OK"
    assert set(reply) == {"status", "seq_reply", "data"}
    assert reply["data"]["text"] == "pong"
    assert reply["data"]["version"] == SERVER_VERSION
    assert reply["data"]["node_id"] == ""
    assert isinstance(reply["data"]["server_time"], int) and reply["data"]["server_time"] > 1_600_000_000_000
    client.close()


@pytest.mark.parametrize("seq", [0, -3])
def test_non_positive_seq_fails_with_bad_seq(live: LiveServer, user: Person, seq: int) -> None:
    client = ws_for(live, user)
    client.send({"seq": seq, "action": "ping"})
    reply = client.recv()
    while "event" in reply:  # the user's own status_change may come first
        reply = client.recv()
    assert reply["status"] == "FAIL" and reply["seq_reply"] == seq
    assert reply["error"]["id"] == "api.web_socket_router.bad_seq.app_error"
    assert client.barrier() is not None  # still open
    client.close()


def test_unknown_action_fails(live: LiveServer, user: Person) -> None:
    client = ws_for(live, user)
    reply = client.request("no_such_action")
    assert reply["status"] == "FAIL"
    assert reply["error"]["id"] == "api.web_socket_router.bad_action.app_error"
    client.close()


@pytest.mark.parametrize("frame", [
    "this is not json",
    "[1, 2, 3]",
    json.dumps({"seq": "1", "action": "ping"}),
    json.dumps({"seq": 1.5, "action": "ping"}),
    json.dumps({"seq": 1, "action": 7}),
    json.dumps({"seq": 1, "action": "ping", "data": [1]}),
    b"\x00\x01binary",
    json.dumps({"seq": 1, "action": "ping", "data": {"pad": "x" * 70_000}}),
])
def test_bad_frames_close_only_that_socket(live: LiveServer, user: Person, other: Person, frame: str | bytes) -> None:
    bystander = ws_for(live, other)
    victim = ws_for(live, user)
    victim.send(frame)
    with pytest.raises(ConnectionClosed) as err:
        while True:
            victim.recv()
    assert err.value.rcvd is not None and err.value.rcvd.code in (1003, 1007, 1009)
    # The other user's socket is untouched and still gets its own events.
    other.driver.status.update_user_status(other.id, status="dnd")
    assert bystander.wait_event("status_change", status="dnd", user_id=other.id)
    assert bystander.barrier() is not None
    bystander.close()


def test_get_statuses_actions(live: LiveServer, user: Person, other: Person) -> None:
    other.driver.status.update_user_status(other.id, status="away")
    client = ws_for(live, user)
    client.wait_event("status_change", status="online", user_id=user.id)  # connecting made us online
    by_ids = client.request("get_statuses_by_ids", {"user_ids": [user.id, other.id]})
    assert by_ids["status"] == "OK"
    assert by_ids["data"] == {user.id: "online", other.id: "away"}
    everyone = client.request("get_statuses")
    assert everyone["data"][user.id] == "online" and everyone["data"][other.id] == "away"
    bad = client.request("get_statuses_by_ids", {"user_ids": ["nope"]})
    assert bad["status"] == "FAIL"
    assert bad["error"]["id"] == "api.websocket_handler.invalid_param.app_error"
    client.close()


def test_user_typing_action_reaches_members_but_not_the_typer(live: LiveServer, admin: Person, user: Person,
                                                               other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(admin, team["id"], user, other)
    typer, watcher = ws_for(live, user), ws_for(live, other)
    reply = typer.request("user_typing", {"channel_id": ch["id"], "parent_id": ""})
    assert reply == {"status": "OK", "seq_reply": reply["seq_reply"]}
    ev = watcher.wait_event("typing", user_id=user.id)
    assert ev["data"] == {"parent_id": "", "user_id": user.id}
    assert ev["broadcast"]["channel_id"] == ch["id"]
    assert ev["broadcast"]["omit_users"] == {user.id: True}
    assert typer.seen("typing") == [] and typer.barrier() == []
    typer.close()
    watcher.close()


def test_user_typing_in_a_channel_you_cannot_post_to_fails(live: LiveServer, admin: Person, user: Person) -> None:
    team = make_team(admin, user)
    private = make_channel(admin, team["id"], type_="P")
    client = ws_for(live, user)
    reply = client.request("user_typing", {"channel_id": private["id"]})
    assert reply["status"] == "FAIL" and reply["error"]["status_code"] == 403
    reply = client.request("user_typing", {"channel_id": "bad"})
    assert reply["status"] == "FAIL" and reply["error"]["status_code"] == 400
    client.close()
