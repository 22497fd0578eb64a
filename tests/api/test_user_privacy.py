"""User listings scoped to a team or channel disclose membership, so they need view_team / read_channel.

Mattermost answers 403 to ``GET /users?in_channel=…``, ``POST /users/search`` and
``GET /users/autocomplete`` when the caller cannot view the team or read the channel; members (and
team members, for public channels) still get their results.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


def _team(p: Person, type_: str) -> dict[str, Any]:
    name = unique("t")
    r = p.http.post("/api/v4/teams", json={"name": name, "display_name": name, "type": type_})
    assert r.status_code == 201, r.text
    team: dict[str, Any] = r.json()
    return team


def _channel(p: Person, team_id: str, type_: str) -> dict[str, Any]:
    name = unique("c")
    r = p.http.post("/api/v4/channels", json={"team_id": team_id, "name": name, "display_name": name,
                                              "type": type_})
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    return channel


@pytest.fixture
def secrets_of(live: LiveServer, admin: Person, other: Person) -> dict[str, Any]:
    """``other`` owns an invite-only team (with a private and a public channel) and an open team whose
    private channel holds a hidden member; ``outsider`` joins only the open team."""
    hidden = make_person(live, admin.http)
    outsider = make_person(live, admin.http)
    closed = _team(other, "I")
    closed_private = _channel(other, closed["id"], "P")
    closed_public = _channel(other, closed["id"], "O")
    open_team = _team(other, "O")
    open_private = _channel(other, open_team["id"], "P")
    for team in (closed, open_team):
        assert other.http.post(f"/api/v4/teams/{team['id']}/members",
                               json={"team_id": team["id"], "user_id": hidden.id}).status_code == 201
    for ch in (closed_private, open_private):
        assert other.http.post(f"/api/v4/channels/{ch['id']}/members", json={"user_id": hidden.id}).status_code == 201
    assert outsider.http.post(f"/api/v4/teams/{open_team['id']}/members",
                              json={"team_id": open_team["id"], "user_id": outsider.id}).status_code == 201
    return {"hidden": hidden, "outsider": outsider, "closed": closed, "closed_private": closed_private,
            "closed_public": closed_public, "open_team": open_team, "open_private": open_private}


def _leaks(s: dict[str, Any], other: Person) -> list[tuple[str, str, dict[str, Any] | None]]:
    closed, cpriv, cpub, opriv = (s["closed"]["id"], s["closed_private"]["id"], s["closed_public"]["id"],
                                  s["open_private"]["id"])
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for ch in (cpriv, cpub, opriv):
        out += [("GET", f"/api/v4/users?in_channel={ch}", None),
                ("GET", f"/api/v4/users?not_in_channel={ch}", None),
                ("GET", f"/api/v4/users?in_channel={ch}&not_in_channel={ch}", None),
                ("POST", "/api/v4/users/search", {"term": "", "in_channel_id": ch}),
                ("POST", "/api/v4/users/search", {"term": "", "not_in_channel_id": ch}),
                ("GET", f"/api/v4/users/autocomplete?name=&channel_id={ch}", None)]
    out += [("GET", f"/api/v4/users?in_team={closed}", None),
            ("GET", f"/api/v4/users?not_in_team={closed}", None),
            ("POST", "/api/v4/users/search", {"term": "", "team_id": closed}),
            ("POST", "/api/v4/users/search", {"term": "", "not_in_team_id": closed}),
            ("GET", f"/api/v4/users/autocomplete?name=&team_id={closed}", None),
            ("GET", f"/api/v4/users/autocomplete?name={other.username[:5]}&team_id={closed}&channel_id={cpub}",
             None)]
    return out


def _request(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    return http.request(method, path, json=body) if body is not None else http.request(method, path)


def test_outsiders_cannot_list_members_of_private_channels_and_closed_teams(
        secrets_of: dict[str, Any], other: Person) -> None:
    outsider: Person = secrets_of["outsider"]
    hidden: Person = secrets_of["hidden"]
    for method, path, body in _leaks(secrets_of, other):
        r = _request(outsider.http, method, path, body)
        assert r.status_code == 403, (method, path, body, r.text[:300])
        assert r.headers["content-type"] == "application/json"
        err = r.json()
        assert err["id"] == "api.context.permissions.app_error" and err["status_code"] == 403
        for secret in (hidden.id, hidden.username, other.id, other.username):
            assert secret not in r.text, (method, path, body)


def test_unknown_scope_ids_are_403_for_users_and_empty_for_admins(user: Person, admin: Person) -> None:
    unknown = "q" * 26
    for path in (f"/api/v4/users?in_channel={unknown}", f"/api/v4/users?in_team={unknown}",
                 f"/api/v4/users/autocomplete?name=&channel_id={unknown}"):
        r = user.http.get(path)
        assert r.status_code == 403, (path, r.text)
    assert admin.http.get(f"/api/v4/users?in_channel={unknown}").json() == []
    assert admin.http.post("/api/v4/users/search", json={"term": "", "team_id": unknown}).json() == []


def test_members_still_list_their_private_channel_and_team(secrets_of: dict[str, Any], other: Person) -> None:
    hidden: Person = secrets_of["hidden"]
    cpriv, opriv, closed = secrets_of["closed_private"]["id"], secrets_of["open_private"]["id"], \
        secrets_of["closed"]["id"]
    for ch in (cpriv, opriv):
        got = hidden.driver.users.get_users(in_channel=ch, per_page=200)
        assert {u["id"] for u in got} == {hidden.id, other.id}
        found = hidden.driver.users.search_users(term=hidden.username, in_channel_id=ch)
        assert [u["id"] for u in found] == [hidden.id]
        ac = hidden.driver.users.autocomplete_users(name=other.username, channel_id=ch)
        assert [u["id"] for u in ac["users"]] == [other.id] and ac["out_of_channel"] == []
    in_team = hidden.driver.users.get_users(in_team=closed, per_page=200)
    assert {u["id"] for u in in_team} == {hidden.id, other.id}
    assert [u["id"] for u in hidden.driver.users.search_users(term=other.username, team_id=closed)] == [other.id]


def test_team_members_may_list_public_channels_they_have_not_joined(
        secrets_of: dict[str, Any], other: Person) -> None:
    """read_public_channel: the open team's members see who is in its public channels."""
    outsider: Person = secrets_of["outsider"]
    public = _channel(other, secrets_of["open_team"]["id"], "O")
    got = outsider.driver.users.get_users(in_channel=public["id"])
    assert [u["id"] for u in got] == [other.id]
    ac = outsider.driver.users.autocomplete_users(name=outsider.username, channel_id=public["id"],
                                                  team_id=secrets_of["open_team"]["id"])
    assert ac["users"] == [] and [u["id"] for u in ac["out_of_channel"]] == [outsider.id]
