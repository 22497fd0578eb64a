"""Secure connections between complete in-process servers: handshake, status, edit, regenerate, remove,
partitions and 503s (the RoutingTransport), three servers, and the service switch."""

from __future__ import annotations

import httpx

from isthmus.federation.pinger import EVENT_OFFLINE, EVENT_ONLINE
from tests.testlib.cluster import Cluster, eventually


async def test_handshake_binds_tokens_and_both_go_online(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id, code = await cluster.invite(a, "beta")
    pending = await a.row(remote_id)
    assert pending.site_url.startswith("pending_") and not pending.is_confirmed
    invite_token = pending.token

    r = await cluster.accept(b, "alpha", code)
    assert r.status_code == 201, r.text
    assert r.json()["remote_id"] == remote_id and r.json()["site_url"] == "http://alpha.test"
    await eventually(lambda: cluster.both_online(a, b, remote_id))

    ra, rb = await a.row(remote_id), await b.row(remote_id)
    assert (ra.site_url, rb.site_url) == ("http://beta.test", "http://alpha.test")
    assert ra.token == rb.remote_token and rb.token == ra.remote_token  # each presents what the other checks
    assert invite_token not in (ra.token, rb.token, ra.remote_token, rb.remote_token)  # the invite token died
    assert len({ra.token, rb.token}) == 2
    assert ra.last_ping_at > 0 and rb.last_ping_at > 0
    assert EVENT_ONLINE in a.kinds(remote_id) and EVENT_ONLINE in b.kinds(remote_id)

    for node, other in ((a, "beta"), (b, "alpha")):
        got = await node.remote(remote_id)
        assert got["name"] == other and got["token"] == "" and got["remote_token"] == ""
        listed = await node.remotes(only_confirmed=True)
        assert [x["remote_id"] for x in listed] == [remote_id]
        for text in ((await node.http.get("/api/v4/remotecluster")).text,
                     (await node.http.get(f"/api/v4/remotecluster/{remote_id}")).text):
            for secret in (ra.token, rb.token, invite_token):
                assert secret not in text


async def test_remove_soft_deletes_and_the_other_side_goes_offline(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    b_token = (await b.row(remote_id)).remote_token

    r = await a.http.delete(f"/api/v4/remotecluster/{remote_id}")
    assert (r.status_code, r.json()) == (200, {"status": "OK"})
    assert (await a.remote(remote_id))["delete_at"] > 0  # GET one includes deleted
    assert await a.remotes() == []
    assert [x["remote_id"] for x in await a.remotes(include_deleted=True)] == [remote_id]
    assert "remote_cluster_deleted" in a.kinds(remote_id)

    # beta still pings alpha with the token of a deleted connection: refused, so beta goes offline.
    r = await a.http.post("/api/v4/remotecluster/ping", content=b"{}",
                          headers={"X-RemoteCluster-Id": remote_id, "X-RemoteCluster-Token": b_token,
                                   "Authorization": ""})
    assert r.status_code == 401
    await eventually(lambda: _offline(b, remote_id))
    assert b.kinds(remote_id)[-1] == EVENT_OFFLINE
    r = await a.http.delete(f"/api/v4/remotecluster/{remote_id}")
    assert r.status_code == 404


async def _offline(node: object, remote_id: str) -> bool:
    from tests.testlib.cluster import Node

    assert isinstance(node, Node)
    return not await node.is_online(remote_id) and EVENT_OFFLINE in node.kinds(remote_id)


async def test_regenerated_invite_keeps_old_password_working(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id, first_code = await cluster.invite(a, "beta", password="first-password")
    r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={"password": "second-pw"})
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    second_code = r.json()
    assert isinstance(second_code, str) and second_code != first_code
    r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={})
    assert r.status_code == 400

    r = await cluster.accept(b, "alpha", first_code, password="first-password")
    assert r.status_code == 201, r.text
    await eventually(lambda: cluster.both_online(a, b, remote_id))
    r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={"password": "third-pw"})
    assert r.status_code == 400
    assert r.json()["id"] == "api.remote_cluster.generate_invite_cluster_is_confirmed"


async def test_regenerated_code_opens_with_the_new_password(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id, _ = await cluster.invite(a, "beta", password="first-password")
    r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={"password": "second-pw"})
    r = await cluster.accept(b, "alpha", r.json(), password="second-pw")
    assert r.status_code == 201, r.text
    assert r.json()["remote_id"] == remote_id


