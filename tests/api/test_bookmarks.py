"""Channel bookmarks as Mattermost's apps use them: links and files, edit, reorder, delete, events, limits."""

from __future__ import annotations

import json
from typing import Any

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _link(name: str, url: str = "https://example.com/doc") -> dict[str, Any]:
    return {"display_name": name, "type": "link", "link_url": url}


def test_create_edit_sort_delete_with_events(live: LiveServer, user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    url = f"/api/v4/channels/{chan['id']}/bookmarks"
    ws = ws_for(live, other)
    made = [user.http.post(url, json=_link(n)) for n in ("Spec", "Board", "Runbook")]
    assert [r.status_code for r in made] == [201, 201, 201], made[0].text
    first = made[0].json()
    assert first["owner_id"] == user.id and first["sort_order"] == 0 and first["type"] == "link"
    assert json.loads(ws.wait_event("channel_bookmark_created")["data"]["bookmark"])["display_name"] == "Spec"
    patched = other.http.patch(f"{url}/{first['id']}", json={"display_name": "Spec v2", "emoji": "memo"})
    assert patched.status_code == 200 and patched.json()["updated"]["display_name"] == "Spec v2"
    ws.wait_event("channel_bookmark_updated")
    sorted_ = user.http.post(f"{url}/{first['id']}/sort_order", json=2)
    assert [b["display_name"] for b in sorted_.json()] == ["Board", "Runbook", "Spec v2"]
    assert [b["sort_order"] for b in sorted_.json()] == [0, 1, 2]
    ws.wait_event("channel_bookmark_sorted")
    since = user.http.get(url).json()[0]["update_at"]
    deleted = user.http.delete(f"{url}/{first['id']}")
    assert deleted.status_code == 200 and deleted.json()["delete_at"] > 0
    ws.wait_event("channel_bookmark_deleted")
    assert [b["display_name"] for b in user.http.get(url).json()] == ["Board", "Runbook"]
    changed = user.http.get(url, params={"bookmarks_since": since}).json()
    assert any(b["id"] == first["id"] and b["delete_at"] for b in changed)
    ws.close()


def test_file_bookmark_needs_a_file_of_this_channel(user: Person) -> None:
    team = make_team(user)
    chan, elsewhere = make_channel(user, team["id"]), make_channel(user, team["id"])
    up = user.http.post("/api/v4/files", params={"channel_id": chan["id"]},
                        files={"files": ("notes.txt", b"hello", "text/plain")})
    assert up.status_code == 201, up.text
    file_id = up.json()["file_infos"][0]["id"]
    r = user.http.post(f"/api/v4/channels/{chan['id']}/bookmarks",
                       json={"display_name": "Notes", "type": "file", "file_id": file_id})
    assert r.status_code == 201 and r.json()["file"]["name"] == "notes.txt"
    r = user.http.post(f"/api/v4/channels/{elsewhere['id']}/bookmarks",
                       json={"display_name": "Notes", "type": "file", "file_id": file_id})
    assert r.status_code == 400


def test_refusals_and_limit(user: Person, other: Person) -> None:
    team = make_team(user, other)
    private = make_channel(user, team["id"], type_="P")
    chan = make_channel(user, team["id"])
    assert other.http.post(f"/api/v4/channels/{private['id']}/bookmarks", json=_link("x")).status_code == 403
    assert other.http.get(f"/api/v4/channels/{private['id']}/bookmarks").status_code == 403
    url = f"/api/v4/channels/{chan['id']}/bookmarks"
    for body in ({}, [], {"display_name": "x", "type": "board"}, _link(""), _link("x", "not a url"),
                 {"display_name": "x", "type": "link"}, {"display_name": "x", "type": "file", "file_id": "nope"},
                 _link("y" * 65)):
        r = user.http.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    assert user.http.patch(f"{url}/{'a' * 26}", json={"display_name": "z"}).status_code == 404
    for i in range(50):
        assert user.http.post(url, json=_link(f"b{i}")).status_code == 201
    r = user.http.post(url, json=_link("one too many"))
    assert r.status_code == 400 and "at most 50" in r.json()["message"]
    assert len(user.http.get(url).json()) == 50
