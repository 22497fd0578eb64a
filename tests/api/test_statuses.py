"""User statuses over REST (mattermostautodriver's ``status`` endpoints) and their websocket events."""

from __future__ import annotations

import asyncio

import pytest
from mattermostautodriver.exceptions import NotEnoughPermissions

from isthmus.domain import statuses
from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person, make_person
from tests.testlib.live import LiveServer


def test_unknown_status_is_offline(user: Person) -> None:
    got = user.driver.status.get_user_status(user.id)
    assert got == {"user_id": user.id, "status": "offline", "manual": False, "last_activity_at": 0,
                   "dnd_end_time": 0}


def test_set_and_read_back_each_status(user: Person, other: Person) -> None:
    for status, manual in (("away", True), ("dnd", True), ("offline", True), ("online", False)):
        put = user.driver.status.update_user_status(user.id, status=status)
        assert put["status"] == status and put["manual"] is manual and put["user_id"] == user.id
        assert other.driver.status.get_user_status(user.id)["status"] == status


def test_statuses_by_ids_answers_every_id(user: Person, other: Person) -> None:
    user.driver.status.update_user_status(user.id, status="dnd")
    got = other.driver.status.get_users_statuses_by_ids([user.id, other.id])
    assert {s["user_id"]: s["status"] for s in got} == {user.id: "dnd", other.id: "offline"}


def test_timed_dnd_is_in_seconds_truncated_to_the_minute(live: LiveServer, user: Person) -> None:
    now_s = live.server.clock.now_ms() // 1000
    end = now_s + 3600 + 17
    got = user.driver.status.update_user_status(user.id, status="dnd", dnd_end_time=end)
    assert got["status"] == "dnd" and got["dnd_end_time"] == end - end % 60


def test_expired_dnd_goes_back_to_the_previous_status(live: LiveServer, user: Person) -> None:
    user.driver.status.update_user_status(user.id, status="away")
    past = live.server.clock.now_ms() // 1000 - 120
    user.driver.status.update_user_status(user.id, status="dnd", dnd_end_time=past)
    live.run(live.server.hub.housekeep())
    got = user.driver.status.get_user_status(user.id)
    assert got["status"] == "away" and got["dnd_end_time"] == 0


def test_expired_dnd_of_a_connected_user_goes_back_online(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    client = ws_for(live, person)
    client.wait_event("status_change", status="online")
    past = live.server.clock.now_ms() // 1000 - 120
    person.driver.status.update_user_status(person.id, status="dnd", dnd_end_time=past)
    client.wait_event("status_change", status="dnd")
    live.run(live.server.hub.housekeep())
    got = person.driver.status.get_user_status(person.id)
    assert got["status"] == "online" and got["manual"] is False
    client.barrier()
    assert [e["data"]["status"] for e in client.seen("status_change")] == ["online", "dnd", "online"]
    client.close()


def test_only_self_or_admin_may_set_a_status(admin: Person, user: Person, other: Person) -> None:
    with pytest.raises(NotEnoughPermissions):
        other.driver.status.update_user_status(user.id, status="away")
    assert user.driver.status.get_user_status(user.id)["status"] != "away"
    assert admin.driver.status.update_user_status(user.id, status="away")["status"] == "away"


@pytest.mark.parametrize("body", [
    {"status": "sleeping"},
    {"status": ""},
    {"status": 5},
    {},
    {"status": "dnd", "dnd_end_time": "soon"},
    {"status": "dnd", "dnd_end_time": -1},
])
def test_invalid_status_body_is_400(user: Person, body: dict[str, object]) -> None:
    r = user.http.put(f"/api/v4/users/{user.id}/status", json={"user_id": user.id, **body})
    assert r.status_code == 400
    assert r.json()["id"] == "api.context.invalid_body_param.app_error"


def test_body_user_must_match_the_url(user: Person, other: Person) -> None:
    r = user.http.put(f"/api/v4/users/{user.id}/status", json={"user_id": other.id, "status": "away"})
    assert r.status_code == 400
    assert user.driver.status.get_user_status(user.id)["status"] != "away"
    r = user.http.put("/api/v4/users/me/status", json={"user_id": user.id, "status": "away"})
    assert r.status_code == 200 and r.json()["status"] == "away"


def test_bad_input_on_status_routes(user: Person) -> None:
    assert user.http.get("/api/v4/users/nope/status").status_code == 400
    assert user.http.post("/api/v4/users/status/ids", json=[]).status_code == 400
    assert user.http.post("/api/v4/users/status/ids", json=["nope"]).status_code == 400
    assert user.http.post("/api/v4/users/status/ids", json={"a": 1}).status_code == 400
    assert user.http.put(f"/api/v4/users/{user.id}/status", content=b"[").status_code == 400
    assert user.http.get(f"/api/v4/users/{user.id}/status", headers={"Authorization": ""}).status_code == 401


def test_websocket_connect_sets_online_and_last_close_sets_offline(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    first, second = ws_for(live, person), ws_for(live, person)
    first.wait_event("status_change", status="online", user_id=person.id)
    got = person.driver.status.get_user_status(person.id)
    assert got["status"] == "online" and got["manual"] is False and got["last_activity_at"] > 0
    first.close()
    second.barrier()  # one socket left: still online
    assert person.driver.status.get_user_status(person.id)["status"] == "online"
    second.close()
    live.run(_wait_offline(live, person.id))
    got = person.driver.status.get_user_status(person.id)
    assert got["status"] == "offline" and got["manual"] is False


async def _wait_offline(live: LiveServer, user_id: str) -> None:
    """The presence worker records the disconnect right after the socket closes."""
    for _ in range(500):
        if (await statuses.get_status(live.server.domain, user_id)).status == "offline":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("status never became offline")


def test_manual_status_survives_connect_and_disconnect(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    person.driver.status.update_user_status(person.id, status="dnd")
    client = ws_for(live, person)
    client.barrier()
    client.close()
    assert person.driver.status.get_user_status(person.id) | {"last_activity_at": 0} == {
        "user_id": person.id, "status": "dnd", "manual": True, "last_activity_at": 0, "dnd_end_time": 0}


def test_status_change_event_goes_to_the_user(live: LiveServer, user: Person, other: Person) -> None:
    mine, theirs = ws_for(live, user), ws_for(live, other)
    user.driver.status.update_user_status(user.id, status="away")
    ev = mine.wait_event("status_change", status="away")
    assert ev["data"] == {"status": "away", "user_id": user.id}
    assert ev["broadcast"]["user_id"] == user.id
    theirs.barrier()
    assert not theirs.seen("status_change", user_id=user.id)
    mine.close()
    theirs.close()


def test_idle_users_become_away_and_activity_brings_them_back(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    client = ws_for(live, person)
    client.wait_event("status_change", status="online")
    hub = live.server.hub
    saved = hub.away_after_ms
    hub.away_after_ms = 0  # everybody has now been idle "long enough"
    try:
        live.run(hub.housekeep())
    finally:
        hub.away_after_ms = saved
    client.wait_event("status_change", status="away", user_id=person.id)
    assert person.driver.status.get_user_status(person.id)["manual"] is False
    reply = client.request("user_update_active_status", {"user_is_active": True, "manual": False})
    assert reply["status"] == "OK"
    client.wait_event("status_change", status="online", user_id=person.id)
    client.close()
