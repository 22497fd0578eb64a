"""Drafts as Mattermost's apps keep them: upsert, list per team, delete, events, limits, the off switch."""

from __future__ import annotations

import json
from typing import Any

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _draft(user: Person, channel_id: str, message: str, root_id: str = "", **extra: Any) -> dict[str, Any]:
    return {"user_id": user.id, "channel_id": channel_id, "root_id": root_id, "message": message, **extra}


def test_upsert_list_delete_with_events(live: LiveServer, user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    root = user.http.post("/api/v4/posts", json={"channel_id": chan["id"], "message": "root"}).json()
    ws = ws_for(live, user)
    r = user.http.post("/api/v4/drafts", json=_draft(user, chan["id"], "half a thought",
                                                      metadata={"priority": {"priority": "urgent"}}))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["message"] == "half a thought" and made["priority"] == {"priority": "urgent"}
    assert json.loads(ws.wait_event("draft_created")["data"]["draft"])["channel_id"] == chan["id"]
    again = user.http.post("/api/v4/drafts", json=_draft(user, chan["id"], "a whole thought")).json()
    assert again["create_at"] == made["create_at"] and again["update_at"] >= made["update_at"]
    ws.wait_event("draft_updated")
    user.http.post("/api/v4/drafts", json=_draft(user, chan["id"], "in the thread", root["id"]))
    listed = user.http.get(f"/api/v4/users/me/teams/{team['id']}/drafts").json()
    assert {(d["root_id"], d["message"]) for d in listed} == {("", "a whole thought"), (root["id"], "in the thread")}
    assert other.http.get(f"/api/v4/users/me/teams/{team['id']}/drafts").json() == []  # drafts are private
    assert user.http.delete(f"/api/v4/users/me/channels/{chan['id']}/drafts/{root['id']}").status_code == 200
    assert json.loads(ws.wait_event("draft_deleted")["data"]["draft"])["root_id"] == root["id"]
    assert [d["root_id"] for d in user.http.get(f"/api/v4/users/me/teams/{team['id']}/drafts").json()] == [""]
    user.http.delete(f"/api/v4/users/me/channels/{chan['id']}/drafts")
    assert user.http.get(f"/api/v4/users/me/teams/{team['id']}/drafts").json() == []
    ws.close()


def test_refusals(user: Person, other: Person) -> None:
    team = make_team(user, other)
    private = make_channel(other, team["id"], type_="P")
    chan = make_channel(user, team["id"])
    r = user.http.post("/api/v4/drafts", json=_draft(user, private["id"], "sneaky"))
    assert r.status_code == 403
    r = user.http.post("/api/v4/drafts", json=_draft(other, chan["id"], "as someone else"))
    assert r.status_code == 403
    for body in ({"channel_id": "x"}, _draft(user, chan["id"], "x" * 16384), _draft(user, chan["id"], 5),
                 _draft(user, chan["id"], "m", props="p"), _draft(user, chan["id"], "m", file_ids=["nope"]),
                 _draft(user, chan["id"], "m", priority={"priority": "shouting"}), [], "x"):
        r = user.http.post("/api/v4/drafts", json=body)
        assert r.status_code == 400, (body, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    assert user.http.get(f"/api/v4/users/me/teams/{team['id']}/drafts").json() == []
    assert user.http.delete(f"/api/v4/users/{other.id}/channels/{chan['id']}/drafts").status_code == 403


def test_turned_off_by_the_admin(live: LiveServer, admin: Person, user: Person) -> None:
    team = make_team(user)
    chan = make_channel(user, team["id"])
    cfg = admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"AllowSyncedDrafts": False}})
    assert cfg.status_code == 200, cfg.text
    try:
        assert user.http.get("/api/v4/config/client").json()["AllowSyncedDrafts"] == "false"
        r = user.http.post("/api/v4/drafts", json=_draft(user, chan["id"], "kept locally"))
        assert r.status_code == 501 and "AllowSyncedDrafts" in r.json()["message"]
    finally:
        admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"AllowSyncedDrafts": True}})
