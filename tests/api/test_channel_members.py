"""Channel membership: join, add, leave, remove, view, stats, roles (mattermostautodriver + raw httpx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mattermostautodriver.exceptions import NotEnoughPermissions, ResourceNotFound

from isthmus.core.events import Event
from tests.api.channel_support import (
    captured_events,
    error_id,
    make_channel,
    member_ids,
    open_team_with,
    set_counters,
)
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


@pytest.fixture
def events(live: LiveServer) -> Iterator[list[Event]]:
    with captured_events(live) as seen:
        yield seen


@pytest.fixture
def team(user: Person, other: Person) -> dict[str, Any]:
    """An open team owned by ``user`` that ``other`` has joined."""
    return open_team_with(user, other)


# --- join and add ------------------------------------------------------------------------------------------


def test_join_and_add_members(live: LiveServer, user: Person, other: Person, admin: Person,
                              team: dict[str, Any], events: list[Event]) -> None:
    public = make_channel(user, team["id"])
    joined = other.driver.channels.add_channel_member(public["id"], user_id=other.id)
    assert (joined["channel_id"], joined["user_id"], joined["roles"]) == (public["id"], other.id, "channel_user")
    added = [e for e in events if e.kind == "user_added" and e.channel_id == public["id"]]
    assert [(e.data, e.team_id) for e in added] == [({"user_id": other.id, "team_id": team["id"]}, team["id"])]
    assert other.driver.channels.add_channel_member(public["id"], user_id=other.id)["user_id"] == other.id
    third = make_person(live, admin.http)
    fourth = make_person(live, admin.http)
    for p in (third, fourth):
        user.driver.teams.add_team_member(team["id"], user_id=p.id)
    r = user.http.post(f"/api/v4/channels/{public['id']}/members", json={"user_ids": [third.id, fourth.id]})
    assert r.status_code == 201 and {m["user_id"] for m in r.json()} == {third.id, fourth.id}
    assert member_ids(user, public["id"]) == {user.id, other.id, third.id, fourth.id}


def test_private_channel_membership_rules(live: LiveServer, user: Person, other: Person, admin: Person,
                                          team: dict[str, Any]) -> None:
    private = make_channel(user, team["id"], "P")
    r = other.http.post(f"/api/v4/channels/{private['id']}/members", json={"user_id": other.id})
    assert r.status_code == 403 and private["name"] not in r.text
    assert member_ids(user, private["id"]) == {user.id}
    user.driver.channels.add_channel_member(private["id"], user_id=other.id)
    assert member_ids(user, private["id"]) == {user.id, other.id}
    outsider = make_person(live, admin.http)  # not in the team
    r = user.http.post(f"/api/v4/channels/{private['id']}/members", json={"user_id": outsider.id})
    assert r.status_code == 400 and outsider.id not in member_ids(user, private["id"])
    r = user.http.post(f"/api/v4/channels/{private['id']}/members", json={"user_id": "v" * 26})
    assert r.status_code == 404
    public = make_channel(user, team["id"])
    r = outsider.http.post(f"/api/v4/channels/{public['id']}/members", json={"user_id": outsider.id})
    assert r.status_code == 403


def test_add_member_bad_bodies(user: Person, other: Person, team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    base = f"/api/v4/channels/{ch['id']}/members"
    bodies: list[Any] = [{}, {"user_id": 5}, {"user_id": "short"}, {"user_ids": []}, {"user_ids": "x"},
                         {"user_ids": [other.id, 3]}, [other.id]]
    for body in bodies:
        assert user.http.post(base, json=body).status_code == 400, body
    assert user.http.post(base, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert user.http.post("/api/v4/channels/" + "m" * 26 + "/members", json={"user_id": other.id}).status_code == 404
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    assert user.http.post(f"/api/v4/channels/{dm['id']}/members", json={"user_id": user.id}).status_code == 400
    assert member_ids(user, ch["id"]) == {user.id}


def test_non_member_cannot_add_others_to_public(live: LiveServer, user: Person, other: Person, admin: Person,
                                                team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    third = make_person(live, admin.http)
    user.driver.teams.add_team_member(team["id"], user_id=third.id)
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.add_channel_member(ch["id"], user_id=third.id)
    assert member_ids(user, ch["id"]) == {user.id}


def test_remove_and_leave(user: Person, other: Person, admin: Person, team: dict[str, Any],
                          events: list[Event]) -> None:
    ch = make_channel(user, team["id"])
    other.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    admin.driver.teams.add_team_member(team["id"], user_id=admin.id)
    admin.driver.channels.add_channel_member(ch["id"], user_id=admin.id)
    other.driver.channels.remove_user_from_channel(ch["id"], admin.id)  # channel_user may manage members
    assert admin.id not in member_ids(user, ch["id"])
    removed = [e for e in events if e.kind == "user_removed"]
    assert {(e.channel_id, e.user_id, json.dumps(e.data, sort_keys=True)) for e in removed} == {
        (ch["id"], "", json.dumps({"remover_id": other.id, "user_id": admin.id}, sort_keys=True)),
        ("", admin.id, json.dumps({"remover_id": other.id, "channel_id": ch["id"]}, sort_keys=True))}
    assert other.driver.channels.remove_user_from_channel(ch["id"], "me") == {"status": "OK"}
    assert member_ids(user, ch["id"]) == {user.id}
    with pytest.raises(ResourceNotFound):
        user.driver.channels.remove_user_from_channel(ch["id"], other.id)
    town = user.driver.channels.get_channel_by_name(team["id"], "town-square")
    r = other.http.delete(f"/api/v4/channels/{town['id']}/members/{other.id}")
    assert r.status_code == 400 and error_id(r) == "api.channel.remove.default.app_error"
    private = make_channel(user, team["id"], "P")
    r = other.http.delete(f"/api/v4/channels/{private['id']}/members/{user.id}")
    assert r.status_code == 403 and member_ids(user, private["id"]) == {user.id}
    assert user.http.delete(f"/api/v4/channels/{ch['id']}/members/bad").status_code == 400


def test_get_members(user: Person, other: Person, team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    other.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    assert len(user.driver.channels.get_channel_members(ch["id"], page=0, per_page=1)) == 1
    assert len(user.driver.channels.get_channel_members(ch["id"], page=1, per_page=1)) == 1
    assert user.driver.channels.get_channel_member(ch["id"], "me")["user_id"] == user.id
    assert user.driver.channels.get_channel_member(ch["id"], other.id)["roles"] == "channel_user"
    with pytest.raises(ResourceNotFound):
        user.driver.channels.get_channel_member(ch["id"], "n" * 26)


def test_view_channel_marks_read(live: LiveServer, user: Person, other: Person, team: dict[str, Any],
                                 events: list[Event]) -> None:
    ch = make_channel(user, team["id"])
    prev = make_channel(user, team["id"])
    set_counters(live, ch["id"], 5, 4)
    before = user.driver.channels.get_channel_member(ch["id"], "me")
    assert before["msg_count"] == 0
    out = user.driver.channels.view_channel("me", channel_id=ch["id"], prev_channel_id=prev["id"])
    assert out["status"] == "OK" and set(out["last_viewed_at_times"]) == {ch["id"], prev["id"]}
    after = user.driver.channels.get_channel_member(ch["id"], "me")
    assert (after["msg_count"], after["msg_count_root"]) == (5, 4)
    assert after["last_viewed_at"] == out["last_viewed_at_times"][ch["id"]] > 0
    assert any(e.kind == "channel_viewed" and e.user_id == user.id and e.data == {"channel_id": ch["id"]}
               for e in events)
    hidden = make_channel(other, team["id"], "P")  # not a member: skipped, nothing leaks
    out = user.driver.channels.view_channel("me", channel_id=hidden["id"])
    assert out["last_viewed_at_times"] == {}
    with pytest.raises(NotEnoughPermissions):
        user.driver.channels.view_channel(other.id, channel_id=hidden["id"])
    assert user.http.post("/api/v4/channels/members/me/view", json={"channel_id": "bad"}).status_code == 400
    assert user.http.post("/api/v4/channels/members/me/view", json={"channel_id": 7}).status_code == 400


def test_stats_and_timezones(user: Person, other: Person, team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    other.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    stats = user.driver.channels.get_channel_stats(ch["id"])
    assert stats == {"channel_id": ch["id"], "member_count": 2, "guest_count": 0, "pinnedpost_count": 0,
                     "files_count": 0}
    user.driver.users.patch_user("me", timezone={"useAutomaticTimezone": "false", "manualTimezone": "Europe/Oslo",
                                                 "automaticTimezone": ""})
    assert user.driver.channels.get_channel_members_timezones(ch["id"]) == ["Europe/Oslo"]
    private = make_channel(user, team["id"], "P")
    assert other.http.get(f"/api/v4/channels/{private['id']}/stats").status_code == 403


def test_member_roles(user: Person, other: Person, team: dict[str, Any], events: list[Event]) -> None:
    ch = make_channel(user, team["id"])
    other.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.update_channel_roles(ch["id"], other.id, roles="channel_user channel_admin")
    assert user.driver.channels.get_channel_member(ch["id"], other.id)["roles"] == "channel_user"
    assert user.driver.channels.update_channel_roles(ch["id"], other.id, roles="channel_user channel_admin") \
        == {"status": "OK"}
    promoted = user.driver.channels.get_channel_member(ch["id"], other.id)
    assert promoted["roles"] == "channel_user channel_admin" and promoted["scheme_admin"] is True
    assert any(e.kind == "channel_member_updated" and e.user_id == other.id for e in events)
    for roles in ("", "system_admin", "channel_admin", 5):
        r = user.http.put(f"/api/v4/channels/{ch['id']}/members/{other.id}/roles", json={"roles": roles})
        assert r.status_code == 400, roles
    assert user.driver.channels.get_channel_member(ch["id"], other.id)["roles"] == "channel_user channel_admin"


def test_concurrent_joins_are_idempotent(live: LiveServer, user: Person, admin: Person) -> None:
    from concurrent.futures import ThreadPoolExecutor

    team = user.driver.teams.create_team(name=unique("t"), display_name="Race", type="O")
    joiner = make_person(live, admin.http)
    with ThreadPoolExecutor(6) as pool:
        joins = list(pool.map(lambda _: joiner.http.post(f"/api/v4/teams/{team['id']}/members",
                                                         json={"team_id": team["id"], "user_id": joiner.id}),
                              range(6)))
    assert {r.status_code for r in joins} == {201}
    ch = make_channel(user, team["id"])
    with ThreadPoolExecutor(6) as pool:
        adds = list(pool.map(lambda _: joiner.http.post(f"/api/v4/channels/{ch['id']}/members",
                                                        json={"user_id": joiner.id}), range(6)))
    assert {r.status_code for r in adds} == {201}, [r.text for r in adds if r.status_code != 201]
    assert member_ids(user, ch["id"]) == {user.id, joiner.id}
