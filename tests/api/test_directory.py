"""Startup reads of Mattermost's apps: webapp plugins, server limits, known users, team stats."""

from __future__ import annotations

from tests.realtime.wsclient import make_channel, make_team
from tests.testlib.clients import Person, make_person
from tests.testlib.live import LiveServer


def test_no_webapp_plugins(user: Person) -> None:
    r = user.http.get("/api/v4/plugins/webapp")
    assert r.status_code == 200 and r.json() == []


def test_server_limits_count_active_people_for_admins_only(live: LiveServer, admin: Person, user: Person) -> None:
    first = admin.http.get("/api/v4/limits/server").json()
    assert first["maxUsersLimit"] == 0 and first["activeUserCount"] >= 2
    newcomer = make_person(live, admin.http)
    assert admin.http.get("/api/v4/limits/server").json()["activeUserCount"] >= first["activeUserCount"] + 1
    admin.http.put(f"/api/v4/users/{newcomer.id}/active", json={"active": False})
    plain = user.http.get("/api/v4/limits/server")
    assert plain.status_code == 200 and plain.json()["activeUserCount"] == 0


def test_known_users_are_those_sharing_a_channel(live: LiveServer, admin: Person, user: Person,
                                                 other: Person) -> None:
    stranger = make_person(live, admin.http)
    make_team(stranger)
    assert other.id not in user.http.get("/api/v4/users/known").json()
    team = make_team(user)
    make_channel(user, team["id"])
    assert other.id not in user.http.get("/api/v4/users/known").json()
    user.driver.teams.add_team_member(team["id"], user_id=other.id)  # joins town-square too
    known = user.http.get("/api/v4/users/known").json()
    assert other.id in known and user.id not in known and stranger.id not in known
    assert user.id in other.http.get("/api/v4/users/known").json()


def test_team_stats(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    team = make_team(user, other)
    got = user.http.get(f"/api/v4/teams/{team['id']}/stats").json()
    assert got == {"team_id": team["id"], "total_member_count": 2, "active_member_count": 2}
    admin.http.put(f"/api/v4/users/{other.id}/active", json={"active": False})
    got = user.http.get(f"/api/v4/teams/{team['id']}/stats").json()
    assert got["total_member_count"] == 2 and got["active_member_count"] == 1  # as Mattermost counts them
    private = make_team(admin, type_="I")
    r = user.http.get(f"/api/v4/teams/{private['id']}/stats")
    assert r.status_code == 403 and r.json()["id"] == "api.context.permissions.app_error"
    r = user.http.get("/api/v4/teams/not-an-id/stats")
    assert r.status_code == 400 and "request_id" in r.json()
