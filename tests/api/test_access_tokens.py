"""Personal access tokens: listed without their secret, revoked, disabled and enabled at once; a token of a
deactivated user, or with tokens switched off, stops working even when it was just used (it is cached)."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


def _token(admin: Person, user_id: str) -> dict[str, str]:
    r = admin.http.post(f"/api/v4/users/{user_id}/tokens", json={"description": "bot"})
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


def _me(live: LiveServer, token: str) -> int:
    return httpx.get(f"{live.url}/api/v4/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_revoke_disable_enable_take_effect_at_once(live: LiveServer, admin: Person) -> None:
    bot = make_person(live, admin.http, username=unique("bot"))
    tok = _token(admin, bot.id)
    assert _me(live, tok["token"]) == 200  # now cached
    listed = admin.http.get(f"/api/v4/users/{bot.id}/tokens").json()
    assert [t["id"] for t in listed] == [tok["id"]] and "token" not in listed[0]
    assert admin.http.get(f"/api/v4/users/tokens/{tok['id']}").json()["is_active"] is True
    assert admin.http.post("/api/v4/users/tokens/disable", json={"token_id": tok["id"]}).status_code == 200
    assert _me(live, tok["token"]) == 401
    assert admin.http.post("/api/v4/users/tokens/enable", json={"token_id": tok["id"]}).status_code == 200
    assert _me(live, tok["token"]) == 200
    assert admin.http.post("/api/v4/users/tokens/revoke", json={"token_id": tok["id"]}).status_code == 200
    assert _me(live, tok["token"]) == 401
    assert admin.http.get(f"/api/v4/users/tokens/{tok['id']}").status_code == 404


def test_deactivated_users_token_stops_and_its_socket_closes(live: LiveServer, admin: Person) -> None:
    bot = make_person(live, admin.http, username=unique("bot"))
    tok = _token(admin, bot.id)
    assert _me(live, tok["token"]) == 200
    person = Person(bot.id, bot.username, tok["token"], bot.driver, bot.http)
    ws = ws_for(live, person)
    assert admin.http.put(f"/api/v4/users/{bot.id}/active", json={"active": False}).status_code == 200
    assert _me(live, tok["token"]) == 401
    with pytest.raises((ConnectionClosed, TimeoutError)):
        for _ in range(50):
            ws.recv(timeout=5)  # the hub closes it; nothing keeps arriving
    ws.close()


def test_tokens_switched_off_stop_working(live: LiveServer, admin: Person) -> None:
    bot = make_person(live, admin.http, username=unique("bot"))
    tok = _token(admin, bot.id)
    assert _me(live, tok["token"]) == 200
    admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnableUserAccessTokens": False}})
    try:
        assert _me(live, tok["token"]) == 401
        assert bot.http.get("/api/v4/users/me").status_code == 200  # sessions are not tokens
    finally:
        admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnableUserAccessTokens": True}})
    assert _me(live, tok["token"]) == 200


def test_only_owner_or_admin_manage_tokens(live: LiveServer, admin: Person, user: Person) -> None:
    tok = _token(admin, admin.id)
    assert user.http.get(f"/api/v4/users/{admin.id}/tokens").status_code == 403
    assert user.http.get(f"/api/v4/users/tokens/{tok['id']}").status_code == 403
    assert user.http.post("/api/v4/users/tokens/revoke", json={"token_id": tok["id"]}).status_code == 403
    for body in ({}, {"token_id": "nope"}, {"token_id": 5}):
        r = user.http.post("/api/v4/users/tokens/revoke", json=body)
        assert r.status_code == 400, r.text
    assert user.http.post("/api/v4/users/tokens/explode", json={"token_id": tok["id"]}).status_code == 404
    assert _me(live, tok["token"]) == 200