async def test_edit_display_name_and_default_team(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    r = await a.http.post("/api/v4/teams", json={"name": "otherteam", "display_name": "Other", "type": "O"})
    other_team = r.json()["id"]
    r = await a.http.patch(f"/api/v4/remotecluster/{remote_id}",
                           json={"display_name": "Beta Corp", "default_team_id": other_team})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["display_name"], body["default_team_id"], body["name"]) == ("Beta Corp", other_team, "beta")
    assert body["token"] == "" and body["remote_token"] == ""
    assert (await a.remote(remote_id))["display_name"] == "Beta Corp"
    for bad in ({"default_team_id": "nope"}, {"default_team_id": "a" * 26}, {"display_name": "x" * 65},
                {"display_name": 5}):
        r = await a.http.patch(f"/api/v4/remotecluster/{remote_id}", json=bad)
        assert r.status_code == 400, (bad, r.text)
    assert (await a.remote(remote_id))["default_team_id"] == other_team


async def test_partition_goes_offline_and_heals(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    cluster.net.down.add("beta.test")
    await eventually(lambda: _offline(a, remote_id))
    assert await b.is_online(remote_id)  # alpha → beta is cut; beta → alpha still works
    cluster.net.down.clear()
    await eventually(lambda: a.is_online(remote_id))
    assert a.kinds(remote_id)[-2:] == [EVENT_OFFLINE, EVENT_ONLINE]


async def test_short_outage_still_announces_online_again(cluster: Cluster) -> None:
    """Mattermost #37499: a failure that never crosses the offline threshold still triggers ``online``."""
    a, b = await cluster.add("alpha"), await cluster.add("beta")
    remote_id = await cluster.connect(a, b)
    before = a.kinds(remote_id).count(EVENT_ONLINE)
    cluster.net.fail_next["beta.test"] = 1
    await eventually(lambda: _count(a, remote_id, EVENT_ONLINE, before + 1))
    assert EVENT_OFFLINE not in a.kinds(remote_id)

    a.connections.pinger.mark_send_failed(remote_id)  # what the sync sender calls after a failed send
    await eventually(lambda: _count(a, remote_id, EVENT_ONLINE, before + 2))
    assert EVENT_OFFLINE not in a.kinds(remote_id)


async def _count(node: object, remote_id: str, kind: str, n: int) -> bool:
    from tests.testlib.cluster import Node

    assert isinstance(node, Node)
    return node.kinds(remote_id).count(kind) >= n


async def test_three_servers_are_independent(cluster: Cluster) -> None:
    a, b, c = await cluster.add("alpha"), await cluster.add("beta"), await cluster.add("gamma")
    ab = await cluster.connect(a, b)
    ac = await cluster.connect(a, c)
    bc = await cluster.connect(b, c)
    assert len({ab, ac, bc}) == 3
    assert {x["name"] for x in await a.remotes()} == {"beta", "gamma"}
    assert {x["name"] for x in await c.remotes()} == {"alpha", "beta"}
    r = await c.http.delete(f"/api/v4/remotecluster/{ac}")
    assert r.status_code == 200
    await eventually(lambda: _offline(a, ac))
    assert await a.is_online(ab) and await b.is_online(bc) and await c.is_online(bc)
    assert [x["name"] for x in await a.remotes(exclude_offline=True)] == ["beta"]


async def test_service_switch(cluster: Cluster) -> None:
    a = await cluster.add("alpha", enabled=False)
    assert not a.connections.running
    for method, path in (("GET", "/api/v4/remotecluster"), ("POST", "/api/v4/remotecluster"),
                         ("POST", "/api/v4/remotecluster/ping"), ("POST", "/api/v4/remotecluster/msg"),
                         ("POST", "/api/v4/remotecluster/confirm_invite"),
                         ("POST", "/api/v4/remotecluster/accept_invite")):
        headers = {"X-RemoteCluster-Id": "a" * 26, "X-RemoteCluster-Token": "t"} if "ping" in path or \
            "msg" in path or "confirm" in path else {}
        client = a.http if not headers else httpx.AsyncClient(transport=httpx.ASGITransport(app=a.app),
                                                             base_url=a.url)
        r = await client.request(method, path, json={"name": "x"}, headers=headers)
        assert r.status_code == 501, (path, r.text)
        assert r.json()["id"] == "api.remote_cluster.service_not_enabled.app_error"
    r = await a.http.put("/api/v4/config/patch",
                         json={"ConnectedWorkspacesSettings": {"EnableRemoteClusterService": True}})
    assert r.status_code == 200, r.text
    await eventually(lambda: _running(a, True))
    assert (await a.http.get("/api/v4/remotecluster")).status_code == 200
    r = await a.http.put("/api/v4/config/patch",
                         json={"ConnectedWorkspacesSettings": {"EnableRemoteClusterService": False}})
    await eventually(lambda: _running(a, False))


async def _running(node: object, want: bool) -> bool:
    from tests.testlib.cluster import Node

    assert isinstance(node, Node)
    return bool(node.connections.running) == want


async def test_channel_filters_and_delete_cascade_to_shared_channel_rows(cluster: Cluster) -> None:
    from sqlalchemy import select

    from isthmus.core.ids import new_id
    from isthmus.store.repo import shared as shared_repo
    from isthmus.store.schema.shared import shared_channel_remotes

    a, b, c = await cluster.add("alpha"), await cluster.add("beta"), await cluster.add("gamma")
    ab, ac = await cluster.connect(a, b), await cluster.connect(a, c)
    channel_id, other_channel = new_id(), new_id()
    db = a.server.domain.db
    async with db.write() as conn:  # what the shared-channel layer writes when a channel is shared with beta
        await shared_repo.insert_remote(conn, {"id": new_id(), "channel_id": channel_id, "creator_id": a.admin_id,
                                               "create_at": 1, "update_at": 1, "delete_at": 0, "remote_id": ab})
    assert [x["remote_id"] for x in await a.remotes(in_channel=channel_id)] == [ab]
    assert [x["remote_id"] for x in await a.remotes(not_in_channel=channel_id)] == [ac]
    assert {x["remote_id"] for x in await a.remotes(not_in_channel=other_channel)} == {ab, ac}
    assert await a.remotes(in_channel=other_channel) == []
    r = await a.http.get("/api/v4/remotecluster", params={"in_channel": "bad"})
    assert r.status_code == 400

    r = await a.http.delete(f"/api/v4/remotecluster/{ab}")
    assert r.status_code == 200
    async with db.read() as conn:
        row = (await conn.execute(select(shared_channel_remotes).where(
            shared_channel_remotes.c.remote_id == ab))).mappings().one()
    assert row["delete_at"] > 0 and row["update_at"] == row["delete_at"]
    assert await a.remotes(in_channel=channel_id) == []


async def test_connect_status_and_remove_with_the_slash_command(cluster: Cluster) -> None:
    a, b = await cluster.add("alpha"), await cluster.add("beta")

    async def slash(node: object, args: str) -> str:
        from tests.testlib.cluster import Node

        assert isinstance(node, Node)
        r = await node.http.get(f"/api/v4/teams/{node.team_id}/channels/name/town-square")
        r = await node.http.post("/api/v4/commands/execute", json={"channel_id": r.json()["id"],
                                                                   "command": f"/secure-connection {args}"})
        assert r.status_code == 200, r.text
        text: str = r.json()["text"]
        return text

    out = await slash(a, "create --name beta --password pw")
    code = out.split("```\n")[1].split("\n```")[0]
    assert (await slash(b, f"accept --name alpha --password pw --invite {code}")).endswith("SiteURL: http://alpha.test")
    [remote_id] = [x["remote_id"] for x in await a.remotes()]
    await eventually(lambda: cluster.both_online(a, b, remote_id))
    row = next(line for line in (await slash(a, "status")).splitlines() if remote_id in line)
    assert [c.strip() for c in row.strip("|").split("|")][:7] == ["beta", "beta", remote_id, "http://beta.test", "",
                                                                  "True", "True"]
    assert await slash(b, f"remove --connectionID {remote_id}") == f"##### Secure connection {remote_id} removed."
    await eventually(lambda: _offline(a, remote_id))
    row = next(line for line in (await slash(a, "status")).splitlines() if remote_id in line)
    assert [c.strip() for c in row.strip("|").split("|")][5:7] == ["True", "False"]
