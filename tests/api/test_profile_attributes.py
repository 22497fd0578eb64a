"""Custom profile attributes: admin-defined fields (text, select, multiselect) and each user's values."""

from __future__ import annotations

from typing import Any

from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer

FIELDS = "/api/v4/custom_profile_attributes/fields"


def _field(admin: Person, kind: str = "text", **attrs: Any) -> dict[str, Any]:
    r = admin.http.post(FIELDS, json={"name": unique("Field "), "type": kind, "attrs": attrs})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_admin_defines_fields_users_fill_them(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    ws = ws_for(live, other)
    text = _field(admin, value_type="email")
    team = _field(admin, "select", options=[{"name": "Red"}, {"name": "Blue"}])
    try:
        assert text["group_id"] == "custom_profile_attributes" and text["attrs"]["visibility"] == "when_set"
        assert ws.wait_event("custom_profile_attributes_field_created")["data"]["field"]["id"] == text["id"]
        listed = {f["id"]: f for f in user.http.get(FIELDS).json()}
        assert text["id"] in listed and [o["name"] for o in listed[team["id"]]["attrs"]["options"]] == ["Red", "Blue"]
        blue = listed[team["id"]]["attrs"]["options"][1]["id"]
        r = user.http.patch("/api/v4/custom_profile_attributes/values",
                            json={text["id"]: "me@example.com", team["id"]: blue})
        assert r.status_code == 200, r.text
        assert r.json() == {text["id"]: "me@example.com", team["id"]: blue}
        got = ws.wait_event("custom_profile_attributes_values_updated")["data"]
        assert got["user_id"] == user.id
        assert other.http.get(f"/api/v4/users/{user.id}/custom_profile_attributes").json()[team["id"]] == blue
        user.http.patch("/api/v4/custom_profile_attributes/values", json={text["id"]: ""})
        assert text["id"] not in user.http.get("/api/v4/users/me/custom_profile_attributes").json()
        renamed = admin.http.patch(f"{FIELDS}/{text['id']}", json={"name": "Work email"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Work email"
    finally:
        for f in (text, team):
            assert admin.http.delete(f"{FIELDS}/{f['id']}").status_code == 200
    assert team["id"] not in user.http.get("/api/v4/users/me/custom_profile_attributes").json()
    assert all(f["id"] != team["id"] for f in user.http.get(FIELDS).json())
    ws.close()


def test_refusals(admin: Person, user: Person, other: Person) -> None:
    assert user.http.post(FIELDS, json={"name": "Mine", "type": "text"}).status_code == 403
    for body in ({}, {"name": "", "type": "text"}, {"name": "x", "type": "date"}, {"name": "x" * 256, "type": "text"},
                 {"name": "x", "type": "select"}, {"name": "x", "type": "select", "attrs": {"options": [{"name": "a"},
                                                                                                   {"name": "A"}]}},
                 {"name": "x", "type": "text", "attrs": {"visibility": "sometimes"}}):
        r = admin.http.post(FIELDS, json=body)
        assert r.status_code == 400, (body, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    field = _field(admin, value_type="url")
    try:
        dup = admin.http.post(FIELDS, json={"name": field["name"].upper(), "type": "text"})
        assert dup.status_code == 400
        for value in ("not a url", "x" * 65, 5, ["a"]):
            r = user.http.patch("/api/v4/custom_profile_attributes/values", json={field["id"]: value})
            assert r.status_code == 400, (value, r.text)
        r = user.http.patch(f"/api/v4/users/{other.id}/custom_profile_attributes", json={field["id"]: "https://x.y"})
        assert r.status_code == 403
        r = user.http.patch("/api/v4/custom_profile_attributes/values", json={"a" * 26: "x"})
        assert r.status_code == 404
        assert user.http.get("/api/v4/users/me/custom_profile_attributes").json() == {}
    finally:
        admin.http.delete(f"{FIELDS}/{field['id']}")


def test_at_most_twenty_fields(admin: Person) -> None:
    existing = len(admin.http.get(FIELDS).json())
    made = [_field(admin) for _ in range(20 - existing)]
    try:
        r = admin.http.post(FIELDS, json={"name": unique("over"), "type": "text"})
        assert r.status_code == 400 and "at most 20" in r.json()["message"]
    finally:
        for f in made:
            admin.http.delete(f"{FIELDS}/{f['id']}")
