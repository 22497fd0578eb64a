"""Per-connection profile-field policy (issue 15 item 8b): which of email, full name, nickname and position a
server sends to each connection. Email is never sent unless the admin opts in (Mattermost sends it in clear);
the others are sent by default. Edited with PATCH /api/v4/remotecluster/{id} (our extra ``share_*`` fields)."""

from __future__ import annotations

from typing import Any

from isthmus.domain.synced.users import PROP_REMOTE_EMAIL
from isthmus.store.repo import users as users_repo
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import Person, channel, eventually, person, share, share_node, wait_converged


async def _copy(node: Node, user_id: str) -> dict[str, Any] | None:
    async with node.server.db.read() as conn:
        return await users_repo.select_user(conn, user_id)


async def _profile(p: Person, **fields: str) -> None:
    r = await p.http.put(f"/api/v4/users/{p.user_id}/patch", json=fields)
    assert r.status_code == 200, r.text


def _sent_user_frames(cluster: Cluster, host: str, marker: str) -> list[bytes]:
    return [r.content for r in cluster.net.log if r.url.host == host and marker.encode() in r.content]


async def test_email_stays_home_unless_the_admin_opts_in(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    r = await a.http.get(f"/api/v4/remotecluster/{ab}")
    assert {k: r.json()[k] for k in ("share_email", "share_full_name", "share_nickname", "share_position")} == {
        "share_email": False, "share_full_name": True, "share_nickname": True, "share_position": True}
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann = await person(a, channel_id=ch)
    email = f"{ann.username}@{a.host}"  # as tests.testlib.sharing.person made it
    await _profile(ann, first_name="Ann", last_name="Lee", nickname="annie", position="CTO")
    await ann.post(ch, "hello")
    await wait_converged([a, b], ch, min_posts=1)
    copy = await _copy(b, ann.user_id)
    assert copy is not None
    assert (copy["first_name"], copy["last_name"], copy["nickname"], copy["position"]) == ("Ann", "Lee", "annie",
                                                                                          "CTO")
    assert copy["props"][PROP_REMOTE_EMAIL] == ""
    assert _sent_user_frames(cluster, "beta.test", email) == []  # the address never left alpha

    # The admin opts in to email and out of nickname and full name: what is sent from now on follows.
    r = await a.http.patch(f"/api/v4/remotecluster/{ab}", json={"share_email": True, "share_nickname": False,
                                                                 "share_full_name": False})
    assert r.status_code == 200, r.text
    assert (r.json()["share_email"], r.json()["share_nickname"], r.json()["display_name"]) == (True, False, "Beta")
    await _profile(ann, position="CEO")
    await ann.post(ch, "promoted")

    async def updated() -> bool:
        c = await _copy(b, ann.user_id)
        return c is not None and c["position"] == "CEO"
    await eventually(updated)
    copy = await _copy(b, ann.user_id)
    assert copy is not None
    assert copy["props"][PROP_REMOTE_EMAIL] == email
    assert (copy["first_name"], copy["last_name"], copy["nickname"]) == ("", "", "")


async def test_policy_patch_refuses_non_booleans(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    r = await a.http.patch(f"/api/v4/remotecluster/{ab}", json={"share_email": "yes"})
    assert r.status_code == 400 and r.json()["id"] == "api.context.invalid_param.app_error", r.text
    assert r.json()["request_id"]
    r = await a.http.get(f"/api/v4/remotecluster/{ab}")
    assert r.json()["share_email"] is False
