"""The "shared channel manager" role (issue 15 item 7a): a channel admin holding it shares the channels they
administer with the workspaces they choose, without being a system admin; without the role, or on a channel
they do not administer, they are refused; they see the connections but cannot make or change them."""

from __future__ import annotations

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import eventually, has_channel, person, share_node


async def test_channel_admin_with_the_role_shares_their_channel(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    carl, dave = await person(a), await person(a)
    r = await carl.http.post("/api/v4/channels", json={"team_id": a.team_id, "name": "carls-room",
                                                       "display_name": "Carl's room", "type": "O"})
    assert r.status_code == 201, r.text
    ch = r.json()["id"]
    r = await dave.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": dave.user_id})
    assert r.status_code == 201, r.text

    # A channel admin without the role: refused, and the connections are not listed to them.
    r = await carl.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/invite")
    assert (r.status_code, r.json()["id"]) == (403, "api.context.permissions.app_error"), r.text
    assert (await carl.http.get("/api/v4/remotecluster")).status_code == 403

    for p in (carl, dave):
        r = await a.http.put(f"/api/v4/users/{p.user_id}/roles", json={"roles": "system_user shared_channel_manager"})
        assert r.status_code == 200, r.text
    r = await a.http.get("/api/v4/roles/name/shared_channel_manager")
    assert r.status_code == 200 and r.json()["permissions"] == ["manage_shared_channels"], r.text

    # The role, but not an admin of this channel: refused.
    r = await dave.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/invite")
    assert r.status_code == 403, r.text
    # The role and the channel's admin: sees the connections (no secrets) and shares.
    r = await carl.http.get("/api/v4/remotecluster")
    assert r.status_code == 200 and [rc["display_name"] for rc in r.json()] == ["Beta"]
    assert r.json()[0]["token"] == "" and r.json()[0]["remote_token"] == ""
    r = await carl.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/invite")
    assert r.status_code == 200, r.text
    await eventually(lambda: has_channel(b, ch))
    r = await carl.http.get(f"/api/v4/sharedchannels/{ch}/remotes")
    assert r.status_code == 200 and [s["display_name"] for s in r.json()] == ["Beta"], r.text
    # ... but cannot create or change connections.
    r = await carl.http.post("/api/v4/remotecluster", json={"name": "gamma", "display_name": "Gamma",
                                                            "default_team_id": a.team_id, "password": "pw-12345"})
    assert r.status_code == 403, r.text
    r = await carl.http.patch(f"/api/v4/remotecluster/{ab}", json={"display_name": "Mine"})
    assert r.status_code == 403, r.text
    r = await carl.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert r.status_code == 200, r.text


async def test_unknown_role_names_are_refused(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha")
    carl = await person(a)
    r = await a.http.put(f"/api/v4/users/{carl.user_id}/roles", json={"roles": "system_user channel_wizard"})
    assert r.status_code == 400 and r.json()["id"] == "api.context.invalid_body_param.app_error", r.text
