"""Global user sync, sending side (issue 15 item 1, §8.3): every local person of a workspace reaches a connected
one in batches of ``GlobalUserSyncBatchSize`` behind a durable cursor, and is found there (user search,
autocomplete, the DM picker) without having posted; with the feature off on the receiver, only once they took part
in a shared channel (the seed)."""

from __future__ import annotations

from typing import Any

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, person, restart, share, share_node
from tests.testlib.sharing import eventually as _eventually


async def eventually(predicate: Any) -> None:
    """Generous: these runs share two CPUs with other test runs; a passing test does not wait longer."""
    await _eventually(predicate, within=45)


GLOBAL = {"MM_FEATUREFLAGS_ENABLESYNCALLUSERSFORREMOTECLUSTER": "true",
          "MM_CONNECTEDWORKSPACESSETTINGS_GLOBALUSERSYNCBATCHSIZE": "3"}


async def _found(node: Node, username: str) -> list[dict[str, Any]]:
    """What the DM picker asks: a user search without a team."""
    r = await node.http.post("/api/v4/users/search", json={"term": username})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return [u for u in found if u["username"].startswith(username + ":")]


async def _autocompleted(node: Node, username: str) -> bool:
    r = await node.http.get("/api/v4/users/autocomplete", params={"name": username})
    assert r.status_code == 200, r.text
    return any(u["username"].startswith(username + ":") for u in r.json()["users"])


async def _progress(node: Node, remote_id: str) -> dict[str, Any]:
    r = await node.http.get(f"/api/v4/remotecluster/{remote_id}/sync_users")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _synthetic_of(node: Node, remote_id: str) -> set[str]:
    """Ids of the users ``node`` holds on behalf of connection ``remote_id``."""
    r = await node.http.get("/api/v4/users", params={"per_page": 200})
    assert r.status_code == 200, r.text
    return {u["id"] for u in r.json() if u.get("remote_id") == remote_id}


