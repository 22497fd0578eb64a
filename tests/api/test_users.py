"""Users, login and sessions through mattermostautodriver and raw HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mattermostautodriver.exceptions import (
    InvalidOrMissingParameters,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)

from tests.testlib.clients import PASSWORD, Person, driver, make_person, unique
from tests.testlib.live import LiveServer


def test_first_api_user_is_system_admin(admin: Person) -> None:
    me = admin.driver.users.get_user("me")
    assert "system_admin" in me["roles"].split()
    assert me.get("password", "") == ""


def test_later_users_are_plain_users(user: Person) -> None:
    me = user.driver.users.get_user("me")
    assert me["roles"] == "system_user"
    assert me["id"] == user.id


def test_login_returns_token_header_and_user(live: LiveServer, user: Person) -> None:
    r = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": user.username, "password": PASSWORD})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert len(r.headers["Token"]) == 26
    assert r.json()["username"] == user.username
    assert "MMAUTHTOKEN" in r.cookies


def test_bad_password_is_rejected(live: LiveServer, user: Person) -> None:
    with pytest.raises(NoAccessTokenProvided):
        driver(live, user.username, "wrong-password")


def test_logout_kills_token(live: LiveServer, user: Person) -> None:
    d = driver(live, user.username)
    token = d.client.token
    d.users.logout()
    r = httpx.get(f"{live.url}/api/v4/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    body = r.json()
    assert body["id"] == "api.context.session_expired.app_error"
    assert body["request_id"]


def test_get_by_ids_and_usernames(user: Person, other: Person) -> None:
    got = user.driver.users.get_users_by_ids([user.id, other.id])
    assert {u["id"] for u in got} == {user.id, other.id}
    got = user.driver.users.get_users_by_usernames([other.username])
    assert [u["id"] for u in got] == [other.id]
    assert user.driver.users.get_user_by_username(other.username)["id"] == other.id


def test_search_finds_by_prefix(user: Person, other: Person) -> None:
    found = user.driver.users.search_users(term=other.username[:6])
    assert other.id in {u["id"] for u in found}


def test_patch_own_profile_but_not_others(user: Person, other: Person) -> None:
    patched = user.driver.users.patch_user("me", nickname="nick", first_name="Ann")
    assert patched["nickname"] == "nick"
    with pytest.raises(NotEnoughPermissions):
        user.driver.users.patch_user(other.id, nickname="hacked")
    assert other.driver.users.get_user("me")["nickname"] == ""


def test_duplicate_username_is_400(live: LiveServer, user: Person) -> None:
    r = httpx.post(f"{live.url}/api/v4/users", json={"username": user.username, "email": "x@y.zz",
                                                     "password": PASSWORD})
    assert r.status_code == 400
    assert r.json()["id"] == "app.user.save.username_exists.app_error"


def test_deactivate_blocks_login_and_revokes_sessions(live: LiveServer, admin: Person) -> None:
    victim = make_person(live, admin.http)
    admin.driver.users.update_user_active(victim.id, active=False)
    assert victim.http.get("/api/v4/users/me").status_code == 401
    with pytest.raises(NoAccessTokenProvided):
        driver(live, victim.username)
    admin.driver.users.update_user_active(victim.id, active=True)
    driver(live, victim.username)


def test_roles_update_needs_manage_roles(user: Person, other: Person, admin: Person) -> None:
    with pytest.raises(NotEnoughPermissions):
        user.driver.users.update_user_roles(other.id, roles="system_user system_admin")
    admin.driver.users.update_user_roles(other.id, roles="system_user system_admin")
    assert "system_admin" in other.driver.users.get_user("me")["roles"]


def test_sessions_list_and_revoke(live: LiveServer, user: Person) -> None:
    r = httpx.post(f"{live.url}/api/v4/users/login",
                   json={"login_id": user.username, "password": PASSWORD, "device_id": "second-device"})
    second_token = r.headers["Token"]
    sessions = user.driver.users.get_sessions("me")
    assert len(sessions) >= 2
    assert all(s["token"] == "" for s in sessions)
    target = next(s for s in sessions if s["device_id"] == "second-device")
    user.driver.users.revoke_session("me", session_id=target["id"])
    gone = httpx.get(f"{live.url}/api/v4/users/me", headers={"Authorization": f"Bearer {second_token}"})
    assert gone.status_code == 401
    assert user.driver.users.get_user("me")["id"] == user.id


def test_unknown_user_404(user: Person) -> None:
    with pytest.raises(ResourceNotFound):
        user.driver.users.get_user("a" * 26)


def test_invalid_user_id_400(user: Person) -> None:
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.users.get_user("not-an-id")


def test_personal_access_token_authenticates(live: LiveServer, admin: Person) -> None:
    bot = make_person(live, admin.http, username=unique("bot"))
    tok = admin.driver.users.create_user_access_token(bot.id, description="ci")
    assert tok["user_id"] == bot.id
    via_pat = driver(live, token=tok["token"])
    assert via_pat.users.get_user("me")["id"] == bot.id


def test_create_user_through_driver_then_log_in(live: LiveServer, admin: Person) -> None:
    name = unique("drv")
    created = admin.driver.users.create_user(email=f"{name}@example.com", username=name, password=PASSWORD,
                                             first_name="Dee", last_name="River")
    assert created["username"] == name and created["roles"] == "system_user"
    assert created.get("password", "") == ""
    me = driver(live, name).users.get_user("me")
    assert (me["id"], me["email"], me["first_name"], me["last_name"]) == (created["id"], f"{name}@example.com",
                                                                          "Dee", "River")


def test_ping_through_driver(user: Person) -> None:
    assert user.driver.system.get_ping()["status"] == "OK"
    full = user.driver.system.get_ping(get_server_status=True)
    assert (full["status"], full["database_status"], full["filestore_status"]) == ("OK", "OK", "OK")


@pytest.fixture
def roster(live: LiveServer, admin: Person, user: Person) -> dict[str, Any]:
    """``user`` owns an open team with three more members; its channel holds ``user`` and the first."""
    extra = [make_person(live, admin.http) for _ in range(3)]
    team = user.driver.teams.create_team(name=unique("t"), display_name="Roster", type="O")
    for p in extra:
        user.driver.teams.add_team_member(team["id"], user_id=p.id)
    channel = user.driver.channels.create_channel(team_id=team["id"], name=unique("c"), display_name="R",
                                                  type="O")
    user.driver.channels.add_channel_member(channel["id"], user_id=extra[0].id)
    by_name = sorted([user, *extra], key=lambda p: p.username)
    return {"team": team["id"], "channel": channel["id"], "sorted": [p.id for p in by_name],
            "inside": sorted([user, extra[0]], key=lambda p: p.username),
            "outside": sorted(extra[1:], key=lambda p: p.username)}


def ids(users: list[dict[str, Any]]) -> list[str]:
    return [u["id"] for u in users]


def test_get_users_filters_and_paging(user: Person, roster: dict[str, Any]) -> None:
    team, channel = roster["team"], roster["channel"]
    assert ids(user.driver.users.get_users(in_team=team)) == roster["sorted"]
    assert ids(user.driver.users.get_users(in_channel=channel)) == [p.id for p in roster["inside"]]
    assert ids(user.driver.users.get_users(in_team=team, not_in_channel=channel)) == \
        [p.id for p in roster["outside"]]
    pages = [ids(user.driver.users.get_users(in_team=team, page=n, per_page=2)) for n in range(3)]
    assert pages == [roster["sorted"][:2], roster["sorted"][2:], []]


def test_autocomplete_users_in_and_out_of_channel(user: Person, roster: dict[str, Any]) -> None:
    got = user.driver.users.autocomplete_users(name="", team_id=roster["team"], channel_id=roster["channel"])
    assert [u["id"] for u in got["users"]] == [p.id for p in roster["inside"]]
    assert [u["id"] for u in got["out_of_channel"]] == [p.id for p in roster["outside"]]
    first_out = roster["outside"][0]
    got = user.driver.users.autocomplete_users(name=first_out.username, team_id=roster["team"],
                                               channel_id=roster["channel"])
    assert got["users"] == [] and [u["id"] for u in got["out_of_channel"]] == [first_out.id]
    team_only = user.driver.users.autocomplete_users(name=f"@{first_out.username}", team_id=roster["team"])
    assert [u["id"] for u in team_only["users"]] == [first_out.id] and "out_of_channel" not in team_only


def test_permission_errors_name_the_caller(user: Person, other: Person) -> None:
    r = user.http.put(f"/api/v4/users/{other.id}/patch", json={"nickname": "x"})
    assert r.status_code == 403
    body = r.json()
    assert body["id"] == "api.context.permissions.app_error"
    assert body["detailed_error"] == f"userId={user.id}, permission=edit_other_users"
    r = user.http.put(f"/api/v4/users/{other.id}/roles", json={"roles": "system_user"})
    assert r.json()["detailed_error"] == f"userId={user.id}, permission=manage_roles"


def test_oversized_props_are_refused_and_change_nothing(user: Person) -> None:
    user.http.put("/api/v4/users/me/patch", json={"props": {"k": "small"}}).raise_for_status()
    for key in ("props", "notify_props", "timezone"):
        r = user.http.put("/api/v4/users/me/patch", json={key: {"big": "x" * 70_000}, "nickname": "changed"})
        assert r.status_code == 400 and r.json()["id"] == f"model.user.is_valid.{key}.app_error", r.text
    me = user.http.get("/api/v4/users/me").json()
    assert me["props"] == {"k": "small"} and me["nickname"] != "changed"
    # Just under the cap is fine.
    r = user.http.put("/api/v4/users/me/patch", json={"props": {"big": "x" * 60_000}})
    assert r.status_code == 200 and len(r.json()["props"]["big"]) == 60_000
