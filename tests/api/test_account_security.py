"""Account safety: a password change ends the other sessions, an email change needs the password, a
logout closes its websocket at once, and a deleted post's content is not readable through ``since``."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import PASSWORD, Person, make_person
from tests.testlib.live import LiveServer


def _session(live: LiveServer, username: str, password: str = PASSWORD) -> httpx.Client:
    r = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": username, "password": password})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {r.headers['Token']}"})


def test_own_password_change_ends_the_other_sessions(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    laptop, phone = _session(live, person.username), _session(live, person.username)
    r = laptop.put("/api/v4/users/me/password", json={"current_password": PASSWORD, "new_password": "Fresh-pass-42"})
    assert r.status_code == 200, r.text
    assert laptop.get("/api/v4/users/me").status_code == 200  # the one that changed it stays
    assert phone.get("/api/v4/users/me").status_code == 401
    assert person.http.get("/api/v4/users/me").status_code == 401


def test_admin_reset_ends_every_session(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    assert person.http.get("/api/v4/users/me").status_code == 200
    r = admin.http.put(f"/api/v4/users/{person.id}/password", json={"new_password": "Reset-by-admin-1"})
    assert r.status_code == 200, r.text
    assert person.http.get("/api/v4/users/me").status_code == 401
    assert admin.http.get("/api/v4/users/me").status_code == 200


def test_email_change_needs_the_current_password(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    r = person.http.put("/api/v4/users/me/patch", json={"email": f"new-{person.username}@example.com"})
    assert r.status_code == 400 and r.json()["id"] == "api.user.patch_user.password_required.app_error"
    r = person.http.put("/api/v4/users/me/patch", json={"email": f"new-{person.username}@example.com",
                                                         "password": "wrong-one"})
    assert r.status_code == 400 and r.json()["id"] == "api.user.check_user_password.invalid.app_error"
    assert person.http.get("/api/v4/users/me").json()["email"] == f"{person.username}@example.com"
    r = person.http.put("/api/v4/users/me/patch", json={"email": f"new-{person.username}@example.com",
                                                         "password": PASSWORD, "nickname": "still me"})
    assert r.status_code == 200 and r.json()["email"] == f"new-{person.username}@example.com"
    # An admin changes someone else's address without their password; other fields never need it.
    r = admin.http.put(f"/api/v4/users/{person.id}/patch", json={"email": f"admin-{person.username}@example.com"})
    assert r.status_code == 200
    assert person.http.put("/api/v4/users/me/patch", json={"nickname": "n"}).status_code == 200


def test_logout_closes_its_websocket_at_once(live: LiveServer, admin: Person, other: Person) -> None:
    person = make_person(live, admin.http)
    team = make_team(person, other)
    chan = make_channel(person, team["id"], other)
    ws = ws_for(live, person)
    assert person.http.post("/api/v4/users/logout").status_code == 200
    other.http.post("/api/v4/posts", json={"channel_id": chan["id"], "message": "after logout"})
    with pytest.raises(ConnectionClosed):
        for _ in range(100):
            frame = ws.recv(timeout=5)
            assert frame.get("event") != "posted", "a logged-out socket still got a post"
    ws.close()


def test_deleted_posts_keep_their_content_hidden_in_since(live: LiveServer, user: Person, other: Person,
                                                          admin: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    post = user.http.post("/api/v4/posts", json={"channel_id": chan["id"], "message": "oops, my secret"}).json()
    assert user.http.delete(f"/api/v4/posts/{post['id']}").status_code == 200
    got = other.http.get(f"/api/v4/channels/{chan['id']}/posts", params={"since": post["create_at"] - 1}).json()
    listed = got["posts"][post["id"]]
    assert listed["delete_at"] > 0 and listed["message"] == "" and "secret" not in str(got)
    seen_by_admin = admin.http.get(f"/api/v4/channels/{chan['id']}/posts",
                                   params={"since": post["create_at"] - 1}).json()
    assert seen_by_admin["posts"][post["id"]]["message"] == "oops, my secret"  # read_deleted_posts
