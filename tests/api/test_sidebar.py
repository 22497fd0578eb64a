"""Sidebar categories as Mattermost's apps use them: defaults, favorites, custom categories, order, events."""

from __future__ import annotations

import json
from typing import Any

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _url(user: Person, team_id: str, rest: str = "") -> str:
    return f"/api/v4/users/{user.id}/teams/{team_id}/channels/categories{rest}"


def _by_type(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"] if c["type"] != "custom" else c["display_name"]: c for c in body["categories"]}


def _sidebar(user: Person, team_id: str) -> dict[str, Any]:
    r = user.http.get(_url(user, team_id))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["order"] == [c["id"] for c in body["categories"]]
    return body


def test_defaults_hold_every_channel_by_kind(user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    dm = user.http.post("/api/v4/channels/direct", json=[user.id, other.id]).json()
    cats = _by_type(_sidebar(user, team["id"]))
    assert list(cats) == ["favorites", "channels", "direct_messages"]
    assert cats["favorites"]["channel_ids"] == []
    assert chan["id"] in cats["channels"]["channel_ids"] and dm["id"] not in cats["channels"]["channel_ids"]
    assert cats["direct_messages"]["channel_ids"] == [dm["id"]]
    assert cats["channels"]["id"] == f"channels_{user.id}_{team['id']}"
    assert {"id", "user_id", "team_id", "sort_order", "sorting", "type", "display_name", "muted", "collapsed",
            "channel_ids"} == cats["channels"].keys()


def test_favorites_follow_the_preference_both_ways(user: Person) -> None:
    team = make_team(user)
    chan = make_channel(user, team["id"])
    fav = {"user_id": user.id, "category": "favorite_channel", "name": chan["id"], "value": "true"}
    user.http.put("/api/v4/users/me/preferences", json=[fav])
    cats = _by_type(_sidebar(user, team["id"]))
    assert cats["favorites"]["channel_ids"] == [chan["id"]] and chan["id"] not in cats["channels"]["channel_ids"]
    # Moving it back to Channels through the sidebar clears the preference.
    moved = {**cats["channels"], "channel_ids": [chan["id"], *cats["channels"]["channel_ids"]]}
    r = user.http.put(_url(user, team["id"]), json=[moved])
    assert r.status_code == 200, r.text
    assert user.http.get("/api/v4/users/me/preferences/favorite_channel").json() == []
    cats = _by_type(_sidebar(user, team["id"]))
    assert cats["channels"]["channel_ids"][0] == chan["id"] and cats["favorites"]["channel_ids"] == []


def test_custom_category_create_move_rename_delete(live: LiveServer, user: Person) -> None:
    team = make_team(user)
    a, b = make_channel(user, team["id"]), make_channel(user, team["id"])
    ws = ws_for(live, user)
    r = user.http.post(_url(user, team["id"]), json={"display_name": "Projects", "channel_ids": [b["id"], a["id"]]})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["type"] == "custom" and created["channel_ids"] == [b["id"], a["id"]]
    assert ws.wait_event("sidebar_category_created")["data"]["category_id"] == created["id"]
    body = _sidebar(user, team["id"])
    assert [c["type"] for c in body["categories"]] == ["favorites", "custom", "channels", "direct_messages"]
    assert a["id"] not in _by_type(body)["channels"]["channel_ids"]
    r = user.http.put(_url(user, team["id"], f"/{created['id']}"),
                      json={**created, "display_name": "Work", "muted": True, "channel_ids": [a["id"]]})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Work" and r.json()["muted"] is True and r.json()["channel_ids"] == [a["id"]]
    updated = json.loads(ws.wait_event("sidebar_category_updated")["data"]["updatedCategories"])
    assert updated[0]["id"] == created["id"]
    assert b["id"] in _by_type(_sidebar(user, team["id"]))["channels"]["channel_ids"]  # back to its default
    assert user.http.delete(_url(user, team["id"], f"/{created['id']}")).status_code == 200
    assert ws.wait_event("sidebar_category_deleted")["data"]["category_id"] == created["id"]
    cats = _by_type(_sidebar(user, team["id"]))
    assert "Work" not in cats and a["id"] in cats["channels"]["channel_ids"]
    ws.close()


def test_order_can_be_changed_and_must_be_complete(user: Person) -> None:
    team = make_team(user)
    order = user.http.get(_url(user, team["id"], "/order")).json()
    assert len(order) == 3
    new = [order[2], order[0], order[1]]
    r = user.http.put(_url(user, team["id"], "/order"), json=new)
    assert r.status_code == 200 and r.json() == new
    assert _sidebar(user, team["id"])["order"] == new
    for bad in ([], order[:2], [*order, order[0]], "x", [*order[:2], "nope"]):
        r = user.http.put(_url(user, team["id"], "/order"), json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert _sidebar(user, team["id"])["order"] == new


def test_channels_coming_and_going_keep_the_users_categories(user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(other, team["id"], user)
    made = user.http.post(_url(user, team["id"]), json={"display_name": "Keep", "channel_ids": [chan["id"]]}).json()
    other.http.delete(f"/api/v4/channels/{chan['id']}/members/{user.id}")
    assert chan["id"] not in {c for cat in _sidebar(user, team["id"])["categories"] for c in cat["channel_ids"]}
    other.http.post(f"/api/v4/channels/{chan['id']}/members", json={"user_id": user.id})
    assert _by_type(_sidebar(user, team["id"]))["Keep"]["channel_ids"] == [chan["id"]]
    assert made["id"] in _sidebar(user, team["id"])["order"]


def test_refusals(user: Person, other: Person) -> None:
    team = make_team(user)
    theirs = make_team(other)
    chan = make_channel(other, theirs["id"])
    assert user.http.get(_url(user, theirs["id"])).status_code == 403  # not a member of that team
    assert other.http.get(_url(user, team["id"])).status_code == 403  # someone else's sidebar
    cats = _by_type(_sidebar(user, team["id"]))
    bad_updates: list[Any] = [
        [], {}, [{"id": "nope"}], [{**cats["channels"], "display_name": "Renamed"}],
        [{**cats["channels"], "channel_ids": [chan["id"]]}], [{**cats["channels"], "sorting": "sideways"}],
        [{**cats["direct_messages"], "muted": True}],
    ]
    for body in bad_updates:
        r = user.http.put(_url(user, team["id"]), json=body)
        assert r.status_code in (400, 404), (body, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    assert user.http.post(_url(user, team["id"]), json={"display_name": ""}).status_code == 400
    assert user.http.delete(_url(user, team["id"], f"/{cats['channels']['id']}")).status_code == 400
    assert _by_type(_sidebar(user, team["id"]))["channels"]["display_name"] == "Channels"