async def test_every_local_person_reaches_the_peer_both_ways_in_batches_and_is_found(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha", **GLOBAL), await share_node(cluster, "beta", **GLOBAL)
    alphas = [await person(a) for _ in range(7)]  # more than two batches of 3, before the connection exists
    betas = [await person(b) for _ in range(4)]
    ab = await cluster.connect(a, b)
    for p in alphas:
        await eventually(lambda p=p: _found(b, p.username))
    for p in betas:
        await eventually(lambda p=p: _found(a, p.username))
    assert await _autocompleted(b, alphas[0].username) and await _autocompleted(a, betas[0].username)
    # Nobody went back to where they came from, and no one posted or joined a channel for it.
    got_on_b = await _synthetic_of(b, ab)
    assert {p.user_id for p in alphas} <= got_on_b and not {p.user_id for p in betas} & got_on_b
    assert not {p.user_id for p in alphas} & await _synthetic_of(a, ab)

    async def done() -> bool:
        return (await _progress(a, ab))["pending"] == 0

    await eventually(done)
    r = await a.http.get(f"/api/v4/users/{alphas[-1].user_id}")
    assert (await _progress(a, ab))["last_global_user_sync_at"] >= r.json()["update_at"]

    # A later profile change travels too (a local change makes the sync due again).
    r = await a.http.put(f"/api/v4/users/{alphas[0].user_id}/patch", json={"nickname": "Ally"})
    assert r.status_code == 200, r.text

    async def nickname_on_b() -> bool:
        found = await _found(b, alphas[0].username)
        return bool(found and found[0]["nickname"] == "Ally")

    await eventually(nickname_on_b)


async def test_the_cursor_moves_only_on_success_and_a_crash_resumes(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha", **GLOBAL), await share_node(cluster, "beta", **GLOBAL)
    ab = await cluster.connect(a, b)
    first = await person(a)
    await eventually(lambda: _found(b, first.username))
    cursor = (await _progress(a, ab))["last_global_user_sync_at"]
    assert cursor > 0

    cluster.net.down.add("beta.test")
    later = [await person(a) for _ in range(5)]
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/sync_users")
    assert r.status_code == 200, r.text
    assert r.json()["pending"] == 5
    queue = a.server.shared_channels.outbound.queue(ab)

    async def failed_twice() -> bool:  # the sender tried and failed meanwhile: the cursor stays
        return queue.backoff.failures >= 2

    await eventually(failed_twice)
    assert (await _progress(a, ab))["last_global_user_sync_at"] == cursor
    assert not await _found(b, later[0].username)

    a = await restart(cluster, a)  # a crash: nothing in memory survives, the cursor in the database does
    cluster.net.down.clear()
    for p in later:
        await eventually(lambda p=p: _found(b, p.username))

    async def done() -> bool:
        return (await _progress(a, ab))["pending"] == 0

    await eventually(done)


async def test_through_a_home_users_of_a_third_workspace_are_not_relayed(cluster: Cluster) -> None:
    """alpha–beta–gamma: beta sends its own people both ways, never alpha's to gamma (nor gamma's to alpha):
    each workspace syncs its own users with its direct connections."""
    a = await share_node(cluster, "alpha", **GLOBAL)
    b = await share_node(cluster, "beta", **GLOBAL)
    g = await share_node(cluster, "gamma", **GLOBAL)
    ab, bg = await cluster.connect(b, a), await cluster.connect(b, g)
    pa, pb, pg = await person(a), await person(b), await person(g)
    await eventually(lambda: _found(b, pa.username))
    await eventually(lambda: _found(b, pg.username))
    await eventually(lambda: _found(a, pb.username))
    await eventually(lambda: _found(g, pb.username))

    async def b_done() -> bool:
        return (await _progress(b, ab))["pending"] == 0 and (await _progress(b, bg))["pending"] == 0

    await eventually(b_done)
    assert not await _found(g, pa.username) and not await _found(a, pg.username)


async def test_with_the_feature_off_a_remote_person_is_found_only_after_taking_part(cluster: Cluster) -> None:
    """alpha sends (feature on), beta's feature is off: beta stores alpha's people but lists them only once they
    took part in a shared channel here (the seed)."""
    a = await share_node(cluster, "alpha", **GLOBAL)
    b = await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    carol = await person(a)

    async def sent() -> bool:
        p = await _progress(a, ab)
        return bool(p["pending"] == 0 and p["last_global_user_sync_at"] > 0)

    await eventually(sent)
    assert carol.user_id in await _b_users_by_id(b, carol.user_id)
    assert not await _found(b, carol.username) and not await _autocompleted(b, carol.username)

    ch = await channel(a)
    await share(a, ch, (b, ab))
    r = await a.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": carol.user_id})
    assert r.status_code == 201, r.text
    await carol.post(ch, "hello beta")
    await eventually(lambda: _found(b, carol.username))


async def _b_users_by_id(node: Node, user_id: str) -> set[str]:
    r = await node.http.post("/api/v4/users/ids", json=[user_id])
    assert r.status_code == 200, r.text
    return {u["id"] for u in r.json()}


async def test_on_demand_sync_answers_in_words(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/sync_users")
    assert r.status_code == 400 and "EnableSyncAllUsersForRemoteCluster" in r.json()["message"], r.text
    r = await a.http.post("/api/v4/remotecluster/" + "x" * 26 + "/sync_users")
    assert r.status_code == 404, r.text
    r = await a.http.post("/api/v4/remotecluster/bad/sync_users")
    assert r.status_code == 400 and r.json()["id"], r.text
    nobody = await person(a)
    r = await nobody.http.get(f"/api/v4/remotecluster/{ab}/sync_users")
    assert r.status_code == 403, r.text


async def test_a_batch_with_clashing_names_gets_distinct_usernames(cluster: Cluster) -> None:
    """The receiver reads a batch's users and names in two queries (prefetch), and still keeps names unique
    within the batch: two incoming users with one name (a hostile or renamed peer) get ``x:beta`` and
    ``x-2:beta``, and a known user keeps its name."""
    from isthmus.core.ids import new_id
    from tests.cluster.test_shared_hostile import send

    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    first, second, third = new_id(), new_id(), new_id()

    def user(uid: str, name: str, at: int) -> dict[str, Any]:
        return {"id": uid, "username": name, "email": f"{uid}@beta.example", "update_at": at, "create_at": 1}

    r = await send(b, a, ab, "sharedchannel_global_user_sync", {"id": new_id(), "channel_id": "", "users": {
        first: user(first, "same", 5), second: user(second, "same", 5)}})
    assert r.ok, r.err
    r = await send(b, a, ab, "sharedchannel_global_user_sync", {"id": new_id(), "channel_id": "", "users": {
        first: user(first, "same", 6), third: user(third, "same", 6)}})
    assert r.ok, r.err
    names = {}
    for uid in (first, second, third):
        got = await a.http.get(f"/api/v4/users/{uid}")
        assert got.status_code == 200, got.text
        names[uid] = got.json()["username"]
    assert names[first] == "same:beta" and len(set(names.values())) == 3, names
