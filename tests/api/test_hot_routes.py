"""The hot routes (api/hot_routes.py) answer exactly like the FastAPI routes they bypass, and are taken."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from isthmus.api import hot_routes
from tests.api.test_bad_input import make_channel, make_team
from tests.realtime.wsclient import WsClient, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer

VOLATILE_BODY = {"id", "create_at", "update_at", "request_id", "pending_post_id"}
VOLATILE_HEADERS = {"date", "x-request-id", "content-length"}


def shape(r: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in r.headers.items() if k not in VOLATILE_HEADERS}
    try:
        body: Any = r.json()
    except ValueError:
        body = r.text
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE_BODY}
    return r.status_code, headers, body


def both_ways(monkeypatch: pytest.MonkeyPatch, send: Callable[[], httpx.Response]) -> tuple[Any, Any, int]:
    """The answer through the hot table, the answer through FastAPI, and how often the hot endpoint ran."""
    calls = 0
    wrapped: dict[tuple[str, str], tuple[hot_routes.Endpoint, int]] = {}
    for key, (endpoint, status) in hot_routes.HOT.items():
        async def counting(request: Any, _endpoint: hot_routes.Endpoint = endpoint) -> Any:
            nonlocal calls
            calls += 1
            return await _endpoint(request)
        wrapped[key] = (counting, status)
    monkeypatch.setattr(hot_routes, "HOT", wrapped)
    hot = send()
    monkeypatch.setattr(hot_routes, "HOT", {})
    routed = send()
    monkeypatch.undo()
    return shape(hot), shape(routed), calls


def test_post_create_answers_like_the_routed_endpoint(monkeypatch: pytest.MonkeyPatch, user: Person,
                                                      other: Person, live: LiveServer) -> None:
    team = make_team(user)
    channel = make_channel(user, team["id"])
    private = make_channel(other, make_team(other)["id"], "P")
    archived = make_channel(user, team["id"])
    assert user.http.delete(f"/api/v4/channels/{archived['id']}").status_code == 200
    anonymous = httpx.Client(base_url=live.url)
    cases: list[Callable[[], httpx.Response]] = [
        lambda: user.http.post("/api/v4/posts", json={"channel_id": channel["id"], "message": "same"}),
        lambda: user.http.post("/api/v4/posts", json={"channel_id": channel["id"], "message": "@" + user.username,
                                                      "props": {"k": "v"}}),
        lambda: user.http.post("/api/v4/posts", content=b"{not json", headers={"content-type": "application/json"}),
        lambda: user.http.post("/api/v4/posts", json=["list"]),
        lambda: user.http.post("/api/v4/posts", json={"channel_id": channel["id"], "message": "x" * 70_000}),
        lambda: user.http.post("/api/v4/posts", json={"channel_id": private["id"], "message": "intrusion"}),
        lambda: user.http.post("/api/v4/posts", json={"channel_id": archived["id"], "message": "late"}),
        lambda: anonymous.post("/api/v4/posts", json={"channel_id": channel["id"], "message": "who"}),
        lambda: user.http.post("/api/v4/posts", content=b"x" * (2 << 20)),
    ]
    statuses = []
    for i, send in enumerate(cases):
        hot, routed, calls = both_ways(monkeypatch, send)
        assert hot == routed
        statuses.append(hot[0])
        # The last body (2 MiB) is over MaximumPayloadSizeBytes: the edge answers 413 before any route runs.
        assert calls == (0 if i == len(cases) - 1 else 1), hot
    assert statuses == [201, 201, 400, 400, 400, 403, 400, 401, 413]
    # Both ways really stored the posts: two of each good body.
    r = user.http.get(f"/api/v4/channels/{channel['id']}/posts")
    messages = sorted(p["message"] for p in r.json()["posts"].values())
    assert messages == sorted(["same", "same", "@" + user.username, "@" + user.username])
    assert "intrusion" not in str(other.http.get(f"/api/v4/channels/{private['id']}/posts").json())


def test_remote_msg_errors_answer_like_the_routed_endpoint(monkeypatch: pytest.MonkeyPatch, live: LiveServer) -> None:
    raw = httpx.Client(base_url=live.url)
    headers = {"X-MM-RemoteCluster-Id": "a" * 26, "X-MM-RemoteCluster-Token": "b" * 26}
    cases: list[Callable[[], httpx.Response]] = [
        lambda: raw.post("/api/v4/remotecluster/msg", content=b"{}"),
        lambda: raw.post("/api/v4/remotecluster/msg", content=b"{}", headers=headers),
        lambda: raw.post("/api/v4/remotecluster/msg", content=b"\xff\xfe", headers=headers),
    ]
    for send in cases:
        hot, routed, calls = both_ways(monkeypatch, send)
        assert hot == routed
        assert 400 <= hot[0] < 600 and hot[0] != 500, hot
        assert calls == 1



def test_the_websocket_upgrade_skips_the_stack_and_answers_like_the_routed_way(
        monkeypatch: pytest.MonkeyPatch, user: Person, live: LiveServer) -> None:
    """Every layer between uvicorn and the hub is held for the socket's whole life (memory that each full
    garbage collection scans), so the upgrade enters at the edge: the same hello, the same refusal of a foreign
    Origin, and far fewer frames held under the hub."""
    hub = live.server.hub
    serve = hub.serve
    depths: list[int] = []

    async def measuring(*args: Any, **kwargs: Any) -> None:
        depths.append(len(inspect.stack(0)))
        await serve(*args, **kwargs)

    monkeypatch.setattr(hub, "serve", measuring)
    calls = 0
    endpoint = hot_routes.HOT_WEBSOCKETS["/api/v4/websocket"]

    async def counting(ws: Any) -> None:
        nonlocal calls
        calls += 1
        await endpoint(ws)

    def one_way() -> tuple[set[str], int]:
        client = ws_for(live, user)
        hello = client.seen("hello")[0]
        client.close()
        with pytest.raises(InvalidStatus) as refused:
            WsClient(live, headers={"Origin": "https://elsewhere.example"})
        return set(hello["data"]), refused.value.response.status_code

    monkeypatch.setattr(hot_routes, "HOT_WEBSOCKETS", {"/api/v4/websocket": counting})
    hot = one_way()
    monkeypatch.setattr(hot_routes, "HOT_WEBSOCKETS", {})
    routed = one_way()
    assert calls == 2  # both upgrades of the first way took the hot table, none of the second
    assert hot == routed == ({"server_version", "connection_id", "server_hostname"}, 403)
    hot_depth, routed_depth = depths  # the foreign Origin is refused before the hub
    assert routed_depth - hot_depth >= 8, depths
