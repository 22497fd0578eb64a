"""Bad input across the core endpoints: every answer is the right 4xx AppError and nothing changes.

Each error must carry ``id``, ``message``, ``detailed_error``, ``request_id``, ``status_code`` with
``Content-Type`` exactly ``application/json``. Login rate limits live in test_login_limits.py (they
need their own server so the shared one's limiter stays clean).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from isthmus.domain.users import forget_tokens
from isthmus.store.schema.users import sessions
from tests.testlib.clients import PASSWORD, Person, unique
from tests.testlib.live import LiveServer

JSON = {"Content-Type": "application/json"}


def assert_app_error(r: httpx.Response, status: int, error_id: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url.path, r.text[:300])
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert isinstance(body, dict)
    for key, kind in (("id", str), ("message", str), ("detailed_error", str), ("request_id", str),
                      ("status_code", int)):
        assert isinstance(body.get(key), kind), (key, body)
    assert body["status_code"] == status
    assert body["id"] and body["message"]
    assert len(body["request_id"]) == 26
    assert r.headers["x-request-id"] == body["request_id"]
    if error_id is not None:
        assert body["id"] == error_id, body
    return body


def make_team(p: Person, type_: str = "O") -> dict[str, Any]:
    name = unique("t")
    r = p.http.post("/api/v4/teams", json={"name": name, "display_name": name, "type": type_})
    assert r.status_code == 201, r.text
    team: dict[str, Any] = r.json()
    return team


def make_channel(p: Person, team_id: str, type_: str = "O") -> dict[str, Any]:
    name = unique("c")
    r = p.http.post("/api/v4/channels", json={"team_id": team_id, "name": name, "display_name": name,
                                              "type": type_})
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    return channel


def make_post(p: Person, channel_id: str, message: str = "hello") -> dict[str, Any]:
    r = p.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message})
    assert r.status_code == 201, r.text
    post: dict[str, Any] = r.json()
    return post


@pytest.fixture
def place(user: Person) -> dict[str, str]:
    team = make_team(user)
    channel = make_channel(user, team["id"])
    post = make_post(user, channel["id"])
    return {"team": team["id"], "channel": channel["id"], "user": user.id, "post": post["id"]}


# (method, path template, who: "user" | "admin") for endpoints that read a JSON object.
OBJECT_WRITES = [
    ("POST", "/api/v4/users", "user"),
    ("PUT", "/api/v4/users/me/patch", "user"),
    ("POST", "/api/v4/users/search", "user"),
    ("PUT", "/api/v4/users/{user}/roles", "admin"),
    ("PUT", "/api/v4/users/me/active", "user"),
    ("POST", "/api/v4/teams", "user"),
    ("PUT", "/api/v4/teams/{team}/patch", "user"),
    ("POST", "/api/v4/teams/{team}/members", "user"),
    ("POST", "/api/v4/channels", "user"),
    ("PUT", "/api/v4/channels/{channel}/patch", "user"),
    ("POST", "/api/v4/channels/{channel}/members", "user"),
    ("POST", "/api/v4/posts", "user"),
    ("PUT", "/api/v4/posts/{post}/patch", "user"),
    ("PUT", "/api/v4/posts/{post}", "user"),
    ("POST", "/api/v4/reactions", "user"),
    ("PUT", "/api/v4/config/patch", "admin"),
    ("PUT", "/api/v4/config", "admin"),
    ("PUT", "/api/v4/roles/{role}/patch", "admin"),
]
LIST_WRITES = [
    ("POST", "/api/v4/users/ids", "user"),
    ("POST", "/api/v4/users/usernames", "user"),
    ("POST", "/api/v4/channels/direct", "user"),
    ("POST", "/api/v4/roles/names", "user"),
    ("POST", "/api/v4/posts/ids", "user"),
]
MALFORMED = [b"{", b"not json", b'{"a": 1,}', b"[1,", b"\xff\xfe\xfd", b"{'single': 'quotes'}", b"",
             b"NaN", b'{"n": Infinity}', b'{"n": 1e999}', b'{"n": 123456789012345678901234567890}',
             b"[" * 50_000 + b"]" * 50_000, b'{"s": "\\ud800"}', b'{"s": "a\\u0000b"}',
             b'{"s": "\xed\xa0\x80"}', "{}".encode("utf-16")]


def who(name: str, user: Person, admin: Person) -> Person:
    return admin if name == "admin" else user


def fill(path: str, place: dict[str, str], admin: Person) -> str:
    if "{role}" in path:
        place = {**place, "role": admin.http.get("/api/v4/roles/name/channel_guest").json()["id"]}
    return path.format(**place)


@pytest.mark.parametrize(("method", "path", "caller"), OBJECT_WRITES + LIST_WRITES)
def test_malformed_json_is_400(method: str, path: str, caller: str, user: Person, admin: Person,
                               place: dict[str, str]) -> None:
    client = who(caller, user, admin).http
    url = fill(path, place, admin)
    for raw in MALFORMED:
        r = client.request(method, url, content=raw, headers=JSON)
        assert_app_error(r, 400)


@pytest.mark.parametrize(("method", "path", "caller"), OBJECT_WRITES)
def test_non_object_json_is_400(method: str, path: str, caller: str, user: Person, admin: Person,
                                place: dict[str, str]) -> None:
    client = who(caller, user, admin).http
    for body in ([], [{"name": "x"}], "string", 5, True, None):
        r = client.request(method, fill(path, place, admin), json=body)
        assert_app_error(r, 400)


@pytest.mark.parametrize(("method", "path", "caller"), LIST_WRITES)
def test_non_list_json_is_400(method: str, path: str, caller: str, user: Person, admin: Person,
                              place: dict[str, str]) -> None:
    client = who(caller, user, admin).http
    for body in ({}, {"ids": ["a"]}, "a", 5, [1, 2], [None], [["a"]]):
        r = client.request(method, fill(path, place, admin), json=body)
        assert_app_error(r, 400)


@pytest.mark.parametrize("body", [
    {"username": 123, "email": "n@example.com", "password": PASSWORD},
    {"username": ["x"], "email": "n@example.com", "password": PASSWORD},
    {"username": "okname", "email": {"a": 1}, "password": PASSWORD},
    {"username": "okname", "email": "n@example.com", "password": 12345678},
    {"username": "okname", "email": "n@example.com", "password": PASSWORD, "props": "x"},
    {"username": "okname", "email": "n@example.com", "password": PASSWORD, "notify_props": [1]},
    {"username": "okname", "email": "n@example.com", "password": PASSWORD, "nickname": 5},
])
def test_wrong_types_for_user_create_are_400(live: LiveServer, admin: Person, body: dict[str, Any]) -> None:
    r = admin.http.post("/api/v4/users", json=body)
    assert_app_error(r, 400)
    assert admin.http.get("/api/v4/users/username/okname").status_code == 404


def test_wrong_type_in_patch_changes_nothing(user: Person) -> None:
    before = user.http.get("/api/v4/users/me").json()
    for body in ({"first_name": "Changed", "nickname": 5}, {"first_name": "Changed", "props": [1]},
                 {"first_name": "Changed", "position": {"a": 1}}, {"first_name": "Changed", "locale": "x" * 500}):
        assert_app_error(user.http.put("/api/v4/users/me/patch", json=body), 400)
    after = user.http.get("/api/v4/users/me").json()
    assert after == before


@pytest.mark.parametrize("body", [
    {"name": 5, "display_name": "Team", "type": "O"},
    {"name": "okteam", "display_name": ["x"], "type": "O"},
    {"name": "okteam", "display_name": "Team", "type": "Z"},
    {"name": "okteam", "display_name": "Team", "type": 1},
    {"name": "x" * 100, "display_name": "Team", "type": "O"},
    {"name": "okteam", "display_name": "D" * 1000, "type": "O"},
    {"name": "Bad Name!", "display_name": "Team", "type": "O"},
])
def test_wrong_team_bodies_are_400(user: Person, body: dict[str, Any]) -> None:
    before = user.http.get("/api/v4/users/me/teams").json()
    assert_app_error(user.http.post("/api/v4/teams", json=body), 400)
    assert user.http.get("/api/v4/users/me/teams").json() == before


def test_wrong_channel_bodies_are_400(user: Person, place: dict[str, str]) -> None:
    base = {"team_id": place["team"], "name": unique("c"), "display_name": "C", "type": "O"}
    bodies = [{**base, "team_id": 5}, {**base, "team_id": "not-an-id"}, {**base, "name": ["x"]},
              {**base, "type": "X"}, {**base, "display_name": "d" * 1000}, {**base, "purpose": "p" * 5000},
              {**base, "header": "h" * 5000}, {**base, "name": "n" * 100}]
    for body in bodies:
        assert_app_error(user.http.post("/api/v4/channels", json=body), 400)
    r = user.http.get(f"/api/v4/teams/{place['team']}/channels/name/{base['name']}")
    assert r.status_code == 404


def test_oversize_json_body_is_413(user: Person) -> None:
    big = {"nickname": "n", "props": {"k": "v" * (2 << 20)}}
    assert_app_error(user.http.put("/api/v4/users/me/patch", json=big), 413,
                     "api.context.request_body_too_large.app_error")


@pytest.mark.parametrize("path", ["/api/v4/users/{id}", "/api/v4/teams/{id}", "/api/v4/channels/{id}",
                                  "/api/v4/roles/{id}", "/api/v4/teams/{id}/members",
                                  "/api/v4/channels/{id}/members"])
def test_unknown_and_invalid_ids(user: Person, path: str) -> None:
    unknown = "q" * 26
    r = user.http.get(path.format(id=unknown))
    assert r.status_code in (403, 404)  # 403 where the caller could not see it even if it existed
    assert_app_error(r, r.status_code)
    for bad in ("short", "Q" * 26, "q" * 27, "q" * 25 + "-", "%20" * 3):
        assert_app_error(user.http.get(path.format(id=bad)), 400)


def test_private_objects_of_others_are_hidden(user: Person, other: Person) -> None:
    team = make_team(other, "I")
    private = make_channel(other, team["id"], "P")
    for path in (f"/api/v4/channels/{private['id']}", f"/api/v4/channels/{private['id']}/members",
                 f"/api/v4/teams/{team['id']}/members"):
        r = user.http.get(path)
        body = assert_app_error(r, r.status_code)
        assert r.status_code in (403, 404)
        assert private["name"] not in r.text and body["status_code"] == r.status_code
    r = user.http.put(f"/api/v4/channels/{private['id']}/patch", json={"display_name": "taken over"})
    assert r.status_code in (403, 404)
    assert_app_error(r, r.status_code)
    assert other.http.get(f"/api/v4/channels/{private['id']}").json()["display_name"] == private["display_name"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v4/users/me"), ("GET", "/api/v4/users"), ("POST", "/api/v4/users/ids"),
    ("GET", "/api/v4/teams"), ("POST", "/api/v4/teams"), ("POST", "/api/v4/channels"),
    ("GET", "/api/v4/roles"), ("GET", "/api/v4/config"), ("PUT", "/api/v4/config/patch"),
    ("PUT", "/api/v4/users/me/patch"),
])
def test_missing_auth_is_401(live: LiveServer, method: str, path: str) -> None:
    r = httpx.request(method, f"{live.url}{path}", json={})
    assert_app_error(r, 401, "api.context.session_expired.app_error")


@pytest.mark.parametrize("header", [
    "Bearer garbage", "Bearer " + "x" * 26, "Bearer " + "y" * 5000, "Bearer", "Basic dXNlcjpwYXNz",
    "Token", "garbage",
])
def test_garbage_tokens_are_401(live: LiveServer, header: str) -> None:
    r = httpx.get(f"{live.url}/api/v4/users/me", headers={"Authorization": header})
    assert_app_error(r, 401, "api.context.session_expired.app_error")


def test_garbage_cookie_and_query_token_are_401(live: LiveServer) -> None:
    r = httpx.get(f"{live.url}/api/v4/users/me", cookies={"MMAUTHTOKEN": "nope"})
    assert_app_error(r, 401)
    r = httpx.get(f"{live.url}/api/v4/users/me", params={"access_token": "nope"})
    assert_app_error(r, 401)


def test_expired_session_is_401(live: LiveServer, user: Person) -> None:
    from sqlalchemy import update

    r = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": user.username, "password": PASSWORD})
    token = r.headers["Token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live.url}/api/v4/users/me", headers=auth).status_code == 200

    async def expire() -> None:
        d = live.server.domain
        async with d.db.write() as conn:
            await conn.execute(update(sessions).where(sessions.c.token == token).values(expires_at=d.now() - 1))
        forget_tokens(d, [token])

    live.run(expire())
    assert_app_error(httpx.get(f"{live.url}/api/v4/users/me", headers=auth), 401,
                     "api.context.session_expired.app_error")
    # The user's other session (the fixture's) is unaffected.
    assert user.http.get("/api/v4/users/me").status_code == 200


def test_unknown_routes_are_404_json(user: Person) -> None:
    for path in ("/api/v4/nope", "/api/v4/users/me/nope/deeper", "/api/v4/", "/api/v4/teams/x/y/z/w"):
        assert_app_error(user.http.get(path), 404, "api.context.404.app_error")
    assert_app_error(user.http.post("/api/v4/nope", json={}), 404, "api.context.404.app_error")


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v4/system/ping"), ("DELETE", "/api/v4/config"), ("PATCH", "/api/v4/users/login"),
    ("PUT", "/api/v4/roles"), ("DELETE", "/api/v4/users/me/patch"),
])
def test_wrong_method_is_405_json(user: Person, method: str, path: str) -> None:
    assert_app_error(user.http.request(method, path, json={}), 405, "api.context.405.app_error")


def test_get_and_delete_with_empty_object_body_are_tolerated(user: Person, place: dict[str, str]) -> None:
    r = user.http.request("GET", "/api/v4/users/me", content=b"{}", headers=JSON)
    assert r.status_code == 200 and r.json()["id"] == user.id
    r = user.http.request("GET", f"/api/v4/channels/{place['channel']}", content=b"{}", headers=JSON)
    assert r.status_code == 200
    r = user.http.request("DELETE", f"/api/v4/channels/{place['channel']}", content=b"{}", headers=JSON)
    assert r.status_code == 200 and r.json() == {"status": "OK"}
    assert user.http.get(f"/api/v4/channels/{place['channel']}").json()["delete_at"] > 0


def test_double_slashes_are_normalised(user: Person, place: dict[str, str]) -> None:
    r = user.http.get("/api/v4//users//me")
    assert r.status_code == 200 and r.json()["id"] == user.id
    r = user.http.get(f"/api/v4/channels//{place['channel']}")
    assert r.status_code == 200 and r.json()["id"] == place["channel"]


@pytest.mark.parametrize("scheme", ["Bearer", "BEARER", "bearer", "Token", "TOKEN"])
def test_auth_schemes_accepted(live: LiveServer, user: Person, scheme: str) -> None:
    r = httpx.get(f"{live.url}/api/v4/users/me", headers={"Authorization": f"{scheme} {user.token}"})
    assert r.status_code == 200 and r.json()["id"] == user.id


def test_access_token_query_parameter(live: LiveServer, user: Person) -> None:
    r = httpx.get(f"{live.url}/api/v4/users/me", params={"access_token": user.token})
    assert r.status_code == 200 and r.json()["id"] == user.id


def test_cookie_auth_needs_csrf_proof_on_writes(live: LiveServer, user: Person) -> None:
    login = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": user.username, "password": PASSWORD})
    cookies = {"MMAUTHTOKEN": login.cookies["MMAUTHTOKEN"]}
    csrf = login.cookies["MMCSRF"]
    assert csrf
    with httpx.Client(base_url=live.url, cookies=cookies) as c:
        assert c.get("/api/v4/users/me").json()["id"] == user.id  # reads need no proof
        assert_app_error(c.put("/api/v4/users/me/patch", json={"nickname": "csrf1"}), 401)
        assert_app_error(c.put("/api/v4/users/me/patch", json={"nickname": "csrf1"},
                               headers={"X-CSRF-Token": "wrong"}), 401)
        assert c.get("/api/v4/users/me").json()["nickname"] != "csrf1"
        r = c.put("/api/v4/users/me/patch", json={"nickname": "csrf2"}, headers={"X-Requested-With": "XMLHttpRequest"})
        assert r.status_code == 200 and r.json()["nickname"] == "csrf2"
        r = c.put("/api/v4/users/me/patch", json={"nickname": "csrf3"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["nickname"] == "csrf3"


@pytest.mark.parametrize("query", ["page=-1", "per_page=abc", "page=1.5", "per_page=0", "active=maybe",
                                   "in_team=not-an-id"])
def test_bad_query_parameters_are_400(user: Person, query: str) -> None:
    assert_app_error(user.http.get(f"/api/v4/users?{query}"), 400)


def test_nul_in_url_is_400(user: Person) -> None:
    assert_app_error(user.http.get("/api/v4/users/username/a%00b"), 400)
    assert_app_error(user.http.get("/api/v4/users/autocomplete?name=a%00"), 400)
    assert_app_error(user.http.get("/api/v4/teams/name/x%00y"), 400)


def test_huge_numbers_in_query_do_not_break(user: Person) -> None:
    r = user.http.get("/api/v4/users?page=99999999999999999999999&per_page=99999999999999999999")
    assert r.status_code in (200, 400)
    if r.status_code == 400:
        assert_app_error(r, 400)
    else:
        assert r.json() == []

