"""Channels: create, direct and group, reads, patch, archive and restore (mattermostautodriver + raw httpx)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions, ResourceNotFound

from isthmus.core.events import Event
from tests.api.channel_support import (
    captured_events,
    error_id,
    make_channel,
    member_ids,
    open_team_with,
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


# --- create -----------------------------------------------------------------------------------------


def test_create_public_and_private(user: Person, team: dict[str, Any], events: list[Event]) -> None:
    name = unique("c")
    ch = user.driver.channels.create_channel(team_id=team["id"], name=name, display_name="General talk",
                                             type="O", purpose="why", header="hdr")
    assert (ch["name"], ch["display_name"], ch["type"], ch["team_id"]) == (name, "General talk", "O", team["id"])
    assert (ch["purpose"], ch["header"], ch["creator_id"], ch["delete_at"]) == ("why", "hdr", user.id, 0)
    me = user.driver.channels.get_channel_member(ch["id"], "me")
    assert me["roles"] == "channel_user channel_admin" and me["scheme_admin"] is True
    created = [e for e in events if e.kind == "channel_created"]
    assert [(e.user_id, e.team_id, e.data) for e in created] == [
        (user.id, team["id"], {"channel_id": ch["id"], "team_id": team["id"]})]
    private = make_channel(user, team["id"], "P")
    assert private["type"] == "P" and member_ids(user, private["id"]) == {user.id}


def test_create_channel_bad_input_changes_nothing(user: Person, team: dict[str, Any]) -> None:
    name = unique("c")
    ok = {"team_id": team["id"], "name": name, "display_name": "D", "type": "O"}
    cases: list[tuple[Any, str]] = [
        ({**ok, "name": "Upper"}, "model.channel.is_valid.2_or_more.app_error"),
        ({**ok, "name": "has space"}, "model.channel.is_valid.2_or_more.app_error"),
        ({**ok, "name": "-lead"}, "model.channel.is_valid.2_or_more.app_error"),
        ({**ok, "name": "x" * 65}, "model.channel.is_valid.2_or_more.app_error"),
        ({**ok, "name": 42}, "model.channel.is_valid.2_or_more.app_error"),
        ({**ok, "display_name": ""}, "model.channel.is_valid.display_name.app_error"),
        ({**ok, "display_name": "d" * 65}, "model.channel.is_valid.display_name.app_error"),
        ({**ok, "display_name": ["x"]}, "model.channel.is_valid.display_name.app_error"),
        ({**ok, "purpose": "p" * 251}, "model.channel.is_valid.purpose.app_error"),
        ({**ok, "header": "h" * 1025}, "model.channel.is_valid.header.app_error"),
        ({**ok, "type": "D"}, "model.channel.is_valid.type.app_error"),
        ({**ok, "type": None}, "model.channel.is_valid.type.app_error"),
        ({**ok, "team_id": "nope"}, "model.channel.is_valid.team_id.app_error"),
        ([ok], "api.context.invalid_body_param.app_error"),
    ]
    for body, expected in cases:
        r = user.http.post("/api/v4/channels", json=body)
        assert r.status_code == 400, body
        assert error_id(r) == expected, body
    r = user.http.post("/api/v4/channels", content=b'{"team_id":', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = user.http.post("/api/v4/channels", json={**ok, "team_id": "z" * 26})
    assert r.status_code == 404
    with pytest.raises(ResourceNotFound):
        user.driver.channels.get_channel_by_name(team["id"], name)


def test_create_channel_needs_team_membership(user: Person, admin: Person) -> None:
    foreign = admin.driver.teams.create_team(name=unique("t"), display_name="Foreign", type="I")
    name = unique("c")
    for type_ in ("O", "P"):
        r = user.http.post("/api/v4/channels", json={"team_id": foreign["id"], "name": name, "display_name": "x",
                                                     "type": type_})
        assert r.status_code == 403
    with pytest.raises(ResourceNotFound):
        admin.driver.channels.get_channel_by_name(foreign["id"], name)


def test_duplicate_channel_name_is_400(user: Person, other: Person, team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    r = other.http.post("/api/v4/channels", json={"team_id": team["id"], "name": ch["name"], "display_name": "2",
                                                  "type": "P"})
    assert r.status_code == 400 and error_id(r) == "store.sql_channel.save_channel.exists.app_error"
    assert user.driver.channels.get_channel_by_name(team["id"], ch["name"])["id"] == ch["id"]
    r = user.http.post("/api/v4/channels", json={"team_id": team["id"], "name": "town-square",
                                                 "display_name": "x", "type": "O"})
    assert r.status_code == 400


# --- direct and group ---------------------------------------------------------------------------------


def test_direct_channel_is_idempotent(user: Person, other: Person, events: list[Event]) -> None:
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    low, high = sorted((user.id, other.id))
    assert (dm["type"], dm["name"], dm["team_id"]) == ("D", f"{low}__{high}", "")
    assert member_ids(user, dm["id"]) == {user.id, other.id}
    again = other.driver.channels.create_direct_channel([other.id, user.id])
    assert again["id"] == dm["id"]
    added = {(e.user_id, e.data["teammate_id"], e.channel_id) for e in events if e.kind == "direct_added"}
    assert added == {(user.id, other.id, dm["id"]), (other.id, user.id, dm["id"])}
    assert all(e.data["creator_id"] == user.id for e in events if e.kind == "direct_added")
    mine = {c["id"] for c in user.driver.channels.get_channels_for_user("me")}
    assert dm["id"] in mine


def test_self_direct_channel(user: Person) -> None:
    dm = user.driver.channels.create_direct_channel([user.id, user.id])
    assert dm["name"] == f"{user.id}__{user.id}" and member_ids(user, dm["id"]) == {user.id}


def test_direct_channel_bad_input(user: Person, other: Person, admin: Person) -> None:
    r = user.http.post("/api/v4/channels/direct", json=[other.id, admin.id])
    assert r.status_code == 403
    for body in ([user.id], [user.id, other.id, admin.id], [user.id, "short"], {"a": 1}, [user.id, 3]):
        assert user.http.post("/api/v4/channels/direct", json=body).status_code == 400, body
    r = user.http.post("/api/v4/channels/direct", json=[user.id, "q" * 26])
    assert r.status_code == 400 and error_id(r) == "api.channel.create_direct_channel.invalid_user.app_error"
    r = user.http.post("/api/v4/channels/direct", content=b"[", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_group_channel(live: LiveServer, user: Person, other: Person, admin: Person, events: list[Event]) -> None:
    third = make_person(live, admin.http)
    gm = user.driver.channels.create_group_channel([other.id, third.id])  # the creator is added
    ids = sorted([user.id, other.id, third.id])
    assert gm["type"] == "G" and gm["team_id"] == ""
    assert gm["name"] == hashlib.sha1("".join(ids).encode()).hexdigest()
    assert gm["display_name"] == ", ".join(sorted([user.username, other.username, third.username]))
    assert member_ids(user, gm["id"]) == set(ids)
    assert other.driver.channels.create_group_channel([third.id, user.id, other.id])["id"] == gm["id"]
    added = [e for e in events if e.kind == "group_added"]
    assert len(added) == 1 and added[0].channel_id == gm["id"]
    assert sorted(json.loads(added[0].data["teammate_ids"])) == ids
    assert user.http.post("/api/v4/channels/group", json=[other.id]).status_code == 400
    nine = [user.id] + [make_person(live, admin.http).id for _ in range(8)]
    r = user.http.post("/api/v4/channels/group", json=nine)
    assert r.status_code == 400 and error_id(r) == "api.channel.create_group.bad_size.app_error"
    r = user.http.post("/api/v4/channels/group", json=[other.id, "w" * 26])
    assert r.status_code == 400
    outsider = make_person(live, admin.http)
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.channels.get_channel(gm["id"])


# --- reads ------------------------------------------------------------------------------------------------


def test_get_channel_visibility(live: LiveServer, user: Person, other: Person, admin: Person,
                                team: dict[str, Any]) -> None:
    public = make_channel(user, team["id"], purpose="public purpose")
    private = make_channel(user, team["id"], "P", purpose="secret purpose")
    assert other.driver.channels.get_channel(public["id"])["purpose"] == "public purpose"
    r = other.http.get(f"/api/v4/channels/{private['id']}")
    assert r.status_code == 403 and "secret" not in r.text and private["name"] not in r.text
    assert admin.driver.channels.get_channel(private["id"])["id"] == private["id"]
    outsider = make_person(live, admin.http)
    for cid in (public["id"], private["id"]):
        r = outsider.http.get(f"/api/v4/channels/{cid}")
        assert r.status_code == 403 and "purpose" not in r.text
    with pytest.raises(ResourceNotFound):
        user.driver.channels.get_channel("k" * 26)
    assert user.http.get("/api/v4/channels/bad-id").status_code == 400


def test_get_channel_by_name(live: LiveServer, user: Person, other: Person, admin: Person,
                             team: dict[str, Any]) -> None:
    public = make_channel(user, team["id"])
    private = make_channel(user, team["id"], "P")
    assert other.driver.channels.get_channel_by_name(team["id"], public["name"])["id"] == public["id"]
    got = other.driver.channels.get_channel_by_name_for_team_name(team["name"], public["name"])
    assert got["id"] == public["id"]
    r = other.http.get(f"/api/v4/teams/{team['id']}/channels/name/{private['name']}")
    assert r.status_code == 404 and private["id"] not in r.text
    assert user.driver.channels.get_channel_by_name(team["id"], private["name"])["id"] == private["id"]
    outsider = make_person(live, admin.http)
    assert outsider.http.get(f"/api/v4/teams/{team['id']}/channels/name/{public['name']}").status_code == 403
    user.driver.channels.delete_channel(public["id"])
    with pytest.raises(ResourceNotFound):
        user.driver.channels.get_channel_by_name(team["id"], public["name"])
    found = user.driver.channels.get_channel_by_name(team["id"], public["name"], include_deleted=True)
    assert found["delete_at"] > 0
    with pytest.raises(ResourceNotFound):
        user.driver.channels.get_channel_by_name_for_team_name(unique("noteam"), "town-square")


def test_public_and_private_lists(live: LiveServer, user: Person, other: Person, admin: Person,
                                  team: dict[str, Any]) -> None:
    public = make_channel(user, team["id"])
    private = make_channel(user, team["id"], "P")
    listed = {c["id"]: c for c in other.driver.channels.get_public_channels_for_team(team["id"])}
    assert public["id"] in listed and private["id"] not in listed
    assert {c["type"] for c in listed.values()} == {"O"} and len(listed) == 3  # + town-square, off-topic
    assert len(other.driver.channels.get_public_channels_for_team(team["id"], page=1, per_page=2)) == 1
    outsider = make_person(live, admin.http)
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.channels.get_public_channels_for_team(team["id"])
    with pytest.raises(NotEnoughPermissions):
        user.driver.channels.get_private_channels_for_team(team["id"])
    assert [c["id"] for c in admin.driver.channels.get_private_channels_for_team(team["id"])] == [private["id"]]
    assert user.http.get(f"/api/v4/teams/{team['id']}/channels", params={"per_page": -1}).status_code == 400


def test_channels_and_members_for_user(live: LiveServer, user: Person, other: Person, admin: Person,
                                       team: dict[str, Any]) -> None:
    private = make_channel(user, team["id"], "P")
    hidden = make_channel(other, team["id"], "P")
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    mine = {c["id"] for c in user.driver.channels.get_channels_for_team_for_user("me", team["id"])}
    assert {private["id"], dm["id"]} <= mine and hidden["id"] not in mine
    members = user.driver.channels.get_channel_members_for_user("me", team["id"])
    assert {m["channel_id"] for m in members} == mine and {m["user_id"] for m in members} == {user.id}
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.get_channels_for_team_for_user(user.id, team["id"])
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.get_channel_members_for_user(user.id, team["id"])
    outsider = make_person(live, admin.http)
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.channels.get_channels_for_team_for_user("me", team["id"])
    user.driver.channels.delete_channel(private["id"])
    assert private["id"] not in {c["id"] for c in user.driver.channels.get_channels_for_team_for_user("me",
                                                                                                     team["id"])}
    everywhere = user.driver.channels.get_channels_for_user("me", include_deleted=True)
    assert {private["id"], dm["id"]} <= {c["id"] for c in everywhere}


# --- patch, update, archive, restore ------------------------------------------------------------------------


def test_patch_channel(user: Person, other: Person, team: dict[str, Any], events: list[Event]) -> None:
    ch = make_channel(user, team["id"])
    patched = user.driver.channels.patch_channel(ch["id"], display_name="New name", header="# hi", purpose="p")
    assert (patched["display_name"], patched["header"], patched["purpose"]) == ("New name", "# hi", "p")
    assert patched["update_at"] >= ch["update_at"]
    updated = [e for e in events if e.kind == "channel_updated"]
    assert len(updated) == 1 and updated[0].channel_id == ch["id"] and updated[0].team_id == team["id"]
    assert json.loads(updated[0].data["channel"])["display_name"] == "New name"
    with pytest.raises(NotEnoughPermissions):  # team member, not in the channel: no properties permission
        other.driver.channels.patch_channel(ch["id"], header="vandal")
    taken = make_channel(user, team["id"])
    r = user.http.put(f"/api/v4/channels/{ch['id']}/patch", json={"name": taken["name"]})
    assert r.status_code == 400 and error_id(r) == "store.sql_channel.save_channel.exists.app_error"
    for body in ({"header": "h" * 1025}, {"display_name": ""}, {"name": "Bad Name"}, {"purpose": 3}):
        assert user.http.put(f"/api/v4/channels/{ch['id']}/patch", json=body).status_code == 400, body
    assert user.http.put(f"/api/v4/channels/{ch['id']}/patch", content=b"{",
                         headers={"Content-Type": "application/json"}).status_code == 400
    now = user.driver.channels.get_channel(ch["id"])
    assert (now["header"], now["display_name"], now["name"]) == ("# hi", "New name", ch["name"])
    renamed = user.driver.channels.patch_channel(ch["id"], name=unique("renamed"))
    assert user.driver.channels.get_channel_by_name(team["id"], renamed["name"])["id"] == ch["id"]


def test_patch_special_channels(user: Person, other: Person, team: dict[str, Any]) -> None:
    town = user.driver.channels.get_channel_by_name(team["id"], "town-square")
    r = user.http.put(f"/api/v4/channels/{town['id']}/patch", json={"name": unique("x")})
    assert r.status_code == 400
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    assert user.driver.channels.patch_channel(dm["id"], header="dm header")["header"] == "dm header"
    r = user.http.put(f"/api/v4/channels/{dm['id']}/patch", json={"display_name": "renamed"})
    assert r.status_code == 400


def test_update_channel(user: Person, team: dict[str, Any]) -> None:
    ch = make_channel(user, team["id"])
    r = user.http.put(f"/api/v4/channels/{ch['id']}", json={"id": "y" * 26, "display_name": "x"})
    assert r.status_code == 400
    updated = user.driver.channels.update_channel(ch["id"], id=ch["id"], display_name="Updated", purpose="new")
    assert (updated["display_name"], updated["purpose"], updated["name"]) == ("Updated", "new", ch["name"])


def test_archive_and_restore(user: Person, other: Person, admin: Person, team: dict[str, Any],
                             events: list[Event]) -> None:
    ch = make_channel(other, team["id"])
    not_theirs = make_channel(user, team["id"], "P")
    with pytest.raises(NotEnoughPermissions):  # a team member outside the channel may not archive it
        other.driver.channels.delete_channel(not_theirs["id"])
    assert user.driver.channels.get_channel(not_theirs["id"])["delete_at"] == 0
    assert other.driver.channels.delete_channel(ch["id"]) == {"status": "OK"}
    archived = other.driver.channels.get_channel(ch["id"])
    assert archived["delete_at"] > 0
    deleted = [e for e in events if e.kind == "channel_deleted"]
    assert deleted[-1].data == {"channel_id": ch["id"], "delete_at": archived["delete_at"]}
    assert deleted[-1].team_id == team["id"]
    assert other.id in member_ids(other, ch["id"])  # reads still work
    r = user.http.post(f"/api/v4/channels/{ch['id']}/members", json={"user_id": user.id})
    assert r.status_code == 400 and error_id(r) == "api.channel.add_user_to_channel.deleted.app_error"
    r = other.http.delete(f"/api/v4/channels/{ch['id']}/members/{other.id}")
    assert r.status_code == 400 and ".deleted." in error_id(r)
    assert other.http.put(f"/api/v4/channels/{ch['id']}/patch", json={"header": "x"}).status_code == 400
    assert other.http.delete(f"/api/v4/channels/{ch['id']}").status_code == 400
    assert other.http.put(f"/api/v4/channels/{ch['id']}/members/{other.id}/roles",
                          json={"roles": "channel_user"}).status_code == 400
    assert member_ids(other, ch["id"]) == {other.id}
    with pytest.raises(NotEnoughPermissions):
        other.driver.channels.restore_channel(ch["id"])
    restored = user.driver.channels.restore_channel(ch["id"])  # team admin
    assert restored["delete_at"] == 0
    assert any(e.kind == "channel_restored" and e.data == {"channel_id": ch["id"]} for e in events)
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.channels.restore_channel(ch["id"])


def test_cannot_delete_default_or_direct(user: Person, other: Person, team: dict[str, Any]) -> None:
    town = user.driver.channels.get_channel_by_name(team["id"], "town-square")
    assert user.http.delete(f"/api/v4/channels/{town['id']}").status_code == 400
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    assert user.http.delete(f"/api/v4/channels/{dm['id']}").status_code == 400
    assert user.driver.channels.get_channel(dm["id"])["delete_at"] == 0
    assert user.driver.channels.get_channel(town["id"])["delete_at"] == 0


def test_concurrent_creates_never_500(live: LiveServer, user: Person, other: Person, team: dict[str, Any]) -> None:
    """Racing creates of one DM all get the same channel; racing creates of one name get one 201, the rest 400."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        dms = list(pool.map(lambda _: user.http.post("/api/v4/channels/direct", json=[user.id, other.id]),
                            range(8)))
    assert {r.status_code for r in dms} == {201} and len({r.json()["id"] for r in dms}) == 1
    name = unique("race")
    body = {"team_id": team["id"], "name": name, "display_name": "Race", "type": "O"}
    with ThreadPoolExecutor(8) as pool:
        creates = list(pool.map(lambda _: user.http.post("/api/v4/channels", json=body), range(8)))
    assert sorted(r.status_code for r in creates) == [201] + [400] * 7
    assert {error_id(r) for r in creates if r.status_code == 400} == {"store.sql_channel.save_channel.exists.app_error"}
