"""Who may change what, across a mesh of three real ``isthmus serve`` processes (issue 13, defects 2, 3, 4).

alpha, beta and gamma are all connected to each other. Channel X is homed on alpha and shared with beta, so
alpha knows beta's bob directly. Channel Y is homed on gamma and shared with alpha and beta.

* defect 2: bob's posts in Y reach alpha through gamma (alpha used to refuse them: "not owned by the sender");
* defect 3: gamma's admin removes bob's reaction in Y and it disappears on beta (bob's server) too;
* defect 4: beta's admin cannot rewrite or delete alpha's ann's post (403 naming alpha); alpha keeps it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, connect, wait_for
from tests.testlib.clients import PASSWORD, unique

pytestmark = pytest.mark.loopback

ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "ISTHMUS_SYNC_BACKOFF_BASE_MS": "50", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "500",
       "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "0.5"}


def _connect(inviter: Admin, inviter_name: str, acceptor: Admin, acceptor_name: str) -> str:
    return connect(inviter, acceptor, acceptor_name, inviter_name)


def _channel(admin: Admin) -> str:
    r = admin.http.post("/api/v4/channels", json={"team_id": admin.team_id, "name": unique("ch"),
                                                  "display_name": "Shared", "type": "O"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _share(home: Admin, channel_id: str, *remotes: tuple[Admin, str]) -> None:
    for node, remote_id in remotes:
        r = home.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite")
        assert r.status_code == 200, r.text
        wait_for(lambda n=node: n.http.get(f"/api/v4/channels/{channel_id}").status_code == 200)  # type: ignore[misc]


class Person:
    def __init__(self, admin: Admin, *channel_ids: str) -> None:
        self.username = unique("u")
        r = admin.http.post("/api/v4/users", json={"username": self.username, "password": PASSWORD,
                                                   "email": f"{self.username}@example.com"})
        assert r.status_code == 201, r.text
        self.id = r.json()["id"]
        r = admin.http.post(f"/api/v4/teams/{admin.team_id}/members", json={"team_id": admin.team_id,
                                                                             "user_id": self.id})
        assert r.status_code == 201, r.text
        for channel_id in channel_ids:
            self.join(admin, channel_id)
        r = httpx.post(f"{admin.srv.url}/api/v4/users/login", json={"login_id": self.username, "password": PASSWORD})
        self.http = admin.srv.client(r.headers["Token"])

    def join(self, admin: Admin, channel_id: str) -> None:
        r = admin.http.post(f"/api/v4/channels/{channel_id}/members", json={"user_id": self.id})
        assert r.status_code == 201, r.text

    def post(self, channel_id: str, message: str, **extra: Any) -> str:
        r = self.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message, **extra})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _posts(admin: Admin, channel_id: str) -> dict[str, Any]:
    r = admin.http.get(f"/api/v4/channels/{channel_id}/posts", params={"per_page": 200})
    assert r.status_code == 200, r.text
    posts: dict[str, Any] = r.json()["posts"]
    return posts


def _reactions(admin: Admin, post_id: str) -> list[tuple[str, str]]:
    r = admin.http.get(f"/api/v4/posts/{post_id}/reactions")
    assert r.status_code == 200, r.text
    return [(x["user_id"], x["emoji_name"]) for x in r.json() or []]


def _verified(home: Admin, channel_id: str) -> bool:
    r = home.http.get(f"/api/v4/sharedchannels/{channel_id}/verify")
    return r.status_code == 200 and all(x["status"] == "ok" for x in r.json()["remotes"])


def test_mesh_relay_reaction_removal_and_foreign_edits(spawn: SpawnServer) -> None:
    alpha, beta, gamma = (Admin(spawn(name, env=ENV).start()) for name in ("alpha", "beta", "gamma"))
    ab = _connect(alpha, "alpha", beta, "beta")
    ag = _connect(alpha, "alpha", gamma, "gamma")
    bg = _connect(beta, "beta", gamma, "gamma")

    x = _channel(alpha)
    _share(alpha, x, (beta, ab))
    bob = Person(beta, x)
    in_x = bob.post(x, "bob in X")
    wait_for(lambda: in_x in _posts(alpha, x))  # alpha now knows bob as beta's own user

    y = _channel(gamma)
    _share(gamma, y, (alpha, ag), (beta, bg))
    bob.join(beta, y)
    cat = Person(gamma, y)
    ann = Person(alpha, y)
    root = cat.post(y, "root from gamma")
    wait_for(lambda: root in _posts(beta, y) and root in _posts(alpha, y))

    # defect 2: gamma (Y's home) relays bob's post and reply to alpha
    mine = bob.post(y, "bob in Y")
    reply = bob.post(y, "bob replies", root_id=root)
    wait_for(lambda: {mine, reply} <= set(_posts(alpha, y)), within=30)

    # defect 3: gamma's admin removes bob's reaction; it goes from beta (bob's server) and alpha too
    r = bob.http.post("/api/v4/reactions", json={"user_id": bob.id, "post_id": root, "emoji_name": "spam"})
    assert r.status_code == 200, r.text
    wait_for(lambda: _reactions(gamma, root) == [(bob.id, "spam")] and _reactions(alpha, root) == [(bob.id, "spam")])
    r = gamma.http.delete(f"/api/v4/users/{bob.id}/posts/{root}/reactions/spam")
    assert r.status_code == 200, r.text
    wait_for(lambda: _reactions(beta, root) == [] and _reactions(alpha, root) == [], within=30)

    # defect 4: beta's admin may neither rewrite nor delete ann's post (alpha's user); a pin is fine
    anns = ann.post(y, "ann's words")
    wait_for(lambda: anns in _posts(beta, y))
    r = beta.http.put(f"/api/v4/posts/{anns}/patch", json={"message": "rewritten on beta"})
    assert r.status_code == 403 and r.json()["id"] == "api.post.update_post.remote_author.app_error", r.text
    assert "alpha" in r.json()["message"]
    r = beta.http.put(f"/api/v4/posts/{anns}/patch", json={"props": {"override_username": "ceo"}})
    assert r.status_code == 403, r.text
    r = beta.http.delete(f"/api/v4/posts/{anns}")
    assert r.status_code == 403 and r.json()["id"] == "api.post.delete_post.remote_author.app_error", r.text
    assert beta.http.post(f"/api/v4/posts/{anns}/pin").status_code == 200
    wait_for(lambda: _posts(alpha, y)[anns]["is_pinned"], within=30)

    # everything converged, seen from Y's home and X's home
    wait_for(lambda: _verified(gamma, y), within=60)
    wait_for(lambda: _verified(alpha, x), within=60)
    for admin in (alpha, beta, gamma):
        post = _posts(admin, y)[anns]
        assert post["message"] == "ann's words" and not post["props"].get("override_username")
