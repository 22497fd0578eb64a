"""Preferences over REST (what Mattermost's apps save: theme, favorites, display settings) and their events."""

from __future__ import annotations

import json

from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _pref(user: Person, category: str, name: str, value: str) -> dict[str, str]:
    return {"user_id": user.id, "category": category, "name": name, "value": value}


def test_save_read_back_by_category_and_name(user: Person) -> None:
    prefs = [_pref(user, "display_settings", "use_military_time", "true"),
             _pref(user, "theme", "", '{"sidebarBg":"#145dbf"}')]
    r = user.http.put("/api/v4/users/me/preferences", json=prefs)
    assert r.status_code == 200 and r.json() == {"status": "OK"}
    got = user.http.get(f"/api/v4/users/{user.id}/preferences").json()
    assert sorted(got, key=lambda p: p["category"]) == prefs
    assert user.http.get("/api/v4/users/me/preferences/theme").json() == [prefs[1]]
    one = user.http.get("/api/v4/users/me/preferences/display_settings/name/use_military_time")
    assert one.status_code == 200 and one.json() == prefs[0]
    missing = user.http.get("/api/v4/users/me/preferences/display_settings/name/nope")
    assert missing.status_code == 404 and missing.json()["id"] == "app.preference.get.app_error"


def test_saving_again_replaces_the_value_and_delete_removes_it(user: Person) -> None:
    user.http.put("/api/v4/users/me/preferences", json=[_pref(user, "sidebar_settings", "show_unread", "true")])
    user.http.put("/api/v4/users/me/preferences", json=[_pref(user, "sidebar_settings", "show_unread", "false")])
    assert [p["value"] for p in user.http.get("/api/v4/users/me/preferences/sidebar_settings").json()] == ["false"]
    r = user.http.post("/api/v4/users/me/preferences/delete",
                       json=[_pref(user, "sidebar_settings", "show_unread", "")])
    assert r.status_code == 200
    assert user.http.get("/api/v4/users/me/preferences/sidebar_settings").json() == []


def test_preferences_are_private_to_their_user(user: Person, other: Person, admin: Person) -> None:
    user.http.put("/api/v4/users/me/preferences", json=[_pref(user, "theme", "", "dark")])
    r = other.http.get(f"/api/v4/users/{user.id}/preferences")
    assert r.status_code == 403 and r.json()["id"] == "api.context.permissions.app_error"
    r = other.http.put(f"/api/v4/users/{user.id}/preferences", json=[_pref(user, "theme", "", "light")])
    assert r.status_code == 403
    # A preference naming another user is refused even on one's own URL (Mattermost's set.app_error).
    r = other.http.put("/api/v4/users/me/preferences", json=[_pref(user, "theme", "", "light")])
    assert r.status_code == 403 and r.json()["id"] == "api.preference.update_preferences.set.app_error"
    assert admin.http.get(f"/api/v4/users/{user.id}/preferences/theme").json()[0]["value"] == "dark"


def test_bad_bodies_are_refused_whole(user: Person) -> None:
    bad: list[object] = [
        {}, [], "x", [1], [_pref(user, "", "n", "v")], [_pref(user, "c" * 33, "n", "v")],
        [_pref(user, "c", "n" * 33, "v")], [_pref(user, "c", "n", "v" * 2001)],
        [{**_pref(user, "c", "n", "v"), "value": 5}], [_pref(user, "favorite_channel", "not-an-id", "true")],
        [_pref(user, "c", "n", "v")] * 101,
    ]
    for body in bad:
        r = user.http.put("/api/v4/users/me/preferences", json=body)
        assert r.status_code == 400, (body, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    ok_then_bad = [_pref(user, "keep", "a", "1"), _pref(user, "keep", "b" * 40, "2")]
    assert user.http.put("/api/v4/users/me/preferences", json=ok_then_bad).status_code == 400
    assert user.http.get("/api/v4/users/me/preferences/keep").json() == []


def test_changes_and_deletes_reach_the_users_sockets(live: LiveServer, user: Person) -> None:
    ws = ws_for(live, user)
    pref = _pref(user, "display_settings", "channel_display_mode", "centered")
    user.http.put("/api/v4/users/me/preferences", json=[pref])
    frame = ws.wait_event("preferences_changed")
    assert json.loads(frame["data"]["preferences"]) == [pref]
    assert frame["broadcast"]["user_id"] == user.id
    user.http.post("/api/v4/users/me/preferences/delete", json=[pref])
    assert json.loads(ws.wait_event("preferences_deleted")["data"]["preferences"])[0]["name"] == pref["name"]
    ws.close()
