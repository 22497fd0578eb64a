"""A team's invite link (invite_id): what it leads to, joining with it, and signing up with it even when the
server is closed to open sign-up (Mattermost's /teams/invite/{id}, /teams/members/invite, POST /users?iid=)."""

from __future__ import annotations

import httpx

from tests.testlib.clients import PASSWORD, Person, unique
from tests.testlib.live import LiveServer


def invite_team(owner: Person, type_: str = "I") -> dict[str, object]:
    r = owner.http.post("/api/v4/teams", json={"name": unique("t"), "display_name": "Invite Team", "type": type_})
    assert r.status_code == 201, r.text
    team: dict[str, object] = r.json()
    assert team["invite_id"]
    return team


def test_invite_info_needs_no_session_and_names_the_team(live: LiveServer, admin: Person) -> None:
    team = invite_team(admin)
    r = httpx.get(f"{live.url}/api/v4/teams/invite/{team['invite_id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": team["id"], "name": team["name"], "display_name": "Invite Team", "description": "",
                        "type": "I"}
    for bad in ("nope", "a" * 26):
        r = httpx.get(f"{live.url}/api/v4/teams/invite/{bad}")
        assert r.status_code == 400 and r.json()["id"] == "app.team.invite_id.app_error"
        assert "Ask the team's admin for a new one" in r.json()["message"]


def test_join_an_invite_only_team_with_its_link(admin: Person, user: Person) -> None:
    team = invite_team(admin)
    r = user.http.post(f"/api/v4/teams/{team['id']}/members", json={"team_id": team["id"], "user_id": user.id})
    assert r.status_code == 403  # not without the link
    r = user.http.post("/api/v4/teams/members/invite", params={"invite_id": team["invite_id"]})
    assert r.status_code == 201, r.text
    assert r.json()["team_id"] == team["id"] and r.json()["roles"] == "team_user"
    r = user.http.post("/api/v4/teams/members/invite", params={"invite_id": "x"})
    assert r.status_code == 400 and r.json()["id"] == "app.team.invite_id.app_error"


def test_sign_up_with_the_link_on_a_closed_server(live: LiveServer, admin: Person) -> None:
    team = invite_team(admin)
    r = admin.http.put("/api/v4/config/patch", json={"TeamSettings": {"EnableOpenServer": False}})
    assert r.status_code == 200, r.text
    try:
        anon = httpx.Client(base_url=live.url)
        name = unique("su")
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        r = anon.post("/api/v4/users", json=body)
        assert r.status_code == 403 and r.json()["id"] == "api.user.create_user.no_open_server"
        r = anon.post("/api/v4/users", params={"iid": team["invite_id"]}, json=body)
        assert r.status_code == 201, r.text
        r = admin.http.get(f"/api/v4/teams/{team['id']}/members/{r.json()['id']}")
        assert r.status_code == 200 and r.json()["delete_at"] == 0
        r = anon.post("/api/v4/users", params={"iid": "b" * 26},
                      json={**body, "username": unique("su"), "email": f"{unique('su')}@example.com"})
        assert r.status_code == 400 and r.json()["id"] == "app.team.invite_id.app_error"
    finally:
        admin.http.put("/api/v4/config/patch", json={"TeamSettings": {"EnableOpenServer": True}})
